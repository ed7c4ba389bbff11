"""A per-user sliding-window rate limit, bounded in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Verdict:
    """The outcome of one attempt.

    Attributes:
        allowed: Whether the attempt may go ahead.
        retry_after: Seconds until the next attempt would be allowed (0 when allowed).
        first_refusal: True for the first refusal in a window: worth telling the user; later ones
            are not, so a user who keeps typing does not make the bot spam the channel.
    """

    allowed: bool
    retry_after: float = 0.0
    first_refusal: bool = False


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    warned: bool = False


class RateLimiter:
    """At most ``limit`` attempts per user in any ``window_s`` seconds.

    Args:
        limit: Attempts allowed per window; 0 disables the limit.
        window_s: Window length in seconds.
        max_users: Users tracked at once; idle users are pruned first, so memory stays bounded.
        clock: Monotonic time source (injectable for tests).
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_users = max_users
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def hit(self, user_id: int) -> Verdict:
        """Record an attempt by ``user_id`` and say whether it is allowed."""
        if self.limit <= 0:
            return Verdict(True)
        now = self._clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._prune(now)
            bucket = self._buckets[user_id] = _Bucket()
        while bucket.hits and bucket.hits[0] <= now - self.window_s:
            bucket.hits.popleft()
        if len(bucket.hits) < self.limit:
            bucket.hits.append(now)
            bucket.warned = False
            return Verdict(True)
        first = not bucket.warned
        bucket.warned = True
        return Verdict(False, retry_after=max(0.0, bucket.hits[0] + self.window_s - now), first_refusal=first)

    def _prune(self, now: float) -> None:
        idle = [uid for uid, b in self._buckets.items() if not b.hits or b.hits[-1] <= now - self.window_s]
        for uid in idle:
            del self._buckets[uid]
        # Still full (a flood of distinct users): forget the oldest half rather than grow.
        if len(self._buckets) >= self.max_users:
            for uid in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[uid]

    def __len__(self) -> int:
        return len(self._buckets)
