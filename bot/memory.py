"""What the bot remembers between messages, always bounded.

* Conversations, one per thread, per DM, or per user in a shared channel (so two people asking in
  the same channel do not mix their follow-ups). Each is a :class:`qa.conversation.Conversation`,
  itself bounded by turns and age; the store keeps at most ``max_conversations`` of them and
  forgets the least recently used.
* Recent answers by message id, so the Sources and feedback buttons and reply follow-ups find the
  full answer without re-asking. Lost on restart; the handlers then fall back to the message.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import discord

from qa.conversation import Conversation, Turn

if TYPE_CHECKING:
    from qa.answer import Answer

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class ConversationKey:
    """Which conversation a message belongs to.

    Attributes:
        scope: ``"thread"``, ``"dm"`` or ``"channel"``.
        channel_id: The thread, DM or channel id.
        user_id: The asker, for shared channels only.
    """

    scope: str
    channel_id: int
    user_id: int | None = None

    @classmethod
    def for_channel(cls, channel: object, user_id: int) -> ConversationKey:
        """The conversation of ``user_id`` in ``channel``: shared in threads and DMs, per user elsewhere."""
        channel_id = getattr(channel, "id", 0) or 0
        if isinstance(channel, discord.Thread):
            return cls("thread", channel_id)
        if isinstance(channel, (discord.DMChannel, discord.GroupChannel)) or getattr(channel, "guild", None) is None:
            return cls("dm", channel_id)
        return cls("channel", channel_id, user_id)

    @classmethod
    def for_thread(cls, thread_id: int) -> ConversationKey:
        return cls("thread", thread_id)


class BoundedLRU(Generic[K, V]):
    """A dict that keeps only the ``capacity`` most recently used entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class Slot:
    """One conversation and the lock its questions take.

    Look a slot up once and use both its lock and its conversation: looking the key up again
    after waiting for the lock could find another slot (the store may have dropped this one
    meanwhile) and let two questions write to one conversation at once.
    """

    conversation: Conversation
    # Questions in one conversation run one after the other: a follow-up must see the turn
    # before it, and Conversation is not meant for concurrent writers.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def follow(self, turn: Turn) -> None:
        """Make ``turn`` the latest turn (a reply continues the answer it replies to)."""
        last = self.conversation.last
        if last is None or (last.question, last.answer) != (turn.question, turn.answer):
            self.conversation.add(turn)

    def reset(self) -> int:
        """Forget every turn; returns how many there were."""
        turns = len(self.conversation.turns)
        self.conversation.reset()
        return turns


class ConversationStore:
    """Conversations by :class:`ConversationKey`, bounded in number, turns and age.

    Args:
        max_conversations: Conversations kept; the least recently used is forgotten first.
        max_turns: Turns per conversation.
        max_age_s: Turns older than this are forgotten.
    """

    def __init__(self, max_conversations: int, max_turns: int, max_age_s: float) -> None:
        self.max_turns = max_turns
        self.max_age_s = max_age_s
        self._slots: BoundedLRU[ConversationKey, Slot] = BoundedLRU(max_conversations)

    def slot(self, key: ConversationKey) -> Slot:
        """The slot for ``key`` (a new, empty conversation the first time)."""
        slot = self._slots.get(key)
        if slot is None:
            slot = Slot(Conversation(self.max_turns, self.max_age_s))
            self._slots.put(key, slot)
        return slot

    def peek(self, key: ConversationKey) -> Slot | None:
        """The slot for ``key`` if there is one (nothing is created)."""
        return self._slots.get(key)

    def get(self, key: ConversationKey) -> Conversation:
        """The conversation for ``key`` (a new, empty one the first time)."""
        return self.slot(key).conversation

    def put(self, key: ConversationKey, conversation: Conversation) -> None:
        """Store ``conversation`` under ``key`` (a thread opened for a question takes it over)."""
        self.slot(key).conversation = conversation

    def reset(self, key: ConversationKey) -> int:
        """Forget the conversation for ``key``.

        Returns:
            How many turns were forgotten.
        """
        slot = self._slots.get(key)
        return slot.reset() if slot is not None else 0

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __len__(self) -> int:
        return len(self._slots)


@dataclass
class AnswerRecord:
    """An answer the bot sent, and the conversation it belongs to."""

    answer: Answer
    key: ConversationKey
    at: float = field(default_factory=time.time)


class AnswerCache:
    """Recent answers by the id of every message they were sent in."""

    def __init__(self, capacity: int = 2000) -> None:
        self._records: BoundedLRU[int, AnswerRecord] = BoundedLRU(capacity)

    def remember(self, message_ids: list[int], record: AnswerRecord) -> None:
        for message_id in message_ids:
            self._records.put(message_id, record)

    def get(self, message_id: int) -> AnswerRecord | None:
        return self._records.get(message_id)

    def __len__(self) -> int:
        return len(self._records)
