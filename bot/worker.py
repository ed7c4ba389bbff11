"""Runs the engine off the event loop, so the gateway heartbeat never waits for a question.

Questions go to a small, bounded thread pool (the engine is thread-safe; more threads than cores
only adds contention). Rebuilds get their own thread so questions keep being answered from the
old index while a new one is built; the engine swaps it in when the build is done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.conversation import Conversation
    from qa.engine import Engine, Stats
    from qa.indexing import BuildReport

logger = logging.getLogger(__name__)


class Busy(Exception):
    """Too many questions are waiting already."""


class ReindexRunning(Exception):
    """A rebuild is in progress already."""


class EngineWorker:
    """Async front of an :class:`qa.engine.Engine`.

    Args:
        engine: The engine (shared; safe across threads).
        workers: Threads answering questions.
        max_pending: Questions queued or running before :class:`Busy` is raised.
    """

    def __init__(self, engine: Engine, workers: int = 4, max_pending: int = 64) -> None:
        self.engine = engine
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa-ask")
        self._build_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-build")
        self._pending = 0
        self._reindexing = asyncio.Lock()
        self.answered = 0

    async def _run(self, pool: ThreadPoolExecutor, fn, *args: Any, **kwargs: Any):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))

    async def ask(self, question: str, conversation: Conversation | None = None) -> Answer:
        """:meth:`Engine.ask` in a worker thread.

        Raises:
            Busy: When ``max_pending`` questions are already waiting.
            Exception: Whatever the engine raises.
        """
        if self._pending >= self.max_pending:
            raise Busy()
        self._pending += 1
        try:
            answer = await self._run(self._pool, self.engine.ask, question, conversation)
        finally:
            self._pending -= 1
        self.answered += 1
        return answer

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def reindexing(self) -> bool:
        return self._reindexing.locked()

    async def build(self, full: bool = False) -> BuildReport:
        """An incremental (or ``full``) rebuild in its own thread; one at a time.

        Raises:
            ReindexRunning: When a rebuild is running already.
        """
        if self._reindexing.locked():
            raise ReindexRunning()
        async with self._reindexing:
            return await self._run(self._build_pool, self.engine.build, full=full)

    async def ensure_index(self):
        """Build the index first when it is missing, stale or corrupt (at start-up)."""
        async with self._reindexing:
            return await self._run(self._build_pool, self.engine.ensure_index)

    async def stats(self) -> Stats:
        return await self._run(self._pool, self.engine.stats)

    def close(self) -> None:
        """Stop taking work; running calls finish in their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._build_pool.shutdown(wait=False, cancel_futures=True)
