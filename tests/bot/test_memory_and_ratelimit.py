"""Bounded memory: conversations, answers, rate-limit buckets."""

from __future__ import annotations

import asyncio

from bot.memory import BoundedLRU, ConversationKey, ConversationStore
from bot.ratelimit import RateLimiter
from bot.service import QAService
from qa.conversation import Turn


def test_conversations_are_bounded_and_least_recently_used_go_first():
    store = ConversationStore(max_conversations=3, max_turns=2, max_age_s=3600)
    keys = [ConversationKey("channel", 1, user) for user in range(4)]
    for key in keys[:3]:
        store.get(key).add(Turn("q", "q", "a"))
    store.get(keys[0])  # used again: now the most recent
    store.get(keys[3])
    assert len(store) == 3 and keys[1] not in store and keys[0] in store
    conversation = store.get(keys[0])
    for i in range(5):
        conversation.add(Turn(f"q{i}", f"q{i}", "a"))
    assert [t.question for t in conversation.turns] == ["q3", "q4"]  # bounded in turns too
    assert store.reset(keys[0]) == 2 and store.get(keys[0]).turns == []


def test_old_turns_expire():
    store = ConversationStore(10, 8, max_age_s=60)
    conversation = store.get(ConversationKey("dm", 5))
    conversation.add(Turn("old", "old", "a", at=0.0))
    assert conversation.turns == []


def test_keys_are_shared_in_threads_and_dms_and_per_user_in_channels():
    class Channel:
        id = 7
        guild = object()

    assert ConversationKey.for_channel(Channel(), 1) == ConversationKey("channel", 7, 1)
    assert ConversationKey.for_channel(Channel(), 1) != ConversationKey.for_channel(Channel(), 2)

    class NoGuild:
        id = 8
        guild = None

    assert ConversationKey.for_channel(NoGuild(), 1) == ConversationKey.for_channel(NoGuild(), 2)
    assert ConversationKey.for_thread(9).scope == "thread"


def test_bounded_lru():
    lru: BoundedLRU[int, str] = BoundedLRU(2)
    lru.put(1, "a")
    lru.put(2, "b")
    lru.get(1)
    lru.put(3, "c")
    assert 2 not in lru and lru.get(1) == "a" and len(lru) == 2


def test_rate_limit_window_first_refusal_and_recovery():
    now = [0.0]
    limiter = RateLimiter(limit=2, window_s=10, clock=lambda: now[0])
    assert limiter.hit(1).allowed and limiter.hit(1).allowed
    refused = limiter.hit(1)
    assert not refused.allowed and refused.first_refusal and 9.9 < refused.retry_after <= 10
    again = limiter.hit(1)
    assert not again.allowed and not again.first_refusal
    assert limiter.hit(2).allowed  # per user
    now[0] = 10.5
    assert limiter.hit(1).allowed


def test_rate_limit_memory_is_bounded_and_zero_disables():
    now = [0.0]
    limiter = RateLimiter(limit=1, window_s=1, max_users=100, clock=lambda: now[0])
    for user in range(1000):
        now[0] += 0.001
        limiter.hit(user)
    assert len(limiter) <= 100
    off = RateLimiter(limit=0, window_s=1)
    assert all(off.hit(1).allowed for _ in range(100))


async def test_a_question_keeps_the_conversation_slot_it_waited_for(bot_settings, seed_engine, monkeypatch):
    """With eviction, a question that waited for a conversation's lock still uses that slot's
    conversation, so no two questions ever write to one conversation at once."""
    service = QAService(bot_settings(seed_engine, max_conversations=1), seed_engine)
    running: dict[int, int] = {}
    overlaps, started = [], []
    gates = {q: asyncio.Event() for q in ("a1", "a2", "a3")}

    async def ask(question, conversation=None):  # the engine, in conversations the test controls
        if running.get(id(conversation)):
            overlaps.append(question)
        running[id(conversation)] = running.get(id(conversation), 0) + 1
        started.append(question)
        try:
            if question in gates:
                await gates[question].wait()
            return question
        finally:
            running[id(conversation)] -= 1

    async def until_started(question):
        for _ in range(100_000):
            if question in started:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"{question} never reached the engine")

    monkeypatch.setattr(service.worker, "ask", ask)
    a, b = ConversationKey("channel", 1, 1), ConversationKey("channel", 1, 2)
    first = asyncio.create_task(service.answer("a1", a))
    await until_started("a1")
    second = asyncio.create_task(service.answer("a2", a))  # waits for a's lock …
    await asyncio.sleep(0)
    assert await service.answer("b", b) == "b"  # … while conversation b pushes a out of the store
    gates["a1"].set()
    await first
    await until_started("a2")
    third = asyncio.create_task(service.answer("a3", a))
    await until_started("a3")
    gates["a2"].set()
    gates["a3"].set()
    assert await asyncio.gather(second, third) == ["a2", "a3"]
    assert overlaps == []
    service.close()
