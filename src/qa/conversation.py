"""Conversation memory and follow-up resolution, without a language model.

A follow-up ("What did he oppose in 1999?", "And Russia's ambassador?") is retrieved twice: as
asked, and expanded with the previous question and the salient words of the previous answer;
the two retrievals are fused with weights. A self-contained new question is left alone.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field

_PRONOUNS = re.compile(
    r"\b(he|she|it|they|them|him|her|his|hers|its|their|theirs|this|that|these|those|there|then|"
    r"the latter|the former|the same)\b",
    re.IGNORECASE,
)
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|what about|how about|and what|why|when|since when|on what|who else|"
    r"where else|which one|how so|how long|what else)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][\w'’-]*|\d[\d,.]*")
_STOP = frozenset(
    "a an the and or but of in on at to for from by with about as is are was were be been being do did "
    "does what who whom whose which when where why how that this these those it its he she they them his "
    "her their there then than also so not no yes into over under after before during since until".split()
)


@dataclass
class Turn:
    """One exchange: the question, how it was understood, the answer text and its cited sources."""

    question: str
    understood_as: str
    answer: str
    sources: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)


@dataclass
class QueryPlan:
    """What to retrieve for a question: weighted query texts and the question as understood."""

    queries: list[tuple[str, float]]
    understood_as: str | None  # None when the question is taken as it is


class Conversation:
    """A bounded history of turns (by count and by age).

    Args:
        max_turns: Turns kept; older ones are forgotten.
        max_age_s: Turns older than this many seconds are forgotten.
    """

    def __init__(self, max_turns: int = 8, max_age_s: float = 3600.0) -> None:
        self.max_turns = max_turns
        self.max_age_s = max_age_s
        self._turns: deque[Turn] = deque(maxlen=max_turns)

    @property
    def turns(self) -> list[Turn]:
        """Turns still in memory, oldest first."""
        cutoff = time.time() - self.max_age_s
        while self._turns and self._turns[0].at < cutoff:
            self._turns.popleft()
        return list(self._turns)

    def add(self, turn: Turn) -> None:
        self._turns.append(turn)

    def reset(self) -> None:
        self._turns.clear()

    def __len__(self) -> int:
        return len(self.turns)


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in _STOP]


def is_follow_up(question: str) -> bool:
    """Whether a question leans on earlier turns (a pronoun, a leading "and"/"what about", or very short)."""
    words = content_words(question)
    return bool(_FOLLOW_UP_START.search(question) or _PRONOUNS.search(question) or len(words) <= 2)


def salient(text: str, limit: int = 8) -> list[str]:
    """Names and numbers of a text, most characteristic first (capitalised words, years)."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(re.sub(r"\[\d+\]", " ", text)):
        if (w[0].isupper() or w[0].isdigit()) and w.lower() not in _STOP:
            seen.setdefault(w, None)
    return list(seen)[:limit]


def plan(question: str, conversation: Conversation | None) -> QueryPlan:
    """Decide what to retrieve for ``question`` given the conversation so far.

    Args:
        question: The new question.
        conversation: Earlier turns, or ``None``.

    Returns:
        The weighted queries; a follow-up gets a second query with the earlier context.
    """
    turns = conversation.turns if conversation is not None else []
    if not turns or not is_follow_up(question):
        return QueryPlan([(question, 1.0)], None)
    last = turns[-1]
    context = [w for w in content_words(last.understood_as) if w.lower() not in question.lower()]
    context += [w for w in salient(last.answer) if w not in context and w.lower() not in question.lower()]
    expanded = f"{question} ({' '.join(context[:12])})" if context else question
    return QueryPlan([(question, 0.4), (expanded, 0.6)], expanded)
