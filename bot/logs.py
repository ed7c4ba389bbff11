"""Logging for the bot process: one format, quiet libraries, secrets redacted from every line.

The token is never passed to a logger by this package; the redacting formatter is a second line of
defence for text we do not control (library messages, exception reprs, tracebacks).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret, wherever it appears in the formatted record."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(level: str, secrets: Iterable[str] = ()) -> logging.Handler:
    """Send log records to stderr through a :class:`RedactingFormatter`.

    Library loggers stay at WARNING unless ``level`` is DEBUG, so a failed start prints only the
    bot's own one-line error.

    Returns:
        The handler installed on the root logger.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in ("discord", "aiohttp", "faiss", "sentence_transformers", "transformers", "bm25s", "qa"):
        logging.getLogger(name).setLevel(quiet)
    return handler
