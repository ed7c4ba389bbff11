"""Build, reload, incremental updates, staleness, corruption and interrupted builds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.engine import Engine
from qa.errors import CorruptIndexError

from .conftest import ROOT, make_settings

NEW_FACT = "The Zorblat Treaty on lunar fisheries was signed in Reykjavik in 2031 by both governments."


def test_build_then_load_round_trip(engine: Engine):
    index = engine.index()
    assert index.manifest["format"] == "qa-index/1"
    assert index.manifest["model"] == "all-MiniLM-L6-v2"
    assert index.manifest["dimension"] == 384
    assert index.manifest["params"]["chunk_tokens"] == engine.settings.chunk_tokens
    assert index.faiss_index.ntotal == len(index.chunks) > 0
    doc = index.documents[0]
    assert doc.path == "russia-united-states-relations.txt" and len(doc.sha256) == 64
    source = (engine.settings.docs_dir / doc.path).read_text("utf-8")
    for row in range(len(index.chunks)):
        chunk = index.chunks[row]
        assert index.chunk_text(row) == source[chunk["start"] : chunk["end"]]
    # A fresh engine on the same folder reads the same index and answers.
    again = Engine(engine.settings)
    assert again.status() == "ok"
    assert again.ask("Who is the US ambassador to Russia?").answered


def test_incremental_add_edit_delete_follow_the_files(engine: Engine):
    docs = engine.settings.docs_dir
    (docs / "notes").mkdir()
    new = docs / "notes" / "treaty.md"
    new.write_text(f"# Treaties\n\n{NEW_FACT}\n", "utf-8")
    assert engine.status() == "stale"
    report = engine.build()
    assert report.added == ["notes/treaty.md"] and not report.changed and not report.removed
    assert report.unchanged == 1 and not report.full
    chunks_of_new = sum(1 for d in engine.index().documents if d.path == "notes/treaty.md")
    assert report.embedded_chunks == chunks_of_new == 1
    answer = engine.ask("Where was the Zorblat Treaty signed?")
    assert answer.answered and "Reykjavik" in answer.answer
    assert answer.citations[0].source == "source_docs/notes/treaty.md"
    assert answer.citations[0].section == "Treaties"

    new.write_text(f"# Treaties\n\n{NEW_FACT.replace('Reykjavik', 'Helsinki')}\n", "utf-8")
    report = engine.build()
    assert report.changed == ["notes/treaty.md"] and report.embedded_chunks == 1
    assert "Helsinki" in engine.ask("Where was the Zorblat Treaty signed?").answer

    new.unlink()
    report = engine.build()
    assert report.removed == ["notes/treaty.md"] and report.embedded_chunks == 0
    assert all(d.path != "notes/treaty.md" for d in engine.index().documents)
    answer = engine.ask("Where was the Zorblat Treaty signed?")
    assert all("treaty.md" not in c.source for c in answer.citations)


def test_rebuild_without_changes_embeds_nothing(engine: Engine):
    before = engine.folder.current_name()
    report = engine.build()
    assert not report.written and report.embedded_chunks == 0 and report.embedded_sentences == 0
    assert engine.folder.current_name() == before
    # Touching a file without changing it is not a change either.
    path = engine.settings.docs_dir / "russia-united-states-relations.txt"
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert engine.status() == "ok"


@pytest.mark.parametrize(("name", "data"), [("binary.md", b"a\x00b"), ("bom.txt", b"\xef\xbb\xbf\n"),
                                            ("latin1.txt", "caf\xe9".encode("latin-1"))])
def test_a_file_the_build_skips_leaves_the_index_fresh(engine: Engine, name: str, data: bytes):
    (engine.settings.docs_dir / name).write_bytes(data)
    report = engine.build()
    assert name in {f.path for f in report.skipped}
    assert engine.status() == "ok"  # not stale forever: the freshness check skips what the build skips


def test_full_rebuild_and_settings_change_force_reembedding(corpus: Path, embedder):
    Engine(make_settings(corpus)).build()
    report = Engine(make_settings(corpus)).build(full=True)
    assert report.full and report.embedded_chunks > 0
    changed = Engine(make_settings(corpus, chunk_tokens=96))
    assert changed.status() == "stale"  # files unchanged, but the chunking changed...
    assert changed.stats().stale
    report = changed.build()  # ...so everything is re-embedded
    assert report.full and "settings changed" in report.reason and report.embedded_chunks >= 4
    assert changed.index().manifest["params"]["chunk_tokens"] == 96


def test_sentences_are_embedded_with_their_section_unless_switched_off(corpus: Path, embedder):
    import numpy as np

    engine = Engine(make_settings(corpus))
    engine.build()
    index = engine.index()
    row = next(r for r in range(len(index.sentences)) if "Hegseth" in index.sentence_text(r))
    text = index.sentence_text(row)
    with_heading, alone = embedder.encode([f"Russia–United States relations\n{text}", text])
    assert float(index.sentence_vectors[row] @ with_heading) > 0.999
    assert float(index.sentence_vectors[row] @ alone) < 0.99
    plain = Engine(make_settings(corpus, sentence_context=False))
    report = plain.build()  # another index text: everything is re-embedded
    assert report.full and report.embedded_sentences == len(index.sentences)
    assert float(np.asarray(plain.index().sentence_vectors[row]) @ alone) > 0.999


@pytest.mark.parametrize(("damage", "says"), [
    ("manifest", "manifest.json is not valid JSON"),
    ("faiss", "chunks.faiss is unreadable"),
    ("current", "CURRENT does not name a generation"),
    ("vectors", "chunk_vectors.npy is not a valid array file"),
    ("foreign_format", "it was not written by this version of qa"),
    ("documents", "documents.json is not valid JSON"),
    ("texts", "texts.bin disagrees with documents.json"),
])
def test_corruption_is_detected_and_repaired_by_a_rebuild(engine: Engine, damage: str, says: str):
    if damage == "faiss":  # only an HNSW index has a chunks.faiss (exact search reads chunk_vectors.npy)
        engine = Engine(engine.settings.replace(hnsw_threshold=0))
        assert engine.build(full=True).written
    folder = engine.settings.index_dir
    gen = folder / engine.folder.current_name()
    if damage == "manifest":
        (gen / "manifest.json").write_text("{not json", "utf-8")
    elif damage == "faiss":
        (gen / "chunks.faiss").write_bytes(b"garbage")
    elif damage == "current":
        (folder / "CURRENT").write_text("../../etc\n", "utf-8")
    elif damage == "vectors":
        (gen / "chunk_vectors.npy").write_bytes(b"\x93NUMPY garbage")
    elif damage == "documents":
        (gen / "documents.json").write_text("[{", "utf-8")
    elif damage == "texts":
        (gen / "texts.bin").write_bytes((gen / "texts.bin").read_bytes()[:100])  # cut short
    else:
        (gen / "manifest.json").write_text(json.dumps({"format": "other-tool/3"}), "utf-8")
    fresh = Engine(engine.settings)
    status = fresh.status()
    assert status.startswith("corrupt:") and status.endswith(f"is corrupt: {says}") and "\n" not in status
    with pytest.raises(CorruptIndexError):
        fresh.index()
    report = fresh.build()
    assert report.full and report.written
    assert report.reason == f"the previous index was unreadable ({says})"  # the file named, not the folder again
    assert fresh.status() == "ok"
    assert "Tracy" in fresh.ask("Who is the US ambassador to Russia?").answer


def test_foreign_files_are_reported_not_deleted(engine: Engine):
    stray = engine.settings.index_dir / "my-notes.txt"
    stray.write_text("mine", "utf-8")
    assert engine.stats().foreign == ["my-notes.txt"]
    engine.build(full=True)
    assert stray.read_text("utf-8") == "mine"


def test_another_process_rebuild_is_picked_up(engine: Engine):
    reader = Engine(engine.settings)
    assert "Zorblat" not in reader.ask("Zorblat Treaty lunar fisheries").answer
    (engine.settings.docs_dir / "t.txt").write_text(NEW_FACT, "utf-8")
    engine.build()
    assert "Zorblat" in reader.ask("Where was the Zorblat Treaty signed?").answer


def _big_corpus(docs: Path, n: int) -> None:
    for i in range(n):
        (docs / f"bulk{i:03d}.txt").write_text(
            " ".join(f"Fact {i}-{j}: the station number {i * 100 + j} records rainfall near river {j}." for j in range(12)),
            "utf-8",
        )


@pytest.mark.parametrize("moment", ["embedding", "writing"])
def test_build_killed_midway_leaves_the_previous_index_usable(engine: Engine, moment: str):
    settings = engine.settings
    before = engine.folder.current_name()
    _big_corpus(settings.docs_dir, 60)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "build", "--quiet", "--docs", str(settings.docs_dir), "--index", str(settings.index_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    try:
        if moment == "embedding":
            time.sleep(8)  # model loaded, embedding under way (the bulk takes longer than this)
        else:
            while time.time() < deadline and not list(settings.index_dir.glob(".tmp-*")):
                if proc.poll() is not None:
                    break
                time.sleep(0.002)
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    fresh = Engine(settings)
    if killed and fresh.folder.current_name() != before:
        # On a fast machine the build may have swapped its generation in and been killed while
        # exiting: then the new index is the whole one, never a part.
        assert len(fresh.index().documents) == 61
    # Either way the index in place is complete and answers.
    fresh.index().check()
    assert "Tracy" in fresh.ask("Who is the US ambassador to Russia?").answer
    # The next build finishes the job and clears what the killed one left behind.
    fresh.build()
    assert not list(settings.index_dir.glob(".tmp-*"))
    assert fresh.status() == "ok"
    assert len(fresh.index().documents) == 61


def test_hnsw_build_uses_every_core_and_leaves_faiss_on_one_thread(monkeypatch):
    import faiss
    import numpy as np

    from qa.indexing import _faiss_index

    threads_during_add: list[int] = []
    real_add = faiss.IndexHNSWFlat.add

    def add(self, x):
        threads_during_add.append(faiss.omp_get_max_threads())
        return real_add(self, x)

    monkeypatch.setattr(faiss.IndexHNSWFlat, "add", add)
    vectors = np.random.default_rng(0).standard_normal((500, 32)).astype(np.float32)
    faiss.omp_set_num_threads(1)  # as the question path leaves it
    index = _faiss_index(vectors, hnsw_threshold=100)
    assert index.ntotal == 500 and hasattr(index, "hnsw")
    assert threads_during_add == [len(os.sched_getaffinity(0))]
    assert faiss.omp_get_max_threads() == 1  # questions asked in this process stay single-threaded
    assert _faiss_index(vectors, hnsw_threshold=500) is None  # exact search: no FAISS index at all
