"""The facade: questions keep working while builds swap the index underneath them."""

from __future__ import annotations

import threading

import pytest

from qa.conversation import Conversation
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


NEW_FACT = "The Zorblat Treaty on lunar fisheries was signed in Reykjavik in 2031 by both governments."


def _count_loads(engine: Engine, monkeypatch) -> list:
    """Every index the engine reads from disk, in order."""
    loads: list = []
    real = engine.folder.load

    def load():
        index = real()
        loads.append(index)
        return index

    monkeypatch.setattr(engine.folder, "load", load)
    return loads


def test_status_hands_its_index_to_index(seed_engine: Engine, monkeypatch):
    reader = Engine(seed_engine.settings)
    loads = _count_loads(reader, monkeypatch)
    assert reader.status() == "ok"
    index = reader.index()
    assert loads == [index]  # loaded and checked once, not again by index()
    assert "Tracy" in reader.ask("Who is the US ambassador to Russia?").answer
    assert len(loads) == 1
    # status() still reads the disk (it is the health check), but the warm index stays.
    assert reader.status() == "ok"
    assert len(loads) == 2 and reader.index() is index


def test_index_after_status_still_notices_a_rebuild_elsewhere(engine: Engine, monkeypatch):
    reader = Engine(engine.settings)
    loads = _count_loads(reader, monkeypatch)
    assert reader.status() == "ok"
    first = reader.index()
    (engine.settings.docs_dir / "t.txt").write_text(NEW_FACT, "utf-8")
    assert engine.build().written  # "another process" swaps in a new generation
    second = reader.index()
    assert second is not first and second.folder.name == engine.folder.current_name()
    assert len(loads) == 2
    assert "Zorblat" in reader.ask("Where was the Zorblat Treaty signed?").answer
    # A third generation, seen first by status(): index() takes that one without loading again.
    (engine.settings.docs_dir / "t.txt").write_text(NEW_FACT.replace("2031", "2032"), "utf-8")
    assert engine.build().written
    assert reader.status() == "ok"
    assert reader.index() is loads[-1] and len(loads) == 3
    assert reader.index().folder.name == engine.folder.current_name()


def test_a_swap_during_status_is_not_missed(engine: Engine, monkeypatch):
    """A build that swaps the generation right after status() loaded the old one."""
    reader = Engine(engine.settings)
    real = reader.folder.load
    loaded = []

    def load_then_swap():
        index = real()
        loaded.append(index)
        (engine.settings.docs_dir / "t.txt").write_text(NEW_FACT, "utf-8")
        assert engine.build().written
        return index

    monkeypatch.setattr(reader.folder, "load", load_then_swap)
    assert reader.status() == "stale"  # what it loaded lacks t.txt
    monkeypatch.setattr(reader.folder, "load", real)
    index = reader.index()
    assert index is not loaded[0] and index.folder.name == engine.folder.current_name()
    assert "Zorblat" in reader.ask("Where was the Zorblat Treaty signed?").answer



def test_an_overview_of_many_documents_lists_their_titles(corpus, embedder):
    from .conftest import make_settings

    docs = corpus / "source_docs"
    for name, text in [("a.md", "# Apples\n\nApples grow on trees in temperate orchards.\n"),
                       ("b.md", "# Boats\n\nBoats float because they displace water.\n"),
                       ("c.md", "Clocks measure time with a regular oscillator.\n"),  # no title
                       ("d.md", "# Dunes\n\nDunes are hills of sand shaped by the wind.\n")]:
        (docs / name).write_text(text, "utf-8")
    engine = Engine(make_settings(corpus, top_k=4))
    engine.build()
    answer = engine.ask("What are these documents about?")
    assert answer.answered
    # Five documents, four shown in path order: a title each, or the opening sentence without one.
    assert answer.answer == ("Apples [1]\nBoats [2]\nClocks measure time with a regular oscillator. [3]\n"
                             "Dunes [4]")
    assert [c.source for c in answer.citations] == ["source_docs/a.md", "source_docs/b.md", "source_docs/c.md",
                                                    "source_docs/d.md"]
    assert all(c.cited for c in answer.citations)
    assert answer.warnings == ["5 documents; 4 are shown — ask about a topic"]


def test_the_number_of_sources_listed_does_not_change_the_answer(corpus, embedder):
    from .conftest import make_settings

    docs = corpus / "source_docs"
    for n, topic in enumerate(["Apples grow on trees in orchards.", "Boats float on water.",
                               "Clocks measure time.", "Dunes are hills of sand.", "Eels live in rivers.",
                               "Ferns grow in shade."]):
        (docs / f"extra-{n}.md").write_text(f"# Note {n}\n\n{topic}\n", "utf-8")
    engine = Engine(make_settings(corpus))
    engine.build()
    questions = ["Who became Russia's president after Yeltsin?", "What did Pete Hegseth order?",
                 "What is the capital of France?"]
    dialogue = ["What happened in 1991?", "And then?", "And then?"]
    runs = {}
    for k in (1, 5, 9):
        conversation = Conversation()
        runs[k] = [engine.ask(q, top_k=k) for q in questions] + [engine.ask(q, conversation, top_k=k) for q in dialogue]
    for k, answers in runs.items():
        for answer, default in zip(answers, runs[5], strict=True):
            assert (answer.answered, answer.answer) == (default.answered, default.answer), (k, answer.question)
            cited = [c for c in answer.citations if c.cited]
            # The cited sources come first and are always listed; then the closest, up to k.
            assert answer.citations[: len(cited)] == cited
            assert len(answer.citations) == max(k, len(cited))
            assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert all(a.answered for a in runs[1][:2] + runs[1][3:])  # "And then?" goes on with one source listed


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("Who\x07 is the US\x1b[31m ambassador\x00 to Russia?", "Who is the US ambassador to Russia?"),
    ("Who is\x1b]0;a title\x07 the US ambassador?", "Who is the US ambassador?"),  # a terminal title, whole
    ("  tabs\tand\nnewlines  ", "tabs and newlines"),
])
def test_a_question_loses_control_characters_and_escape_sequences_whole(raw, cleaned):
    from qa.engine import clean_question

    assert clean_question(raw, 1000) == (cleaned, [])
