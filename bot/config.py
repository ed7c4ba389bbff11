"""The bot's settings: environment variables, optionally from a git-ignored ``.env`` file.

Bot-specific values use the ``QA_BOT_`` prefix; the token is ``DISCORD_TOKEN`` (the name every
Discord tutorial uses). Engine settings (``QA_DOCS_DIR``, ``QA_INDEX_DIR``, ``QA_TOP_K``, …) are read
by :meth:`qa.settings.Settings.from_env` from the same merged environment.

The token is held in a :class:`Secret`, whose ``repr``/``str`` never show the value, so settings can
be logged or printed in a traceback without leaking it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UsageError
from qa.settings import Settings


class ConfigError(UsageError):
    """A setting the bot cannot start with (exit code 2)."""


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings.

    Only :meth:`reveal` returns the value, so every place that uses the token is easy to find.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself (pass it to the library that needs it, never to a log)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the value out in clear
        raise TypeError("a Secret cannot be pickled")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class BotSettings:
    """Everything the Discord front end needs besides the engine.

    Attributes:
        token: The bot token (``DISCORD_TOKEN``); ``None`` when not set.
        engine: Engine settings (paths, model, top-k, conversation bounds) from ``QA_*`` variables.
        channels: Channel ids the bot answers in (threads inside them too); empty means everywhere.
        thread_mode: Each new question in a channel opens a thread; the conversation continues there.
        answer_dms: Answer direct messages.
        rate_limit: Questions per user per ``rate_window_s`` (0 turns the limit off).
        rate_window_s: Length of the rate-limit window in seconds.
        max_question_chars: Longer questions are refused with a clear reply.
        members_intent: Ask Discord for the privileged Server Members intent (enable it in the
            Developer Portal, or turn this off).
        admin_role: A role id or name allowed to run ``/reindex`` besides Manage Server.
        sync: Slash-command sync at start: ``""`` (none), ``"global"`` or a test guild id.
        feedback_file: JSON-lines file for 👍/👎 feedback.
        feedback_salt: Key of the user-id hash in feedback lines (``None``: a random key kept next
            to the feedback file).
        workers: Engine threads answering questions in parallel.
        max_pending: Questions waiting for a worker before new ones are turned away.
        max_conversations: Conversations kept in memory (least recently used ones are dropped).
        connect_timeout_s: Give up logging in to Discord after this many seconds.
        log_level: Logging level name.
    """

    token: Secret | None = None
    engine: Settings = field(default_factory=Settings)
    channels: frozenset[int] = frozenset()
    thread_mode: bool = False
    answer_dms: bool = False
    rate_limit: int = 5
    rate_window_s: float = 60.0
    max_question_chars: int = 1000
    members_intent: bool = True
    admin_role: str | None = None
    sync: str = ""
    feedback_file: Path = Path("feedback.jsonl")
    feedback_salt: Secret | None = None
    workers: int = 4
    max_pending: int = 64
    max_conversations: int = 1000
    connect_timeout_s: float = 30.0
    log_level: str = "INFO"

    def replace(self, **changes: object) -> BotSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> BotSettings:
        """Settings from ``environ`` (default ``os.environ``) over the values of ``env_file``.

        Args:
            environ: Environment variables; they win over the file.
            env_file: A dotenv file; ignored when missing or ``None``.

        Returns:
            The settings.

        Raises:
            ConfigError: When a value cannot be parsed.
            UsageError: When an engine setting (``QA_*``) is invalid.
        """
        env: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            from dotenv import dotenv_values

            env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        env.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env.get(name)
            return None if value is None else value.strip()

        values: dict[str, object] = {"engine": Settings.from_env(env)}
        if token := get("DISCORD_TOKEN"):
            values["token"] = Secret(token)
        if (raw := get("QA_BOT_CHANNELS")) is not None:
            parts = raw.replace(" ", ",").split(",")
            values["channels"] = frozenset(_int(part, "QA_BOT_CHANNELS") for part in parts if part)
        for name, key in (("thread_mode", "QA_BOT_THREAD_MODE"), ("answer_dms", "QA_BOT_DMS"),
                          ("members_intent", "QA_BOT_MEMBERS_INTENT")):
            if (raw := get(key)) is not None:
                values[name] = _bool(raw, key)
        for name, key, kind in (
            ("rate_limit", "QA_BOT_RATE_LIMIT", int),
            ("rate_window_s", "QA_BOT_RATE_WINDOW", float),
            ("max_question_chars", "QA_BOT_MAX_QUESTION_CHARS", int),
            ("workers", "QA_BOT_WORKERS", int),
            ("max_pending", "QA_BOT_MAX_PENDING", int),
            ("max_conversations", "QA_BOT_MAX_CONVERSATIONS", int),
            ("connect_timeout_s", "QA_BOT_CONNECT_TIMEOUT", float),
        ):
            if raw := get(key):
                values[name] = _int(raw, key) if kind is int else _float(raw, key)
        if raw := get("QA_BOT_ADMIN_ROLE"):
            values["admin_role"] = raw
        if (raw := get("QA_BOT_SYNC")) is not None:
            values["sync"] = "" if raw.lower() in ("", "off", "none", "no") else raw.lower()
        if raw := get("QA_BOT_FEEDBACK_FILE"):
            values["feedback_file"] = Path(raw).expanduser()
        if raw := get("QA_BOT_FEEDBACK_SALT"):
            values["feedback_salt"] = Secret(raw)
        if raw := get("QA_BOT_LOG_LEVEL"):
            values["log_level"] = raw.upper()
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject values the bot cannot work with.

        Raises:
            ConfigError: On the first bad value.
        """
        if self.token is not None:
            _check_token_shape(self.token.reveal())
        if self.rate_limit < 0 or self.rate_window_s <= 0:
            raise ConfigError("QA_BOT_RATE_LIMIT must be >= 0 and QA_BOT_RATE_WINDOW > 0")
        if not 1 <= self.max_question_chars <= self.engine.max_question_chars:
            raise ConfigError(
                f"QA_BOT_MAX_QUESTION_CHARS must be between 1 and QA_MAX_QUESTION_CHARS "
                f"({self.engine.max_question_chars}), got {self.max_question_chars}"
            )
        if self.workers < 1 or self.max_pending < 1 or self.max_conversations < 1:
            raise ConfigError("QA_BOT_WORKERS, QA_BOT_MAX_PENDING and QA_BOT_MAX_CONVERSATIONS must be >= 1")
        if self.sync not in ("", "global") and not self.sync.isdigit():
            raise ConfigError(f"QA_BOT_SYNC must be empty, 'global' or a guild id, got {self.sync!r}")
        if self.connect_timeout_s <= 0:
            raise ConfigError("QA_BOT_CONNECT_TIMEOUT must be > 0")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"QA_BOT_LOG_LEVEL must be a logging level name, got {self.log_level!r}")


def _bool(raw: str, key: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{key}={raw!r} is not a yes/no value")


def _int(raw: str, key: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a whole number") from None


def _float(raw: str, key: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a number") from None


def _check_token_shape(token: str) -> None:
    """Reject what cannot be a bot token before any network call, without showing it: a bot token
    is three dot-separated parts (the bot's id, a timestamp, a signature), no spaces. Pasting the
    client secret, the application id, or "Bot …" from an HTTP header is a common slip.

    Raises:
        ConfigError: Naming what is wrong, never the value.
    """
    if token.lower().startswith("bot "):
        raise ConfigError("DISCORD_TOKEN starts with 'Bot ': set the token alone, without the prefix")
    if token[:1] in "\"'" and token[-1:] == token[:1]:
        raise ConfigError("DISCORD_TOKEN is in quotes inside its value: remove them")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or any(c.isspace() for c in token):
        raise ConfigError("DISCORD_TOKEN does not look like a bot token (three parts separated by dots, no "
                          "spaces): copy it from the Bot page of the application (Reset Token), not the client "
                          "secret or the application id")
