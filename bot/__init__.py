"""The Discord front end of qa: ask in a channel, get an answer that cites the documents.

``create_bot(settings, engine)`` builds the bot without connecting (tests drive it with dpytest);
``python -m bot`` / ``qa-bot`` runs it. Imports are lazy so ``python -m bot`` without a token
fails in an instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.client import QABot, create_bot
    from bot.config import BotSettings, Secret

__all__ = ["BotSettings", "QABot", "Secret", "create_bot"]


def __getattr__(name: str) -> Any:
    if name in ("create_bot", "QABot"):
        from bot import client

        return getattr(client, name)
    if name in ("BotSettings", "Secret"):
        from bot import config

        return getattr(config, name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
