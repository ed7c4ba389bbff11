"""The one path from a question to an answer, shared by mentions, replies, threads and ``/ask``.

It checks the question (length, rate limit, channel), finds the conversation, runs the engine in
a worker thread, and turns every failure into a :class:`Refusal` worded for the user — so no
front end can forget a case, and none stays silent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.config import BotSettings
from bot.feedback import FeedbackEntry, FeedbackLog
from bot.formatting import read_answer
from bot.memory import AnswerCache, AnswerRecord, BoundedLRU, ConversationKey, ConversationStore
from bot.ratelimit import RateLimiter
from bot.worker import Busy, EngineWorker
from qa.conversation import Turn
from qa.errors import QAError, UsageError

if TYPE_CHECKING:
    from qa.answer import Answer, Citation
    from qa.conversation import Conversation
    from qa.engine import Engine

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while answering that. The error has been logged."
BUSY = "I'm answering a lot of questions right now — please try again in a minute."
MAX_VOTES_KEPT = 100_000  # (message, user) pairs remembered to count one vote each
HELP = ("Ask me a question about the documents, for example: *Who is the US ambassador to Russia?* "
        "— or *What are the documents about?*")


class Refusal(Exception):
    """A reason not to answer, already worded for the user.

    Attributes:
        message: What to tell the user (one line).
        notify: False when telling the user again would only add noise (repeated rate-limit hits).
    """

    def __init__(self, message: str, notify: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.notify = notify


@dataclass
class BotStats:
    """Counters of the running bot, shown by ``/stats``."""

    conversations: int
    answers_cached: int
    answered: int
    pending: int
    reindexing: bool


class QAService:
    """Questions, conversations, feedback and sources for one bot.

    Args:
        settings: The bot settings.
        engine: The engine every answer comes from.
    """

    def __init__(self, settings: BotSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = EngineWorker(engine, settings.workers, settings.max_pending)
        self.conversations = ConversationStore(
            settings.max_conversations, engine.settings.max_turns, engine.settings.max_turn_age_s
        )
        self.answers = AnswerCache()
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_window_s)
        salt = settings.feedback_salt.reveal() if settings.feedback_salt else None
        self.feedback = FeedbackLog(settings.feedback_file, salt)
        self.votes: BoundedLRU[tuple[int, int], bool] = BoundedLRU(MAX_VOTES_KEPT)

    # -- where the bot answers ------------------------------------------------------------------

    def allowed(self, channel: object) -> bool:
        """Whether the bot answers in ``channel`` (DMs per settings; threads follow their parent)."""
        if getattr(channel, "guild", None) is None:
            return self.settings.answer_dms
        if not self.settings.channels:
            return True
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
        return bool(ids & self.settings.channels)

    # -- questions --------------------------------------------------------------------------------

    def admit(self, question: str, user_id: int) -> str:
        """Check a question before any work is done.

        Returns:
            The question, stripped.

        Raises:
            Refusal: Empty, too long, or the user is over the rate limit.
        """
        question = question.strip()
        if not question:
            raise Refusal(HELP)
        if len(question) > self.settings.max_question_chars:
            raise Refusal(
                f"Your question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,}. Please shorten it."
            )
        verdict = self.limiter.hit(user_id)
        if not verdict.allowed:
            raise Refusal(_slow_down(verdict.retry_after), notify=verdict.first_refusal)
        return question

    async def answer(
        self,
        question: str,
        key: ConversationKey,
        conversation: Conversation | None = None,
        follows: Turn | None = None,
    ) -> Answer:
        """Answer an admitted question in the conversation of ``key`` (or the one given).

        Args:
            question: The admitted question.
            key: Its conversation.
            conversation: Use this conversation instead of the stored one (thread mode).
            follows: A turn the question follows up on (the answer a reply replies to); it becomes
                the conversation's latest turn first.

        Raises:
            Refusal: For every failure; unexpected ones are logged with their traceback.
        """
        slot = self.conversations.slot(key)  # once: the lock and the conversation of one slot
        async with slot.lock:
            if conversation is None:
                if follows is not None:
                    slot.follow(follows)
                conversation = slot.conversation
            return await self._ask(question, conversation)

    async def _ask(self, question: str, conversation: Conversation | None = None) -> Answer:
        """The engine's answer, every failure turned into a :class:`Refusal`."""
        try:
            return await self.worker.ask(question, conversation)
        except Busy:
            logger.warning("question turned away: %d already waiting", self.worker.pending)
            raise Refusal(BUSY) from None
        except UsageError as exc:
            raise Refusal(f"I can't answer that: {exc}.") from None
        except QAError as exc:
            logger.error("the index cannot be used: %s", exc)
            raise Refusal("The document index isn't available right now; an admin can run /reindex.") from None
        except Exception:
            logger.exception("the engine failed on a question (%d characters)", len(question))
            raise Refusal(APOLOGY) from None

    def remember(self, messages: Sequence[discord.abc.Snowflake], answer: Answer, key: ConversationKey) -> None:
        """Keep the answer for the buttons and for replies to any of its messages."""
        self.answers.remember([m.id for m in messages], AnswerRecord(answer, key))

    def turn_of(self, record: AnswerRecord) -> Turn | None:
        """The conversation turn of a remembered answer (to continue it in another conversation);
        ``None`` for a reply without sources ("Thanks!" got a hint, nothing to continue from)."""
        a = record.answer
        if not a.citations:
            return None
        slot = self.conversations.peek(record.key)
        for turn in reversed(slot.conversation.turns if slot else []):
            if turn.answer == a.answer:
                return dataclasses.replace(turn)
        return Turn.of(a)

    # -- buttons ----------------------------------------------------------------------------------

    async def sources_for(self, message: discord.Message, user_id: int) -> list[Citation]:
        """The citations behind an answer message, for the Sources button.

        Recent answers come from memory. After a restart the message is all there is: its question
        is asked again — as the footer's "Understood as" when the answer was a follow-up, and under
        the clicker's rate limit — and the sources the message shows are picked out of the new
        answer, with the numbers the message gave them.

        Raises:
            Refusal: When the sources cannot be found any more, or the re-ask is refused.
        """
        record = self.answers.get(message.id)
        if record is not None:
            answer = record.answer
            return [c for c in answer.citations if c.cited] or list(answer.citations)
        shown = read_answer(message.content, message.embeds)
        if not shown.question or not shown.sources:
            raise Refusal("I no longer have the sources of this answer; please ask again.")
        verdict = self.limiter.hit(user_id)
        if not verdict.allowed:
            raise Refusal(_slow_down(verdict.retry_after))
        answer = await self._ask(shown.understood_as or shown.question)
        by_key = {(c.source, c.start_line, c.end_line): c for c in answer.citations}
        wanted = [n for n in shown.cited if n in shown.sources]
        if not wanted and all(key in by_key for key in shown.sources.values()):
            # Only uncited sources on this message (the last of a long answer): the answer is the same.
            return [c for c in answer.citations if c.cited] or list(answer.citations)
        wanted = wanted or list(shown.sources)
        found = [dataclasses.replace(by_key[shown.sources[n]], n=n) for n in wanted if shown.sources[n] in by_key]
        if not found:
            raise Refusal("The documents changed since this answer; please ask again.")
        return found

    def first_vote(self, message_id: int, user_id: int) -> bool:
        """Whether this is the user's first 👍/👎 on this answer message (later ones are not recorded)."""
        if (message_id, user_id) in self.votes:
            return False
        self.votes.put((message_id, user_id), True)
        return True

    async def record_feedback(self, vote: str, user_id: int, message: discord.Message) -> bool:
        """Append a 👍/👎 line for the answer in ``message`` (from memory, or from the message itself).

        Returns:
            Whether it was recorded: ``False`` when the feedback file already holds this person's
            vote on this answer (cast before a restart).
        """
        record = self.answers.get(message.id)
        if record is not None:
            a = record.answer
            question, text, answered = a.question, a.answer, a.answered
            citations = [
                {"n": c.n, "source": c.source, "start_line": c.start_line, "end_line": c.end_line,
                 "score": round(float(c.score), 4), "cited": c.cited}
                for c in a.citations
            ]
        else:  # after a restart: what the message shows is all there is
            shown = read_answer(message.content, message.embeds)
            question, text, answered = shown.question, shown.text, shown.answered
            citations = [{"label": label} for label in shown.labels]
        entry = FeedbackEntry(
            vote=vote,
            user="",  # filled in by the worker thread (the hash key may have to be read from disk)
            question=question,
            answer=text,
            answered=answered,
            citations=citations,
            message_id=message.id,
            channel_id=getattr(message.channel, "id", None),
            guild_id=message.guild.id if message.guild else None,
        )
        return await asyncio.to_thread(self.feedback.write, entry, user_id)

    def stats(self) -> BotStats:
        return BotStats(
            conversations=len(self.conversations),
            answers_cached=len(self.answers),
            answered=self.worker.answered,
            pending=self.worker.pending,
            reindexing=self.worker.reindexing,
        )

    def close(self) -> None:
        self.worker.close()


def _slow_down(retry_after: float) -> str:
    return (f"You're asking faster than I can keep up — please wait {max(1, round(retry_after))} s "
            f"before your next question.")
