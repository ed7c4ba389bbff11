"""👍 / 👎 feedback, one JSON object per line.

User ids are never written: only a keyed hash (HMAC-SHA-256), so lines from one person can be
grouped without the file revealing who they are. Discord ids are public, so a plain hash could be
reversed by hashing every id; the key prevents that. It comes from ``QA_BOT_FEEDBACK_SALT`` or, if
unset, from a random key created once next to the feedback file (``<file>.key``, mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class FeedbackEntry:
    """One vote on one answer."""

    vote: str  # "up" or "down"
    user: str  # keyed hash of the user id
    question: str
    answer: str
    answered: bool
    citations: list[dict]
    message_id: int | None = None
    channel_id: int | None = None
    guild_id: int | None = None
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class FeedbackLog:
    """Appends :class:`FeedbackEntry` lines to a file; safe to call from several threads.

    Args:
        path: The JSON-lines file (created with its folder on first write).
        key: Key of the user-id hash; ``None`` reads or creates ``<path>.key``.
    """

    def __init__(self, path: Path, key: str | None = None) -> None:
        self.path = Path(path)
        self._key = key.encode() if key else None
        self._lock = threading.Lock()
        self._key_lock = threading.Lock()  # two first votes at once must not both create the key
        #: (message id, user hash) of every vote in the file, read on the first vote after a start.
        self._recorded: set[tuple[int, str]] | None = None

    def _hash_key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                key_file = self.path.with_name(self.path.name + ".key")
                key_file.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    self._key = key_file.read_bytes().strip()
                else:
                    self._key = secrets.token_hex(32).encode()
                    with os.fdopen(fd, "wb") as f:
                        f.write(self._key)
            return self._key

    def user_hash(self, user_id: int) -> str:
        """The keyed hash written instead of ``user_id`` (blocking: may read or create the key file)."""
        return hmac.new(self._hash_key(), str(user_id).encode(), hashlib.sha256).hexdigest()

    def write(self, entry: FeedbackEntry, user_id: int | None = None) -> bool:
        """Append one line, with the keyed hash of ``user_id`` as its user, unless the file already
        holds this user's vote on this message (blocking: call it from a worker thread — the key
        file and the feedback file are both read or written here).

        Returns:
            Whether the vote was recorded (``False``: an earlier one, perhaps from before a restart).
        """
        if user_id is not None:
            entry.user = self.user_hash(user_id)
        line = json.dumps(asdict(entry), ensure_ascii=False)
        with self._lock:
            recorded = self._votes_in_file()
            key = (entry.message_id, entry.user)
            if entry.message_id is not None and entry.user and key in recorded:
                logger.info("feedback on message %s already recorded", entry.message_id)
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                # A line torn by a crash must not swallow this one: start on a line of its own.
                f.write(("\n" if not self._ends_with_newline() else "") + line + "\n")
            if entry.message_id is not None:
                recorded.add(key)
        logger.info("feedback %s recorded for message %s", entry.vote, entry.message_id)
        return True

    def _ends_with_newline(self) -> bool:
        try:
            with self.path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() == 0:
                    return True
                f.seek(-1, os.SEEK_END)
                return f.read(1) == b"\n"
        except FileNotFoundError:
            return True

    def _votes_in_file(self) -> set[tuple[int, str]]:
        """Who voted on what, from the file (once; afterwards kept up to date by :meth:`write`)."""
        if self._recorded is None:
            recorded: set[tuple[int, str]] = set()
            try:
                with self.path.open(encoding="utf-8", errors="replace") as f:
                    for line in f:
                        try:
                            item = json.loads(line)
                            recorded.add((int(item["message_id"]), str(item["user"])))
                        except (ValueError, KeyError, TypeError, OverflowError):
                            continue  # a torn or foreign line: not a vote to remember
            except FileNotFoundError:
                pass
            except OSError as exc:  # unreadable: votes before this start cannot be checked
                logger.warning("cannot read earlier feedback from %s (%s)", self.path, exc.__class__.__name__)
            self._recorded = recorded
        return self._recorded
