"""The discord.py bot and its factory.

:func:`create_bot` builds a ready-to-start bot from settings and an engine without touching the
network, so tests (and other programs) can drive it with dpytest or fake interactions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import BotSettings
from bot.listeners import MessageQuestions
from bot.service import QAService
from bot.slash import SlashCommands
from bot.views import AnswerView, apologise

if TYPE_CHECKING:
    from qa.engine import Engine

logger = logging.getLogger(__name__)


class QATree(app_commands.CommandTree):
    """A command tree whose errors are logged and answered with a one-line apology."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        logger.error("/%s failed", command, exc_info=error)
        await apologise(interaction)


class QABot(commands.Bot):
    """Answers questions about the documents in Discord.

    Args:
        settings: Bot settings.
        engine: The engine all answers come from.
    """

    def __init__(self, settings: BotSettings, engine: Engine) -> None:
        # The bot never uses voice: skip discord.py's "PyNaCl/davey is not installed" warnings,
        # which would otherwise be the first lines of every start.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        # Needed to read plain messages in the bot's threads; mentions, replies to the bot and DMs
        # carry their text even without it. Privileged: enable it in the Developer Portal.
        intents.message_content = True
        # Privileged too. Not needed to answer, but test harnesses such as dpytest resolve mentions
        # through the member cache, which only this intent fills; QA_BOT_MEMBERS_INTENT=0 turns it off,
        # and `python -m bot` drops it by itself when Discord refuses it (see drop_members_intent).
        intents.members = settings.members_intent
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: there are no prefix commands
            help_command=None,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=QATree,
        )
        self.settings = settings
        self.service = QAService(settings, engine)
        self.sync_task: asyncio.Task | None = None
        # Registered here rather than in setup_hook, so the bot answers messages and slash commands
        # however it is started (dpytest, for one, never runs setup_hook).
        self.questions = MessageQuestions(self)
        for command in SlashCommands(self).get_app_commands():
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        """Register the persistent answer buttons; start the slash-command sync if configured.

        The sync runs in the background (:attr:`sync_task`): ``login`` runs this hook, and the
        start-up's connect timeout is for reaching Discord, not for a slow sync.
        """
        # Persistent: buttons under answers sent before a restart keep working.
        self.add_view(AnswerView())
        if self.settings.sync:
            self.sync_task = asyncio.create_task(self.sync_commands(), name="qa-sync-commands")

    def drop_members_intent(self) -> None:
        """Stop asking for the Server Members intent (before connecting again).

        For a bot whose owner left the intent off in the Developer Portal: Discord then refuses
        the connection, and the bot works without it.
        """
        state = self._connection
        state._intents.members = False
        state.member_cache_flags = discord.MemberCacheFlags.from_intents(state._intents)
        state._chunk_guilds = False  # chunking needs the members intent

    async def sync_commands(self) -> None:
        """Publish the slash commands: globally (up to an hour to show) or to one test guild (instant)."""
        target = self.settings.sync
        if not target:
            return
        try:
            if target == "global":
                synced = await self.tree.sync()
                logger.info("synced %d slash commands globally (may take up to an hour to appear)", len(synced))
            else:
                guild = discord.Object(id=int(target))
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                logger.info("synced %d slash commands to guild %s", len(synced), target)
        except discord.HTTPException as exc:
            # Usually the bot was invited without the applications.commands scope.
            logger.error("could not sync slash commands (%s); invite the bot with the applications.commands scope",
                         exc)
        except Exception:
            logger.exception("could not sync slash commands")

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: every message goes to :class:`MessageQuestions`."""
        await self.questions.on_message(message)

    async def on_ready(self) -> None:
        logger.info("logged in as %s (id %s) in %d servers", self.user, self.user.id if self.user else "?",
                    len(self.guilds))

    async def close(self) -> None:
        if self.sync_task is not None and not self.sync_task.done():
            self.sync_task.cancel()
        self.service.close()
        await super().close()


def create_bot(settings: BotSettings, engine: Engine) -> QABot:
    """A bot answering from ``engine`` with ``settings``; nothing connects until it is started."""
    return QABot(settings, engine)
