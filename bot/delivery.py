"""How a formatted answer reaches Discord: one or more messages, buttons under the last one.

Every send passes ``AllowedMentions.none()`` explicitly (the bot default is the same; being explicit
keeps it true even if a caller passes a different default).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.formatting import format_answer, format_answer_text, notice
from bot.views import answer_buttons

if TYPE_CHECKING:
    from qa.answer import Answer

NO_MENTIONS = discord.AllowedMentions.none()
THREAD_NAME_CHARS = 100  # Discord's limit for thread names

logger = logging.getLogger(__name__)

Send = Callable[..., Awaitable[discord.Message | None]]


def can_embed(channel: object) -> bool:
    """Whether the bot may post embeds in ``channel`` (always in DMs and interaction responses)."""
    guild = getattr(channel, "guild", None)
    if guild is None or not hasattr(channel, "permissions_for"):
        return True
    me = guild.me
    return me is None or channel.permissions_for(me).embed_links


async def deliver(answer: Answer, first: Send, rest: Send, *, embeds: bool = True) -> list[discord.Message]:
    """Send ``answer`` as embeds (or plain text), with the answer buttons under the last message.

    Args:
        answer: The engine's answer.
        first: Sends the first message (a reply, a thread message, an interaction follow-up).
        rest: Sends the following ones.
        embeds: Embeds, or plain text when the bot may not embed links in the channel.

    Returns:
        The messages sent.
    """
    if not answer.citations and not answer.answered:
        # "Thanks!": the engine's hint what to ask, as a notice — no sources to show or rate.
        message = await say(first, answer.answer)
        return [message] if message is not None else []
    replies = format_answer(answer) if embeds else format_answer_text(answer)
    messages: list[discord.Message] = []
    for i, reply in enumerate(replies):
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if reply.content:
            kwargs["content"] = reply.content
        if reply.embeds:
            kwargs["embeds"] = reply.embeds
        if i == len(replies) - 1:
            kwargs["view"] = answer_buttons()
        message = await (first if i == 0 else rest)(**kwargs)
        if message is not None:
            messages.append(message)
    return messages


async def say(send: Send, text: str, **kwargs: Any) -> discord.Message | None:
    """A one-line notice (refusal, apology, help) that pings nobody."""
    return await send(content=notice(text), allowed_mentions=NO_MENTIONS, **kwargs)


async def open_thread(
    channel: discord.TextChannel, message: discord.abc.Snowflake, question: str
) -> discord.Thread | None:
    """A public thread on ``message`` in ``channel``, named after the question; ``None`` if Discord refuses.

    The channel object makes the call (not the message): messages returned by interaction
    follow-ups carry no guild, and only the channel knows it. Without the Create Public Threads
    permission the conversation simply stays in the channel.
    """
    name = " ".join(question.split())
    name = name if len(name) <= THREAD_NAME_CHARS else name[: THREAD_NAME_CHARS - 1] + "…"
    try:
        return await channel.create_thread(name=name, message=message, auto_archive_duration=1440)
    except (discord.HTTPException, ValueError) as exc:
        logger.warning("could not open a thread for message %s (%s); the conversation stays in the channel",
                       message.id, exc)
        return None
