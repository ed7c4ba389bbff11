"""The on-disk index as opened for questions: HNSW search settings, and HNSW against exact search."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.engine import Engine
from qa.indexing import _faiss_index
from qa.retrieval import Query, retrieve

from .conftest import SEED, make_settings

QUESTIONS = [
    "Who is the US ambassador to Russia?",
    "Which 1999 intervention did Yeltsin oppose?",
    "Where does the station record rainfall near river 3?",
    "What did the harbour master of Port Elsin report?",
    "Which orchard grows the most pears?",
]

CITIES = ["Port Elsin", "Valdora", "Kestrel Bay", "Marrow Hill", "Oskfjord", "Tamberlane", "Cindral", "Ushgard"]
THINGS = ["pears", "copper", "wool", "salt", "timber", "glass", "barley", "amber"]


def _write_corpus(docs: Path) -> None:
    """The bundled article plus 24 short documents: some 80 chunks, enough for a real graph."""
    docs.mkdir(parents=True)
    shutil.copy(SEED, docs / SEED.name)
    for i in range(24):
        city, thing = CITIES[i % len(CITIES)], THINGS[(i * 3) % len(THINGS)]
        sentences = [
            f"The harbour master of {city} reported {i + 3} ships carrying {thing} in week {i}.",
            f"Station {i} records rainfall near river {i % 7}, measuring {10 + i} millimetres a day.",
            f"The orchard at {city} grows {thing} and {THINGS[(i + 1) % len(THINGS)]} on {i + 2} hectares.",
            f"In {1900 + i * 4} the council of {city} opened a school for {20 + i} pupils.",
            f"Merchants from {CITIES[(i + 2) % len(CITIES)]} bought {thing} at {i + 1} crowns a barrel.",
        ]
        # Three sections, so three chunks per document.
        text = (f"# {city} ledger {i}\n\n## Harbour\n\n{sentences[0]} {sentences[4]}\n\n"
                f"## Weather\n\n{sentences[1]}\n\n## Land and school\n\n{sentences[2]} {sentences[3]}\n")
        (docs / f"town{i:02d}.md").write_text(text, "utf-8")


@pytest.fixture(scope="module")
def flat_and_hnsw(tmp_path_factory, embedder) -> tuple[Engine, Engine]:
    """Two indexes of the same documents: exact search (the default) and an HNSW graph."""
    root = tmp_path_factory.mktemp("hnsw")
    _write_corpus(root / "source_docs")
    flat = Engine(make_settings(root))
    hnsw = Engine(make_settings(root).replace(index_dir=root / "index-hnsw", hnsw_threshold=0))
    flat.build()
    hnsw.build()
    return flat, hnsw


def test_ef_search_rule():
    assert store.hnsw_ef_search(0) == 256
    assert store.hnsw_ef_search(100_000) == 256
    assert store.hnsw_ef_search(1_000_000) == 1000
    assert store.hnsw_ef_search(50_000_000) == 2048
    assert store.hnsw_ef_search(1_000_000, setting=40) == 40  # a setting wins, as given


def test_hnsw_index_gets_ef_search_when_opened(flat_and_hnsw):
    flat, hnsw = flat_and_hnsw
    assert flat.index().manifest["index_type"] == "flat"
    assert isinstance(flat.index().faiss_index, store.FlatSearch)
    assert not (flat.index().folder / "chunks.faiss").exists()  # exact search reads chunk_vectors.npy
    index = hnsw.index()
    assert index.manifest["index_type"] == "hnsw"
    assert index.faiss_index.hnsw.efSearch == 256
    # Written to disk without it (FAISS keeps its default in the file): it is set on every open.
    import faiss

    assert faiss.read_index(str(index.folder / "chunks.faiss")).hnsw.efSearch != 256


def test_ef_search_setting_overrides_the_rule(flat_and_hnsw):
    _, hnsw = flat_and_hnsw
    tuned = Engine(hnsw.settings.replace(hnsw_ef_search=77))
    assert tuned.folder.load().faiss_index.hnsw.efSearch == 77
    assert tuned.index().faiss_index.hnsw.efSearch == 77


def test_hnsw_finds_what_exact_search_finds(flat_and_hnsw):
    flat, hnsw = flat_and_hnsw
    fi, hi = flat.index(), hnsw.index()
    n = len(fi.chunks)
    assert n == len(hi.chunks) and n > 60
    np.testing.assert_array_equal(np.asarray(fi.chunk_vectors), np.asarray(hi.chunk_vectors))
    vectors = flat.encode_queries(QUESTIONS)
    depth = min(flat.settings.candidates, n)
    _, exact = fi.faiss_index.search(vectors, depth)
    _, graph = hi.faiss_index.search(vectors, depth)
    np.testing.assert_array_equal(graph, exact)
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        query = [Query(question, vector, 1.0)]
        assert [h.row for h in retrieve(hi, query, 5)] == [h.row for h in retrieve(fi, query, 5)]
        assert hnsw.ask(question).answer == flat.ask(question).answer


def test_ef_search_rule_recall_on_a_larger_graph():
    """Clustered unit vectors like sentence embeddings: FAISS's default efSearch misses, the rule does not."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((60, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 60, 6000)] + 0.35 * rng.standard_normal((6000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(6000, 200, replace=False)] + 0.1 * rng.standard_normal((200, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert _faiss_index(vectors, hnsw_threshold=len(vectors)) is None  # exact search needs no FAISS index
    graph = _faiss_index(vectors, hnsw_threshold=0)
    assert hasattr(graph, "hnsw")
    _, truth = store.FlatSearch(vectors).search(queries, 10)

    def recall(ef_search: int) -> float:
        graph.hnsw.efSearch = ef_search
        _, found = graph.search(queries, 10)
        return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))

    ruled = recall(store.hnsw_ef_search(graph.ntotal))
    assert ruled >= 0.99
    assert recall(16) < ruled  # FAISS's default (~0.94 here)


def _faiss_flat(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def test_flat_search_returns_what_faiss_returns(flat_and_hnsw):
    flat, _ = flat_and_hnsw
    index = flat.index()
    questions = flat.encode_queries(QUESTIONS)
    for vectors in (np.asarray(index.chunk_vectors), np.asarray(index.sentence_vectors)):
        ours, theirs = store.FlatSearch(vectors), _faiss_flat(vectors)
        n = len(vectors)
        # Questions, and stored vectors as queries (each finds itself first).
        for queries in (questions, vectors[:: max(1, n // 40)], questions[:1]):
            for k in (1, 5, 50, n, n + 7):
                scores, rows = ours.search(queries, k)
                want_scores, want_rows = theirs.search(queries, k)
                np.testing.assert_array_equal(rows, want_rows)
                np.testing.assert_allclose(scores[:, :n], want_scores[:, :n], atol=1e-5)
                assert scores.shape == rows.shape == (len(queries), k) and scores.dtype == np.float32


def test_flat_search_breaks_ties_like_faiss():
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for copy, original in ((40, 7), (150, 7), (299, 7), (12, 3), (200, 3)):
        vectors[copy] = vectors[original]  # identical vectors score exactly alike
    queries = np.stack([vectors[7], vectors[3], vectors[7] + 0.05 * vectors[3], vectors[100]]).astype(np.float32)
    ours, theirs = store.FlatSearch(vectors), _faiss_flat(vectors)
    for k in (1, 2, 3, 4, 5, 10):  # the k-th place falls inside a run of ties
        np.testing.assert_array_equal(ours.search(queries, k)[1], theirs.search(queries, k)[1])
    nothing = np.zeros((0, 32), dtype=np.float32)
    scores, rows = store.FlatSearch(nothing).search(queries, 3)
    want_scores, want_rows = _faiss_flat(nothing).search(queries, 3)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(scores, want_scores)
    assert (rows == -1).all() and rows.shape == (4, 3)


def test_retrieval_with_flat_search_equals_retrieval_with_faiss(flat_and_hnsw):
    flat, _ = flat_and_hnsw
    ours = flat.folder.load()
    theirs = flat.folder.load()
    theirs.__dict__["faiss_index"] = _faiss_flat(np.asarray(theirs.chunk_vectors))  # what qa used before
    vectors = flat.encode_queries(QUESTIONS)
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        for queries in ([Query(question, vector, 1.0)], [Query(question, vector, 0.7), Query("x", vectors[0], 0.3)]):
            a, b = retrieve(ours, queries, 10), retrieve(theirs, queries, 10)
            assert [h.row for h in a] == [h.row for h in b]
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x.sentence_rows, y.sentence_rows)
                assert (x.score, x.dense, x.keyword) == (y.score, y.dense, y.keyword)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_exact_search_questions_do_not_import_faiss(flat_and_hnsw, kind):
    engine = flat_and_hnsw[0] if kind == "flat" else flat_and_hnsw[1]
    s = engine.settings
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from qa.engine import Engine\n"
        "from qa.settings import Settings\n"
        "engine = Engine(Settings(docs_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), encoder_dir=Path(sys.argv[3]),"
        " hnsw_threshold=int(sys.argv[4])))\n"
        "assert engine.ensure_index()[0] == 'ok'\n"
        "assert 'Tracy' in engine.ask('Who is the US ambassador to Russia?').answer\n"
        "print('faiss' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(store.__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(s.docs_dir), str(s.index_dir), str(s.encoder_dir), str(s.hnsw_threshold)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("False" if kind == "flat" else "True")
