"""Find and read the documents under the docs folder.

Only ``.txt`` and ``.md`` files are read; everything else is skipped with a warning naming it.
A file that is not valid UTF-8, holds NUL bytes (binary), cannot be read, or is a link to
nothing is skipped with a warning and the build goes on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from qa.errors import NoDocumentsError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    """One source file.

    Attributes:
        path: Path relative to the docs folder, with forward slashes (``"sub/notes.md"``).
        text: The file's text exactly as decoded (a leading BOM removed, newlines kept as they are).
        sha256: Hash of the file's bytes, to detect edits.
    """

    path: str
    text: str
    sha256: str

    @property
    def is_markdown(self) -> bool:
        return self.path.lower().endswith(".md")


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why."""

    path: str
    reason: str


def file_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str | None, str]:
    """A file's text, or None and why it is no document ("binary (it holds NUL bytes)", "empty")."""
    if b"\x00" in data:  # valid UTF-8 perhaps, but no text: a binary file named .txt
        return None, "binary (it holds NUL bytes)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte {exc.start})"
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return None, "empty"
    return text, ""


def scan(docs_dir: Path) -> tuple[list[Document], list[SkippedFile]]:
    """Read every supported document under ``docs_dir``, recursively, in a stable order.

    Hidden files and folders (names starting with ``.``) are ignored silently.

    Args:
        docs_dir: The documents folder.

    Returns:
        The readable documents, and the files that were skipped with the reason.

    Raises:
        NoDocumentsError: When the folder does not exist or holds no readable document.
    """
    if not docs_dir.is_dir():
        what = "is a file, not a folder" if docs_dir.exists() else "not found"
        raise NoDocumentsError(f"documents folder {what}: {docs_dir}")
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for file in sorted(docs_dir.rglob("*")):
        rel = file.relative_to(docs_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        rel_posix = rel.as_posix()
        if file.is_symlink() and not file.exists():
            skipped.append(SkippedFile(rel_posix, "a link to nothing"))
            continue
        if not file.is_file():
            continue
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(SkippedFile(rel_posix, "not a .txt or .md file"))
            continue
        try:
            data = file.read_bytes()
        except OSError as exc:
            skipped.append(SkippedFile(rel_posix, f"unreadable ({exc.strerror or exc.__class__.__name__})"))
            continue
        text, reason = decode(data)
        if text is None:
            skipped.append(SkippedFile(rel_posix, reason))
            continue
        documents.append(Document(rel_posix, text, file_hash(data)))
    for item in skipped:
        logger.warning("skipped %s: %s", item.path, item.reason)
    if not documents:
        raise NoDocumentsError(f"no .txt or .md documents to index in {docs_dir}")
    return documents, skipped
