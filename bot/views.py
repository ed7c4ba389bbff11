"""The buttons under every answer: Sources, 👍, 👎.

The view is persistent: ``timeout=None`` and fixed ``custom_id``\\s, registered once in
``setup_hook`` with ``bot.add_view``, so buttons on answers sent before a restart keep working.
Nothing about a particular answer is stored in the view; the handlers look the answer up by the
id of the message the button is on (see :meth:`bot.service.QAService.sources_for`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.formatting import format_sources
from bot.service import APOLOGY, Refusal

if TYPE_CHECKING:
    from bot.client import QABot

logger = logging.getLogger(__name__)

# Stable ids: Discord sends them back when a button is clicked, even after a restart. Never rename.
SOURCES_ID = "qa:answer:sources"
FEEDBACK_UP_ID = "qa:answer:feedback:up"
FEEDBACK_DOWN_ID = "qa:answer:feedback:down"

NO_MENTIONS = discord.AllowedMentions.none()
ALREADY_VOTED = "Your feedback on this answer is already recorded — thanks."


class AnswerView(discord.ui.View):
    """Sources / 👍 / 👎 under an answer; one instance serves every answer message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Sources", emoji="📄", style=discord.ButtonStyle.secondary, custom_id=SOURCES_ID)
    async def sources(self, interaction: discord.Interaction[QABot], button: discord.ui.Button) -> None:
        """Show the full cited passages, only to the person who clicked."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            citations = await interaction.client.service.sources_for(interaction.message, interaction.user.id)
        except Refusal as refusal:
            await interaction.followup.send(refusal.message, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        for reply in format_sources(citations):
            await interaction.followup.send(
                content=reply.content, embeds=reply.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    @discord.ui.button(emoji="👍", style=discord.ButtonStyle.secondary, custom_id=FEEDBACK_UP_ID)
    async def helpful(self, interaction: discord.Interaction[QABot], button: discord.ui.Button) -> None:
        await self._feedback(interaction, "up")

    @discord.ui.button(emoji="👎", style=discord.ButtonStyle.secondary, custom_id=FEEDBACK_DOWN_ID)
    async def unhelpful(self, interaction: discord.Interaction[QABot], button: discord.ui.Button) -> None:
        await self._feedback(interaction, "down")

    async def _feedback(self, interaction: discord.Interaction[QABot], vote: str) -> None:
        service = interaction.client.service
        if not service.first_vote(interaction.message.id, interaction.user.id):
            await interaction.response.send_message(ALREADY_VOTED, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            recorded = await service.record_feedback(vote, interaction.user.id, interaction.message)
        except Exception:
            service.votes.pop((interaction.message.id, interaction.user.id))  # not recorded: may vote again
            raise
        if not recorded:  # voted before the bot restarted: the feedback file remembers
            await interaction.followup.send(ALREADY_VOTED, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        thanks = "Thanks — glad it helped." if vote == "up" else "Thanks — noted; this helps improve the answers."
        await interaction.followup.send(thanks, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        logger.error("button %s failed", getattr(item, "custom_id", item), exc_info=error)
        await apologise(interaction)


def answer_buttons() -> AnswerView:
    """The buttons to attach to an answer message.

    The view is stopped before it is sent: its components still go out with the message, but
    discord.py does not keep a view per message (that would grow without bound, as these views
    never time out). Clicks reach the one persistent view registered in ``setup_hook``.
    """
    view = AnswerView()
    view.stop()
    return view


async def apologise(interaction: discord.Interaction) -> None:
    """A one-line ephemeral apology, whether or not the interaction was answered yet."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(APOLOGY, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(APOLOGY, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        logger.warning("could not send the apology for interaction %s", interaction.id)
