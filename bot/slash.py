"""Slash commands: ``/ask``, ``/reset``, ``/reindex``, ``/stats``.

Interactions must be acknowledged within 3 seconds, so each command does only instant checks
(channel, length, rate limit, permission), then defers, and only then waits for the engine.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery import NO_MENTIONS, deliver, open_thread, say
from bot.memory import ConversationKey
from bot.service import APOLOGY, Refusal
from bot.worker import ReindexRunning
from qa.conversation import Conversation
from qa.errors import QAError

if TYPE_CHECKING:
    from bot.client import QABot
    from qa.indexing import BuildReport

logger = logging.getLogger(__name__)


def can_reindex(interaction: discord.Interaction, admin_role: str | None) -> bool:
    """Manage Server (or Administrator) in this guild, or the configured admin role (id or name)."""
    if interaction.guild is None:
        return False
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    return bool(admin_role) and any(str(role.id) == admin_role or role.name == admin_role for role in roles)


def describe_build(report: BuildReport) -> str:
    """One line about a rebuild, for ``/reindex``."""
    if not report.written:
        return (f"The index is already up to date: {report.unchanged} documents, {report.chunks} chunks "
                f"({report.seconds:.1f} s, nothing re-embedded).")
    kind = "Rebuilt in full" if report.full else "Index updated"
    return (f"{kind}: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged — {report.chunks} chunks in {report.seconds:.1f} s. "
            f"New questions are answered from it now.")


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return f"{seconds:.0f} s ago"


class SlashCommands(commands.Cog):
    """The bot's application commands.

    A cog only for the binding: the cog machinery copies each ``@app_commands.command`` method
    and binds it to this instance, and :meth:`get_app_commands` hands those commands over.
    ``QABot.__init__`` adds them to its tree directly — the cog itself is never added with
    ``add_cog`` (a coroutine, which would have to wait for ``setup_hook``), so the commands work
    however the bot is started, dpytest's plain recipe included.
    """

    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        self.service = bot.service

    @app_commands.command(name="ask", description="Ask a question about the documents; the answer cites its sources.")
    @app_commands.describe(question="Your question, e.g. “Who is the US ambassador to Russia?”")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        service = self.service
        channel = interaction.channel
        if not service.allowed(channel):
            await say(interaction.response.send_message, "I don't answer questions here.", ephemeral=True)
            return
        try:
            question = service.admit(question, interaction.user.id)
        except Refusal as refusal:
            await say(interaction.response.send_message, refusal.message, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)

        key = ConversationKey.for_channel(channel, interaction.user.id)
        new_thread = service.settings.thread_mode and isinstance(channel, discord.TextChannel)
        # Thread mode: a new question starts a new conversation, which moves into its thread.
        memory = service.conversations
        conversation = Conversation(memory.max_turns, memory.max_age_s) if new_thread else None
        try:
            answer = await service.answer(question, key, conversation)
        except Refusal as refusal:
            await say(interaction.followup.send, refusal.message)
            return
        send = _followup(interaction)
        messages = await deliver(answer, send, send)
        if new_thread:
            thread = await open_thread(channel, messages[0], question) if messages else None
            if thread is not None:
                key = ConversationKey.for_thread(thread.id)
            service.conversations.put(key, conversation)
        service.remember(messages, answer, key)

    @app_commands.command(name="reset", description="Forget our conversation here; the next question starts afresh.")
    async def reset(self, interaction: discord.Interaction) -> None:
        key = ConversationKey.for_channel(interaction.channel, interaction.user.id)
        slot = self.service.conversations.peek(key)
        send = interaction.response.send_message
        turns = 0
        if slot is not None:
            if slot.lock.locked():  # a question is being answered here: forget after it, not before
                await interaction.response.defer(ephemeral=True, thinking=True)
                send = interaction.followup.send
            async with slot.lock:  # otherwise the answer in progress would add its turn back
                turns = slot.reset()
        text = f"Done — I forgot our last {turns} turn{'s' if turns != 1 else ''} here." if turns else \
            "Done — there was nothing to forget here."
        await say(send, text, ephemeral=True)

    @app_commands.command(name="reindex", description="Rebuild the index from the documents folder (admins only).")
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        settings = self.service.settings
        if not can_reindex(interaction, settings.admin_role):
            role = f" or the “{settings.admin_role}” role" if settings.admin_role else ""
            await say(interaction.response.send_message,
                      f"Only members with the Manage Server permission{role} can rebuild the index.", ephemeral=True)
            return
        if self.service.worker.reindexing:
            await say(interaction.response.send_message, "A rebuild is already running.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        logger.info("reindex requested by user %s", interaction.user.id)
        try:
            report = await self.service.worker.build()
        except ReindexRunning:
            text = "A rebuild is already running."
        except QAError as exc:
            text = f"The rebuild failed: {exc}"
        except Exception:
            logger.exception("reindex failed")
            text = APOLOGY
        else:
            text = describe_build(report)
            logger.info("reindex done: %s", text)
        await say(interaction.followup.send, text, ephemeral=True)

    @app_commands.command(name="stats", description="Documents, chunks, model and index age.")
    async def stats(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            stats = await self.service.worker.stats()
        except QAError as exc:
            await say(interaction.followup.send, f"No usable index ({exc}); an admin can run /reindex.", ephemeral=True)
            return
        bot = self.service.stats()
        embed = discord.Embed(title="Index", colour=discord.Colour.blurple())
        embed.add_field(name="Documents", value=f"{stats.documents:,}")
        embed.add_field(name="Chunks", value=f"{stats.chunks:,} ({stats.sentences:,} sentences)")
        embed.add_field(name="Model", value=discord.utils.escape_markdown(stats.model)[:1024])
        built = f"<t:{int(stats.built_at)}:f>" if stats.built_at else "never"
        embed.add_field(name="Built", value=f"{built} ({describe_age(stats.age_s)})")
        status = "stale — documents or settings changed; run /reindex" if stats.stale else "up to date"
        embed.add_field(name="Status", value=status)
        activity = (f"{bot.answered:,} answered since start · {bot.conversations:,} conversations in memory · "
                    f"{bot.pending} in progress" + (" · rebuilding" if bot.reindexing else ""))
        embed.add_field(name="Bot", value=activity, inline=False)
        embed.set_footer(text=f"as of {time.strftime('%Y-%m-%d %H:%M:%S')}")
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _followup(interaction: discord.Interaction):
    async def send(**kwargs) -> discord.Message:
        return await interaction.followup.send(wait=True, **kwargs)

    return send
