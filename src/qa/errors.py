"""Errors a user can act on; front ends print them as one line."""

from __future__ import annotations

from pathlib import Path


class QAError(Exception):
    """A failure to report in one line, without a traceback (exit code 1)."""

    exit_code = 1


class UsageError(QAError):
    """Bad input from the user: a flag, a question, a setting (exit code 2)."""

    exit_code = 2


class NoDocumentsError(UsageError):
    """The documents folder is missing or holds no readable document."""


class CorruptIndexError(QAError):
    """The index is missing, corrupt or was written by something else.

    Attributes:
        detail: What is wrong, without the folder ("chunk_vectors.npy is not a valid array file"),
            for messages that name the folder themselves or none.
    """

    def __init__(self, folder: Path, detail: str) -> None:
        super().__init__(f"index at {folder} is corrupt: {detail}")
        self.detail = detail
