"""The engine worker: off the event loop, bounded, one rebuild at a time, safe around a rebuild."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.worker import Busy, EngineWorker, ReindexRunning


class SlowEngine:
    """Stands in for the engine where timing must be controlled (spec: ask/build/stats/ensure_index)."""

    def __init__(self) -> None:
        self.asks = 0
        self.release = threading.Event()

    def ask(self, question, conversation=None):
        self.asks += 1
        self.release.wait(5)
        return f"answer to {question}"

    def build(self, full=False, progress=False):
        self.release.wait(5)
        return "report"


async def test_one_rebuild_at_a_time_and_a_bounded_queue():
    engine = SlowEngine()
    worker = EngineWorker(engine, workers=1, max_pending=2)
    build = asyncio.create_task(worker.build())
    await asyncio.sleep(0.05)
    with pytest.raises(ReindexRunning):
        await worker.build()
    asks = [asyncio.create_task(worker.ask(str(i))) for i in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(Busy):
        await worker.ask("one too many")
    # the event loop is free while the engine works
    started = time.perf_counter()
    await asyncio.sleep(0.01)
    assert time.perf_counter() - started < 0.5
    engine.release.set()
    assert await asyncio.gather(*asks) == ["answer to 0", "answer to 1"]
    await build
    assert worker.answered == 2 and worker.pending == 0
    worker.close()
