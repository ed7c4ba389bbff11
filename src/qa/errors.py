"""Errors a user can act on; front ends print them as one line."""

from __future__ import annotations


class QAError(Exception):
    """A failure to report in one line, without a traceback (exit code 1)."""

    exit_code = 1


class UsageError(QAError):
    """Bad input from the user: a flag, a question, a setting (exit code 2)."""

    exit_code = 2


class NoDocumentsError(UsageError):
    """The documents folder is missing or holds no readable document."""


class CorruptIndexError(QAError):
    """The index is missing, corrupt or was written by something else."""
