"""Questions in messages: a mention, a reply to one of the bot's answers, or any message in a
thread the bot started. Everything else — bots, the bot itself, other chatter — is ignored.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.delivery import can_embed, deliver, open_thread, say
from bot.formatting import read_answer
from bot.memory import ConversationKey
from bot.service import APOLOGY, Refusal
from qa.conversation import Turn

if TYPE_CHECKING:
    from bot.client import QABot

logger = logging.getLogger(__name__)


@dataclass
class Trigger:
    """Why a message is a question for the bot, and which conversation it continues."""

    question: str
    key: ConversationKey
    new_thread: bool = False  # thread mode: open a thread for it
    follows: Turn | None = None  # the answered turn a reply continues, when it joins another conversation


class MessageQuestions:
    """Answers questions asked in messages; :meth:`QABot.on_message` hands every message here.

    A plain object rather than a cog, so the bot answers as soon as it is constructed — also when a
    test harness such as dpytest starts it without running ``setup_hook``.
    """

    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        self.service = bot.service

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None:
            return  # other bots, webhooks and the bot's own messages: never answered (no loops)
        try:
            trigger = await self._trigger(message)
        except Exception:
            logger.exception("could not read message %s", message.id)
            return
        if trigger is None:
            return
        await self._answer(message, trigger)

    async def _trigger(self, message: discord.Message) -> Trigger | None:
        me = self.bot.user
        channel = message.channel
        if me is None or not self.service.allowed(channel):
            return None
        question = self._strip_mentions(message)
        if message.guild is None:  # a DM (allowed() said DMs are on)
            return Trigger(question, ConversationKey.for_channel(channel, message.author.id))
        in_own_thread = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        replied = await self._replied_answer(message)
        if not (self._mentions_me(message) or replied is not None or in_own_thread):
            return None
        if isinstance(channel, discord.Thread):
            return Trigger(question, ConversationKey.for_thread(channel.id))
        if replied is not None:
            key, follows = self._continues(replied, message)
            return Trigger(question, key, follows=follows)
        new_thread = self.service.settings.thread_mode and isinstance(channel, discord.TextChannel)
        return Trigger(question, ConversationKey.for_channel(channel, message.author.id), new_thread)

    def _mentions_me(self, message: discord.Message) -> bool:
        me = self.bot.user
        # An explicit mention in the text; a reply's automatic ping alone adds the bot to
        # message.mentions too, so the text is checked rather than message.mentions.
        if re.search(rf"<@!?{me.id}>", message.content):
            return True
        role = message.guild.self_role if message.guild else None  # the bot's managed role, also a mention
        return role is not None and role in message.role_mentions

    def _strip_mentions(self, message: discord.Message) -> str:
        text = re.sub(rf"<@!?{self.bot.user.id}>", " ", message.content)
        role = message.guild.self_role if message.guild else None
        if role is not None:
            text = text.replace(role.mention, " ")
        return " ".join(text.split())

    async def _replied_answer(self, message: discord.Message) -> discord.Message | None:
        """The bot's message this one replies to, if any."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        replied = ref.resolved
        if replied is None and ref.channel_id == message.channel.id:
            try:  # not in the gateway payload (old message): fetch it (needs Read Message History)
                replied = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return None
        if isinstance(replied, discord.Message) and replied.author.id == self.bot.user.id:
            return replied
        return None

    def _continues(self, replied: discord.Message, message: discord.Message) -> tuple[ConversationKey, Turn | None]:
        """The conversation a reply continues, and the turn to continue from.

        A reply by the asker continues the asker's conversation. In a shared channel, a reply by
        someone else goes to the replier's own conversation, continuing from the answer replied
        to — it never writes into the asker's. After a restart the answer is not in memory: the
        turn is rebuilt from what the replied message shows.
        """
        key = ConversationKey.for_channel(message.channel, message.author.id)
        record = self.service.answers.get(replied.id)
        if record is not None:
            if record.key == key or record.key.scope != "channel":
                return record.key, None
            return key, self.service.turn_of(record)
        shown = read_answer(replied.content, replied.embeds)
        if shown.question and shown.text:
            return key, Turn(shown.question, shown.question, shown.text)
        return key, None

    async def _answer(self, message: discord.Message, trigger: Trigger) -> None:
        channel = message.channel
        # A reply that still goes out if the question was deleted meanwhile (then as a plain message).
        reply = functools.partial(channel.send, reference=message.to_reference(fail_if_not_exists=False),
                                  mention_author=False)
        try:
            question = self.service.admit(trigger.question, message.author.id)
        except Refusal as refusal:
            if refusal.notify:
                await self._safe(say(reply, refusal.message))
            return

        key, destination, first = trigger.key, channel, reply
        if trigger.new_thread:
            thread = await open_thread(channel, message, question)
            if thread is not None:
                key, destination, first = ConversationKey.for_thread(thread.id), thread, thread.send
        # One typing indicator (it lasts ~10 s or until the answer arrives); best effort only.
        await self._safe(destination.typing())
        try:
            answer = await self.service.answer(question, key, follows=trigger.follows)
        except Refusal as refusal:
            await self._safe(say(first, refusal.message))
            return
        try:
            messages = await deliver(answer, first, destination.send, embeds=can_embed(destination))
        except Exception:  # formatting or sending: never silence
            logger.exception("sending the answer to message %s failed", message.id)
            await self._safe(say(first, APOLOGY))
            return
        self.service.remember(messages, answer, key)

    async def _safe(self, coro) -> None:
        try:
            await coro
        except discord.HTTPException:
            logger.warning("could not send to the channel", exc_info=True)
