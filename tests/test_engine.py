"""The facade: questions keep working while builds swap the index underneath them."""

from __future__ import annotations

import threading

from qa.engine import Engine


def test_questions_during_rebuilds_never_fail(engine: Engine):
    errors: list[BaseException] = []
    answers: list[str] = []
    stop = threading.Event()

    def ask_repeatedly() -> None:
        while not stop.is_set():
            try:
                answers.append(engine.ask("Who is the US ambassador to Russia?").answer)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask_repeatedly) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        extra = engine.settings.docs_dir / "extra.txt"
        for i in range(4):
            extra.write_text(f"Revision {i}: the quarterly report lists {i} new consulates.", "utf-8")
            assert engine.build().written
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert answers and all("Tracy" in a for a in answers)
