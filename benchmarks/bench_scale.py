"""Scale benchmark: FAISS flat vs HNSW at 100k/1M vectors, BM25 at 100k chunks, end to end at 100k.

Usage (repository root, project virtualenv):

    python benchmarks/bench_scale.py                        # 100k + 1M dense, BM25 + end to end at 100k
    python benchmarks/bench_scale.py --quick                # 100k only, smaller grid (~4 min)
    python benchmarks/bench_scale.py --sizes 100000 --skip-e2e --json out.json
    python benchmarks/bench_scale.py --real-vectors /tmp/wh/index/gen-…/sentence_vectors.npy

Parts:

1. **dense**: N synthetic 384-d unit vectors (``clustered``: Gaussian clusters, a conservative
   case for graph search; or real MiniLM vectors from an index, replicated with noise). Exact
   top-k from a flat index is the ground truth. Flat (faiss and numpy) and HNSW over a grid of
   (M, efConstruction) × efSearch, one query at a time, single-threaded: p50/p95 query time,
   recall@10, and the share of the true top-10 inside the 50 candidates qa actually asks FAISS for
   (``settings.candidates``; qa rescores candidates exactly, so that is the recall that matters).
   Build time (FAISS threads = cores) and index bytes.
2. **bm25**: 100k synthetic chunks made of shuffled real sentences (the White House corpus),
   indexed with qa.keyword.KeywordIndex (bm25s), saved and memory-mapped as qa does: build time,
   load time, p50/p95 of ``scores()`` + top-50, also with the scoring prototypes of _proto.py.
3. **e2e**: a real qa index generation of 100k chunks written with qa.store.IndexFolder.write
   (texts from part 2, vectors synthetic, documents written to disk so staleness checks work), then
   in fresh processes: index load time and RSS, first question, warm ``qa.retrieval.retrieve`` and
   ``Engine.ask`` p50/p95 (flat and HNSW; with prototypes), and cold ``python -m qa ask``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REPO,
    du,
    loadavg,
    machine,
    pct,
    peak_rss_mb,
    quiet_env,
    rss_mb,
    rss_split_mb,
    run_json_worker,
    run_measured,
    src_state,
    summary,
    table,
    write_json,
)

SCRIPT = Path(__file__).resolve()
DIM = 384
DEFAULT_JSONL = REPO.parent / "shared" / "data" / "whitehouse-russia-docs.jsonl"


def _ms(xs):
    return [x * 1e3 for x in xs]


# ------------------------------------------------------------------------------------------------
# Vectors
# ------------------------------------------------------------------------------------------------


def clustered(n: int, seed: int, clusters: int | None = None, spread: float = 1.0):
    """Unit vectors around random centres: cos(member, centre) ≈ 0.7, members ≈ 0.5, others ≈ 0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clusters = clusters or max(10, n // 100)
    centres = rng.standard_normal((clusters, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for a in range(0, n, step):
        b = min(n, a + step)
        noise = rng.standard_normal((b - a, DIM), dtype=np.float32) * np.float32(spread / np.sqrt(DIM))
        block = centres[rng.integers(0, clusters, b - a)] + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[a:b] = block
    return out


def replicated(real, n: int, seed: int, noise: float = 0.35):
    """n vectors: real MiniLM vectors, each copy perturbed (cos to its original ≈ 0.94) and renormalised."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for a in range(0, n, step):
        b = min(n, a + step)
        block = real[rng.integers(0, len(real), b - a)] + rng.standard_normal((b - a, DIM), dtype=np.float32) * np.float32(
            noise / np.sqrt(DIM))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[a:b] = block
    return out


def load_real_vectors(path: Path):
    """Unit vectors from a .npy file, or a qa index (its current generation's chunk + sentence vectors)."""
    import numpy as np

    if path.is_dir():
        if (path / "CURRENT").is_file():
            path = path / (path / "CURRENT").read_text().strip()
        return np.concatenate([np.load(path / "chunk_vectors.npy"), np.load(path / "sentence_vectors.npy")]).astype(
            np.float32)
    return np.load(path).astype(np.float32)


def make_vectors(args, n: int, n_queries: int):
    """(database, queries) for one size."""
    import numpy as np

    if args.real_vectors:
        real = load_real_vectors(Path(args.real_vectors))
        rng = np.random.default_rng(1)
        held = rng.permutation(len(real))
        q_src, db_src = real[held[:n_queries]], real[held[n_queries:]]
        return replicated(db_src, n, seed=2), replicated(q_src, n_queries, seed=3, noise=0.6)
    both = clustered(n + n_queries, seed=n)
    return both[:n], both[n:]


# ------------------------------------------------------------------------------------------------
# Part 1: dense
# ------------------------------------------------------------------------------------------------


def time_queries(search, queries, k: int) -> tuple[list[float], list, list[float]]:
    """One query at a time, as qa searches: per-query wall seconds, results, and process CPU seconds.

    CPU time (all threads of this process) is far less sensitive than wall time to other users of
    the machine for single-threaded search; for multi-threaded search it also counts spinning.
    """
    times, results, cpu = [], [], []
    for q in queries:
        q = q.reshape(1, -1)
        c = time.process_time()
        t = time.perf_counter()
        res = search(q, k)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        results.append(res[1][0])
    return times, results, cpu


def recall(truth, found, at: int) -> float:
    """Mean share of each query's true top-``at`` found in ``found`` (any position)."""
    return statistics.mean(len(set(t[:at].tolist()) & set(f.tolist())) / at for t, f in zip(truth, found))


def bench_dense(args, n: int, grid: list[tuple[int, int]], ef_list: list[int], workdir: Path) -> dict:
    import faiss
    import numpy as np

    cores = os.cpu_count() or 1
    print(f"dense n={n:,}: generating vectors …", file=sys.stderr)
    t = time.perf_counter()
    db, queries = make_vectors(args, n, args.queries)
    gen_s = time.perf_counter() - t
    out: dict = {"n": n, "queries": len(queries), "generate_s": gen_s, "rows": []}

    faiss.omp_set_num_threads(cores)
    flat = faiss.IndexFlatIP(DIM)
    t = time.perf_counter()
    flat.add(db)
    flat_build = time.perf_counter() - t
    _, truth = flat.search(queries, 50)  # ground truth, batched, all cores
    nn_cos = float(np.median((db[truth[:, 0]] * queries).sum(1)))
    out["median_top1_cosine"] = nn_cos
    out["median_top10_cosine"] = float(np.median((db[truth[:, 9]] * queries).sum(1)))

    for threads in sorted({1, cores}):
        faiss.omp_set_num_threads(threads)
        times, _, cpu = time_queries(flat.search, queries[: args.flat_queries], 50)
        out["rows"].append({"index": "flat (faiss IndexFlatIP)", "threads": threads, "build_s": flat_build,
                            "bytes": db.nbytes, "p50_ms": pct(_ms(times), 50), "p95_ms": pct(_ms(times), 95),
                            "cpu_p50_ms": pct(_ms(cpu), 50), "recall@10": 1.0, "top10_in_50": 1.0})

    def numpy_search(q, k):
        s = (q @ db.T)[0]
        top = np.argpartition(-s, k - 1)[:k]
        return None, [top[np.argsort(-s[top])]]

    times, _, cpu = time_queries(numpy_search, queries[: args.flat_queries], 50)
    out["rows"].append({"index": "flat (numpy matmul)", "threads": "BLAS", "build_s": 0.0, "bytes": db.nbytes,
                        "p50_ms": pct(_ms(times), 50), "p95_ms": pct(_ms(times), 95), "cpu_p50_ms": pct(_ms(cpu), 50),
                        "recall@10": 1.0, "top10_in_50": 1.0})
    del flat

    for m, efc in grid:
        faiss.omp_set_num_threads(cores)
        index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = efc
        print(f"dense n={n:,}: HNSW M={m} efConstruction={efc} build …", file=sys.stderr)
        t = time.perf_counter()
        index.add(db)
        build_s = time.perf_counter() - t
        path = workdir / f"hnsw-{n}-{m}-{efc}.faiss"
        faiss.write_index(index, str(path))
        size = path.stat().st_size
        path.unlink()
        faiss.omp_set_num_threads(1)
        for ef in ef_list:
            index.hnsw.efSearch = ef
            t10, found10, _ = time_queries(index.search, queries, 10)
            t50, found50, c50 = time_queries(index.search, queries, 50)
            out["rows"].append({
                "index": f"HNSW M={m} efC={efc}", "efSearch": ef, "threads": 1, "build_s": build_s, "bytes": size,
                "p50_ms": pct(_ms(t50), 50), "p95_ms": pct(_ms(t50), 95), "cpu_p50_ms": pct(_ms(c50), 50),
                "p50_k10_ms": pct(_ms(t10), 50), "recall@10": recall(truth, found10, 10),
                "top10_in_50": recall(truth, found50, 10), "recall@50": recall(truth, found50, 50), "load": loadavg(),
            })
        if cores > 1:  # the same search with FAISS's default thread count (what qa does today)
            faiss.omp_set_num_threads(cores)
            index.hnsw.efSearch = ef_list[0]
            t50, found50, c50 = time_queries(index.search, queries, 50)
            out["rows"].append({
                "index": f"HNSW M={m} efC={efc}", "efSearch": ef_list[0], "threads": cores, "build_s": build_s,
                "bytes": size, "p50_ms": pct(_ms(t50), 50), "p95_ms": pct(_ms(t50), 95),
                "cpu_p50_ms": pct(_ms(c50), 50), "recall@10": float("nan"),
                "top10_in_50": recall(truth, found50, 10), "load": loadavg(),
            })
        del index
        if args.json_out:  # partial: this size so far
            write_json(args.json_out + ".partial", {"dense_in_progress": out}, quiet=True)
    return out


# ------------------------------------------------------------------------------------------------
# Part 2: BM25 on synthetic chunks from real sentences
# ------------------------------------------------------------------------------------------------


def corpus_sentences(jsonl: Path) -> tuple[list[str], list[str]]:
    """Real sentences and titles of the JSONL corpus."""
    sentences, titles = [], []
    with open(jsonl, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = json.loads(line)
            titles.append(" ".join(str(rec.get("title", "")).split()))
            for s in re.split(r"(?<=[.!?])\s+", rec.get("text", "")):
                s = " ".join(s.split())
                if 20 <= len(s) <= 400:
                    sentences.append(s)
    return sentences, titles


def synthetic_chunks(sentences: list[str], n_chunks: int, seed: int = 3) -> list[list[str]]:
    """n chunks of 4-8 shuffled real sentences (≈ qa's 200-word-piece chunks)."""
    rng = random.Random(seed)
    pool = list(sentences)
    rng.shuffle(pool)
    out, i = [], 0
    for _ in range(n_chunks):
        k = rng.randint(4, 8)
        if i + k > len(pool):
            rng.shuffle(pool)
            i = 0
        out.append(pool[i : i + k])
        i += k
    return out


def make_questions(sentences: list[str], titles: list[str], n: int, seed: int = 9) -> list[str]:
    """Question-like strings: 6-14 word spans of real sentences, and titles as questions."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 4 == 3:
            out.append(f"What did the White House say in the {rng.choice(titles)}?")
        else:
            words = rng.choice(sentences).split()
            k = rng.randint(6, 14)
            a = rng.randint(0, max(0, len(words) - k))
            out.append(" ".join(words[a : a + k]).rstrip(".") + "?")
    return out


PER_DOC = 50  # chunks per synthetic document


def keyword_texts(chunks: list[list[str]]) -> list[str]:
    """What qa keyword-indexes for each chunk: its section (the document title) and its text."""
    return [f"Synthetic document {i // PER_DOC}\n{' '.join(c)}" for i, c in enumerate(chunks)]


def bench_bm25(chunk_texts: list[str], questions: list[str], folder: Path):
    """BM25 build/load/query timings; also returns the built index for the end-to-end generation."""
    import _proto
    import numpy as np

    from qa.keyword import KeywordIndex

    out: dict = {"chunks": len(chunk_texts), "questions": len(questions)}
    print(f"bm25: indexing {len(chunk_texts):,} chunks …", file=sys.stderr)
    t = time.perf_counter()
    built = KeywordIndex.build(chunk_texts)
    out["build_s"] = time.perf_counter() - t
    shutil.rmtree(folder, ignore_errors=True)
    built.save(folder)
    out["bytes"] = du(folder)
    rss0 = rss_mb()
    t = time.perf_counter()
    kw = KeywordIndex.load(folder)
    out["load_s"] = time.perf_counter() - t
    out["rss_load_mb"] = rss_mb() - rss0
    out["vocab"] = len(kw.vocab) if hasattr(kw, "vocab") else None
    n = kw.size

    def top50(scores):
        part = np.argpartition(-scores, 49)[:50]
        return part[np.argsort(-scores[part])]

    def run(score_fn, label):
        times, results = [], []
        for q in questions:
            t = time.perf_counter()
            s = score_fn(q)
            results.append((s, top50(s)))
            times.append(time.perf_counter() - t)
        return {"variant": label, "p50_ms": pct(_ms(times), 50), "p95_ms": pct(_ms(times), 95)}, results

    rows = []
    row, ref = run(kw.scores, "qa.keyword.KeywordIndex.scores (bm25s, np.add.at per token)")
    rows.append(row)
    light = _proto.LightKeywordIndex(folder)
    row, res = run(light.scores, "prototype light-bm25 (numpy only, np.bincount)")
    row["max_abs_diff"] = max(float(np.abs(a[0] - b[0]).max()) for a, b in zip(ref, res))
    row["same_top50"] = statistics.mean(float(set(a[1].tolist()) == set(b[1].tolist())) for a, b in zip(ref, res))
    rows.append(row)
    # tokenisation alone (same for both)
    from qa.keyword import tokenize

    t = time.perf_counter()
    for q in questions:
        tokenize([q])
    rows.append({"variant": "  of which tokenize (bm25s.tokenize + stemmer)",
                 "p50_ms": (time.perf_counter() - t) / len(questions) * 1e3, "p95_ms": float("nan")})
    t = time.perf_counter()
    for q in questions:
        _proto.light_tokenize([q])
    rows.append({"variant": "  of which tokenize (prototype regex + stemmer)",
                 "p50_ms": (time.perf_counter() - t) / len(questions) * 1e3, "p95_ms": float("nan")})
    # posting-list lengths of query terms, to explain the cost
    ids = [kw._retriever.get_tokens_ids(tokenize([q])[0]) for q in questions] if hasattr(kw, "_retriever") else []
    if ids:
        indptr = np.asarray(kw._retriever.scores["indptr"])
        postings = [int(sum(indptr[i + 1] - indptr[i] for i in q)) for q in ids]
        out["median_postings_per_query"] = statistics.median(postings)
    out["rows"] = rows
    out["n"] = n
    return out, built


# ------------------------------------------------------------------------------------------------
# Part 3: a real 100k-chunk index generation
# ------------------------------------------------------------------------------------------------


def write_generation(chunks: list[list[str]], root: Path, docs: Path, per_doc: int, hnsw: tuple[int, int, int] | None,
                     keyword=None, seed: int = 4) -> dict:
    """Write docs to ``docs`` and a complete qa index generation for them into ``root``.

    Texts are real sentences; vectors are synthetic (one cluster per document; a chunk's vector is
    the normalised mean of its sentences'). The BM25 index is built by qa itself.
    """
    import numpy as np

    from qa import store
    from qa.documents import file_hash
    from qa.indexing import _faiss_index
    from qa.keyword import KeywordIndex
    from qa.settings import Settings

    # Synthetic vectors come without token vectors: no late interaction at this scale (its cost per
    # question is ~1 ms whatever the corpus: 30 reranked chunks' tokens, see RESULTS-quality.md).
    settings = Settings.from_env(docs_dir=docs, index_dir=root, token_vectors=False)
    rng = np.random.default_rng(seed)
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    n_docs = (len(chunks) + per_doc - 1) // per_doc
    entries, texts, chunk_rows, sent_rows, keyword_texts, sections = [], [], [], [], [], []
    n_sent = 0
    for d in range(n_docs):
        part = chunks[d * per_doc : (d + 1) * per_doc]
        title = f"Synthetic document {d}"
        sections.append(title)
        text = f"# {title}\n\n"
        line = 3
        crows = np.zeros(len(part), dtype=store.CHUNK_DTYPE)
        srows = []
        for c, sents in enumerate(part):
            start = len(text)
            first = n_sent + len(srows)
            for s_i, s in enumerate(sents):
                s_start = len(text)
                text += s
                srows.append((d, s_start, len(text)))
                if s_i < len(sents) - 1:
                    text += " "
            crows[c] = (d, first, n_sent + len(srows) - 1, start, len(text), line, line, d)
            keyword_texts.append(f"{title}\n{' '.join(sents)}")
            text += "\n\n"
            line += 2
        n_sent += len(srows)
        path = docs / f"doc{d:05d}.md"
        data = text.encode("utf-8")
        path.write_bytes(data)
        st = path.stat()
        entries.append(store.DocEntry(path.name, file_hash(data), st.st_size, st.st_mtime_ns,
                                      (d * per_doc, d * per_doc + len(part)), (n_sent - len(srows), n_sent), (0, 0)))
        texts.append(data)
        chunk_rows.append(crows)
        sent_rows.append(np.array(srows, dtype=store.SENTENCE_DTYPE))
    chunks_arr = np.concatenate(chunk_rows)
    sents_arr = np.concatenate(sent_rows)
    # vectors: a centre per document, sentences around it, chunks = normalised mean of their sentences
    centres = rng.standard_normal((n_docs, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sv = centres[sents_arr["doc"]] + rng.standard_normal((len(sents_arr), DIM), dtype=np.float32) * np.float32(
        1.2 / np.sqrt(DIM))
    sv /= np.linalg.norm(sv, axis=1, keepdims=True)
    sv = sv.astype(np.float32, copy=False)
    counts = (chunks_arr["last"] - chunks_arr["first"] + 1).astype(np.int64)
    cv = np.add.reduceat(sv, chunks_arr["first"].astype(np.int64), axis=0) / counts[:, None]
    cv = (cv / np.linalg.norm(cv, axis=1, keepdims=True)).astype(np.float32)
    t = time.perf_counter()
    if keyword is None:
        keyword = KeywordIndex.build(keyword_texts)
    bm25_s = time.perf_counter() - t
    t = time.perf_counter()
    if hnsw:
        import faiss

        index = faiss.IndexHNSWFlat(DIM, hnsw[0], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = hnsw[1]
        index.add(cv)
        index.hnsw.efSearch = hnsw[2]  # qa sets efSearch again when it opens the index (QA_HNSW_EF_SEARCH)
        index_type = "hnsw"
    else:  # exact search, whatever the size (qa's default threshold would make 100k a graph)
        index = _faiss_index(cv, len(cv))
        index_type = "flat"
    faiss_s = time.perf_counter() - t
    manifest = {"format": store.FORMAT, "model": settings.model, "dimension": DIM, "params": settings.chunk_params,
                "chunks": len(chunks_arr), "sentences": len(sents_arr), "documents": len(entries),
                "built_at": time.time(), "index_type": index_type, "synthetic": True}
    gen = store.Generation(manifest=manifest, documents=entries, sections=sections, texts=texts, chunks=chunks_arr,
                           sentences=sents_arr, chunk_vectors=cv, sentence_vectors=sv, faiss_index=index,
                           keyword=keyword)
    t = time.perf_counter()
    folder = store.IndexFolder(root).write(gen)
    write_s = time.perf_counter() - t
    return {"documents": len(entries), "chunks": len(chunks_arr), "sentences": len(sents_arr),
            "generation_bytes": du(folder), "files": {p.name: du(p) for p in sorted(folder.iterdir())},
            "bm25_build_s": bm25_s, "faiss_build_s": faiss_s, "write_s": write_s, "folder": str(folder)}


def worker_e2e(args) -> dict:
    """In a fresh process: load the index, first question, warm retrieve() and Engine.ask()."""
    rss_start = rss_mb()
    t0 = time.perf_counter()
    import _proto
    import numpy as np

    import qa.engine as eng
    from qa.retrieval import Query, RetrievalParams, retrieve
    from qa.settings import Settings

    variant = [v for v in args.variant.split(",") if v]
    _proto.apply(variant)
    import_s = time.perf_counter() - t0
    rss_import = rss_mb()
    questions = json.loads(Path(args.questions_file).read_text("utf-8"))
    settings = Settings.from_env(docs_dir=Path(args.docs), index_dir=Path(args.index), encoder_dir=Path(args.encoders),
                                 token_vectors=False)  # as the generation was written (write_generation)
    engine = eng.Engine(settings)
    # Load breakdown on a first LoadedIndex (page cache is warm: the generation was just written).
    from qa import store

    parts = {}
    t = time.perf_counter()
    probe = store.IndexFolder(Path(args.index)).load()
    parts["manifest + np.load(mmap)"] = time.perf_counter() - t
    for name in ("documents", "sections", "faiss_index", "keyword"):
        t = time.perf_counter()
        getattr(probe, name)
        parts[name] = time.perf_counter() - t
    del probe
    rss_before_load = rss_mb()
    t = time.perf_counter()
    index = engine.index()
    load_s = time.perf_counter() - t
    rss_load = rss_mb()
    split_load = rss_split_mb()
    if args.ef_search and hasattr(index.faiss_index, "hnsw"):
        index.faiss_index.hnsw.efSearch = args.ef_search
    t = time.perf_counter()
    vectors = engine.encode_queries(questions)  # loads the ONNX session too
    encode_all_s = time.perf_counter() - t
    params = RetrievalParams.from_settings(settings) if hasattr(RetrievalParams, "from_settings") else RetrievalParams()
    t = time.perf_counter()
    retrieve(index, [Query(questions[0], vectors[0])], settings.top_k, params)
    first_retrieve_s = time.perf_counter() - t
    rss_first = rss_mb()
    ret = []
    for _ in range(args.repeats):
        for q, v in zip(questions, vectors):
            t = time.perf_counter()
            retrieve(index, [Query(q, v)], settings.top_k, params)
            ret.append(time.perf_counter() - t)
    stage: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stage[name] = stage.get(name, 0.0) + time.perf_counter() - began
        return wrapper

    _encode = "encode_for" if hasattr(eng.Engine, "encode_for") else "encode_queries"  # older commits
    setattr(eng.Engine, _encode, timed("encode", getattr(eng.Engine, _encode)))
    eng.retrieve = timed("retrieve", eng.retrieve)
    eng.compose = timed("compose", eng.compose)
    asks, per_stage = [], {}
    for _ in range(args.repeats):
        for q in questions:
            stage.clear()
            t = time.perf_counter()
            engine.ask(q)
            asks.append(time.perf_counter() - t)
            for k, v in stage.items():
                per_stage.setdefault(k, []).append(v)
    return {
        "variant": args.variant, "ef_search": args.ef_search, "import_s": import_s, "load_s": load_s,
        "load_parts_ms": {k: v * 1e3 for k, v in parts.items()}, "rss_before_load_mb": rss_before_load,
        "encode_all_s": encode_all_s, "first_retrieve_s": first_retrieve_s,
        "retrieve_ms": {"p50": pct(_ms(ret), 50), "p95": pct(_ms(ret), 95)},
        "ask_ms": {"p50": pct(_ms(asks), 50), "p95": pct(_ms(asks), 95)},
        "stages_median_ms": {k: statistics.median(v) * 1e3 for k, v in per_stage.items()},
        "rss_start_mb": rss_start, "rss_after_import_mb": rss_import, "rss_after_load_mb": rss_load,
        "rss_after_first_retrieve_mb": rss_first, "rss_end_mb": rss_mb(), "peak_rss_mb": peak_rss_mb(),
        "rss_split_after_load_mb": split_load, "rss_split_end_mb": rss_split_mb(),
        "index_type": index.manifest.get("index_type"), "np_threads_note": np.__version__,
    }


def find_encoders(args) -> Path | None:
    """A folder holding an ONNX export of the default model (encoder_dir layout: <dir>/<key>/model.onnx)."""
    for cand in [args.encoders, REPO / "index" / "encoders"]:
        if cand and any(Path(cand).glob("*/model.onnx")):
            return Path(cand)
    return None


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jsonl", type=Path, default=DEFAULT_JSONL, help="real sentences for BM25 texts (default: %(default)s)")
    p.add_argument("--sizes", default="100000",
                   help="dense sizes, comma-separated (default 100000; add 1000000 for the 1M run, ~25 min more)")
    p.add_argument("--real-vectors", type=Path,
                   help="replicate real vectors instead of clusters: a .npy of unit vectors, or a qa index folder "
                        "(e.g. bench_corpus.py's WORKDIR/index: its chunk + sentence vectors)")
    p.add_argument("--queries", type=int, default=200, help="dense queries (default 200)")
    p.add_argument("--flat-queries", type=int, default=50, help="queries timed on flat search (default 50)")
    p.add_argument("--grid", default="16:40,32:40,32:80", help="HNSW M:efConstruction list below 500k vectors")
    p.add_argument("--grid-large", default="32:40", help="HNSW M:efConstruction list at sizes ≥ 500k (default 32:40)")
    p.add_argument("--ef", default="16,32,64,128,256", help="efSearch values (default 16,32,64,128,256)")
    p.add_argument("--e2e-chunks", type=int, default=100_000, help="chunks of the end-to-end index (default 100k)")
    p.add_argument("--e2e-hnsw", default="32:80:256",
                   help="M:efConstruction:efSearch of the HNSW end-to-end variant (default: the recommended 32:80:256)")
    p.add_argument("--e2e-variants", default="hnsw:faiss-1thread,ort-nospin;hnsw:faiss-1thread,ort-nospin,light-bm25",
                   help="prototype combinations (see _proto.py) timed end to end on the flat index, ';'-separated;"
                        " prefix one with 'hnsw:' to run it on the HNSW index")
    p.add_argument("--questions", type=int, default=100, help="questions for BM25 / end-to-end (default 100)")
    p.add_argument("--repeats", type=int, default=2, help="warm passes over the questions (default 2)")
    p.add_argument("--cold-runs", type=int, default=3, help="cold `qa ask` processes on the 100k index (default 3)")
    p.add_argument("--cold-timeout", type=float, default=300, help="seconds before a cold ask is killed")
    p.add_argument("--skip-dense", action="store_true")
    p.add_argument("--skip-bm25", action="store_true")
    p.add_argument("--skip-e2e", action="store_true")
    p.add_argument("--skip-incremental", action="store_true", help="no one-document rebuild of the 100k index")
    p.add_argument("--reuse-e2e", action="store_true",
                   help="reuse the end-to-end index generations kept in --workdir (implies --skip-incremental)")
    p.add_argument("--encoders", type=Path, help="folder with an ONNX export (default: ./index/encoders)")
    p.add_argument("--quick", action="store_true", help="100k, HNSW 32:80 only, efSearch 16,64,256, fewer questions, no rebuild timing")
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a new temp folder)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON here")
    p.add_argument("--_worker", choices=["e2e"], help=argparse.SUPPRESS)
    p.add_argument("--docs", help=argparse.SUPPRESS)
    p.add_argument("--index", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    p.add_argument("--questions-file", help=argparse.SUPPRESS)
    p.add_argument("--ef-search", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker:
        print(json.dumps(worker_e2e(args), default=str))
        return 0
    if args.reuse_e2e:
        args.skip_incremental = True
        if not args.workdir:
            p.error("--reuse-e2e needs --workdir")
    if args.quick:
        args.sizes, args.grid, args.ef, args.questions, args.repeats, args.cold_runs = "100000", "32:80", "16,64,256", 50, 1, 1
        args.skip_incremental = True
        args.queries, args.flat_queries = 100, 30

    import faiss

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qa-bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "faiss": faiss.__version__, "workdir": str(workdir),
                     "vectors": str(args.real_vectors) if args.real_vectors else "clustered"}
    sizes = [int(s) for s in args.sizes.split(",") if s]
    ef_list = [int(e) for e in args.ef.split(",")]

    def parse_grid(text):
        return [tuple(int(x) for x in g.split(":")) for g in text.split(",") if g]

    try:
        if not args.skip_dense:
            results["dense"] = []
            for i, n in enumerate(sizes):
                grid = parse_grid(args.grid if n < 500_000 else args.grid_large)
                results["dense"].append(bench_dense(args, n, grid, ef_list, workdir))
                write_json(args.json_out, results, quiet=True)  # partial results survive a killed run
        if not (args.skip_bm25 and args.skip_e2e):
            sentences, titles = corpus_sentences(args.jsonl)
            chunks = synthetic_chunks(sentences, args.e2e_chunks)
            questions = make_questions(sentences, titles, args.questions)
            qfile = workdir / "questions.json"
            qfile.write_text(json.dumps(questions), "utf-8")
        keyword = None
        if not args.skip_bm25:
            results["bm25"], keyword = bench_bm25(keyword_texts(chunks), questions, workdir / "bm25")
            write_json(args.json_out, results, quiet=True)
        if not args.skip_e2e:
            results["e2e"] = bench_e2e(args, chunks, questions, qfile, workdir, keyword)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["src_end"] = src_state()
    if results["src_end"] != results["machine"]["src"]:
        print(f"warning: src/ changed during the run ({results['machine']['src']} → {results['src_end']})", file=sys.stderr)
    print_report(results)
    write_json(args.json_out, results)
    return 0


def bench_e2e(args, chunks, questions, qfile: Path, workdir: Path, keyword=None) -> dict:
    encoders = find_encoders(args)
    if encoders is None:
        raise SystemExit("no ONNX query encoder found: run `python -m qa build` once, or pass --encoders DIR")
    out: dict = {"encoders": str(encoders)}
    docs = workdir / "e2e-docs"
    root_flat, root_hnsw = workdir / "e2e-index-flat", workdir / "e2e-index-hnsw"
    if args.reuse_e2e:
        gen_flat = root_flat / (root_flat / "CURRENT").read_text().strip()
        m_ = json.loads((gen_flat / "manifest.json").read_text())
        out["flat"] = {"documents": m_["documents"], "chunks": m_["chunks"], "sentences": m_["sentences"],
                       "generation_bytes": du(gen_flat), "files": {p.name: du(p) for p in sorted(gen_flat.iterdir())},
                       "folder": str(gen_flat)}
        gen_h = root_hnsw / (root_hnsw / "CURRENT").read_text().strip()
        out["hnsw_faiss_bytes"] = (gen_h / "chunks.faiss").stat().st_size
        out["hnsw_build_s"] = float("nan")
        m, efc, efs = (int(x) for x in args.e2e_hnsw.split(":"))
        import faiss

        stored = faiss.read_index(str(gen_h / "chunks.faiss"))
        m, efc = stored.hnsw.nb_neighbors(1), stored.hnsw.efConstruction
        del stored
    else:
        for r in (root_flat, root_hnsw):
            shutil.rmtree(r, ignore_errors=True)
        print(f"e2e: writing a {len(chunks):,}-chunk index generation …", file=sys.stderr)
        out["flat"] = write_generation(chunks, root_flat, docs, per_doc=PER_DOC, hnsw=None, keyword=keyword)
        m, efc, efs = (int(x) for x in args.e2e_hnsw.split(":"))
        # The HNSW variant shares every file but chunks.faiss and the manifest (hard links).
        gen_flat = Path(out["flat"]["folder"])
        gen_hnsw = root_hnsw / gen_flat.name
        gen_hnsw.mkdir(parents=True)
        for f in gen_flat.rglob("*"):
            target = gen_hnsw / f.relative_to(gen_flat)
            if f.is_dir():
                target.mkdir(exist_ok=True)
            elif f.name not in ("chunks.faiss", "manifest.json"):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(f, target)
        import faiss
        import numpy as np

        print(f"e2e: HNSW M={m} efConstruction={efc} over {len(chunks):,} chunk vectors …", file=sys.stderr)
        cv = np.load(gen_flat / "chunk_vectors.npy")
        hnsw = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = efc
        t = time.perf_counter()
        hnsw.add(cv)
        out["hnsw_build_s"] = time.perf_counter() - t
        hnsw.hnsw.efSearch = efs
        faiss.write_index(hnsw, str(gen_hnsw / "chunks.faiss"))
        manifest = json.loads((gen_flat / "manifest.json").read_text())
        manifest["index_type"] = "hnsw"
        (gen_hnsw / "manifest.json").write_text(json.dumps(manifest))
        (root_hnsw / "CURRENT").write_text(gen_hnsw.name + "\n")
        out["hnsw_faiss_bytes"] = (gen_hnsw / "chunks.faiss").stat().st_size
        del hnsw, cv

    env = quiet_env()
    base = ["--_worker", "e2e", "--docs", str(docs), "--encoders", str(encoders), "--questions-file", str(qfile),
            "--repeats", str(args.repeats)]
    runs = [("flat (current code)", root_flat, "", 0),
            ("flat + faiss-1thread", root_flat, "faiss-1thread", 0),
            (f"HNSW M={m} efC={efc} efSearch={efs}", root_hnsw, "", efs),
            (f"HNSW M={m} efC={efc} efSearch={efs} + faiss-1thread", root_hnsw, "faiss-1thread", efs)]
    for v in (x for x in args.e2e_variants.split(";") if x):
        if v.startswith("hnsw:"):
            runs.append((f"HNSW efSearch={efs} + prototype {v[5:]}", root_hnsw, v[5:], efs))
        else:
            runs.append((f"flat + prototype {v}", root_flat, v, 0))
    out["runs"] = []
    for label, root, variant, ef in runs:
        print(f"e2e: {label} …", file=sys.stderr)
        r = run_json_worker(SCRIPT, [*base, "--index", str(root), "--variant", variant, "--ef-search", str(ef)], env=env)
        r["label"] = label
        out["runs"].append(r)

    # Cold CLI on the 100k index: the real `python -m qa ask`, then with all prototypes.
    cold_env = {**env, "QA_ENCODER_DIR": str(encoders)}
    out["cold"] = []
    for label, cmd, extra in (("current", [sys.executable, "-m", "qa"], {}),
                              ("prototypes reuse-index,light-bm25,faiss-1thread,fast-exit",
                               [sys.executable, str(SCRIPT.parent / "_cli_probe.py")],
                               {"QA_BENCH_PROTO": "reuse-index,light-bm25,faiss-1thread,fast-exit"}),
                              ("prototypes reuse-index,light-bm25,numpy-dense,fast-exit",
                               [sys.executable, str(SCRIPT.parent / "_cli_probe.py")],
                               {"QA_BENCH_PROTO": "reuse-index,light-bm25,numpy-dense,fast-exit"})):
        walls, rss, notes = [], [], []
        for i in range(args.cold_runs):
            res = run_measured([*cmd, "ask", questions[i % len(questions)], "--json", "--docs", str(docs),
                                "--index", str(root_flat)], env={**cold_env, **extra}, timeout=args.cold_timeout)
            if res["rc"] != 0:
                notes.append(f"rc={res['rc']} {res['stderr'][-200:]}")
            elif "index" in res["stderr"]:  # the CLI (re)built the index first: not a cold ask, excluded
                notes.append("excluded (rebuilt the index first): " + res["stderr"].strip()[-150:])
                continue
            elif res["stderr"].strip():
                notes.append(res["stderr"].strip()[-200:])
            walls.append(res["wall_s"])
            rss.append(res["peak_rss_mb"])
        out["cold"].append({"label": label, "wall_s": summary(walls), "peak_rss_mb": statistics.median(rss) if rss else float("nan"),
                            "notes": notes})

    # Incremental rebuild at this size: one document edited, qa's real build (bench_corpus's worker).
    if not args.skip_incremental:
        out["incremental"] = []
        target = docs / "doc00007.md"
        text = target.read_text("utf-8")
        for label, root, extra_env in (("flat", root_flat, {}),
                                       ("HNSW (QA_HNSW_THRESHOLD=50000: settings' M=32, efConstruction=80)",
                                        root_hnsw, {"QA_HNSW_THRESHOLD": "50000"})):
            text += "\nThe benchmark added this sentence to one document, to time an incremental rebuild.\n"
            target.write_text(text, "utf-8")
            print(f"e2e: incremental rebuild after editing one document ({label}) …", file=sys.stderr)
            r = run_json_worker(SCRIPT.parent / "bench_corpus.py",
                                ["--_worker", "build", "--docs", str(docs), "--index", str(root),
                                 "--encoders", str(encoders), "--ab-sample", "0"], env={**env, **extra_env})
            r.pop("per_doc", None)
            r["label"] = label
            out["incremental"].append(r)
    return out


def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"\n## Scale benchmark\n\n{m['cpus']} CPUs, load average {m['loadavg']} at start, faiss {r['faiss']}, "
          f"vectors: {r['vectors']}, src {m['src']}\n")
    for d in r.get("dense", []):
        print(f"### Dense search, {d['n']:,} vectors × {DIM} (one query at a time, k = 50 candidates)\n")
        print(f"Median cosine of a query to its nearest / 10th-nearest vector: {d['median_top1_cosine']:.2f} / "
              f"{d['median_top10_cosine']:.2f}\n")
        rows = [[x["index"], x.get("efSearch", "–"), x["threads"], x["p50_ms"], x["p95_ms"], x.get("cpu_p50_ms", float("nan")),
                 x.get("p50_k10_ms", float("nan")), f"{x['recall@10']:.4f}", f"{x['top10_in_50']:.4f}", x["build_s"],
                 x["bytes"] / 2**20] for x in d["rows"]]
        print(table(["index", "efSearch", "threads", "p50 ms (k=50)", "p95 ms", "CPU p50 ms", "p50 ms (k=10)",
                     "recall@10", "true top-10 in 50 cands", "build s", "MiB"], rows))
        print()
    if "bm25" in r:
        b = r["bm25"]
        print(f"### BM25 (bm25s) over {b['n']:,} synthetic chunks of real sentences\n")
        print(f"build {b['build_s']:.1f} s, {b['bytes'] / 2**20:.0f} MiB on disk, mmap load {b['load_s'] * 1e3:.0f} ms "
              f"(+{b['rss_load_mb']:.0f} MB RSS), vocabulary {b.get('vocab')}, median postings touched per query "
              f"{b.get('median_postings_per_query')}\n")
        rows = [[x["variant"], x["p50_ms"], x["p95_ms"], x.get("max_abs_diff", ""), x.get("same_top50", "")] for x in b["rows"]]
        print(table(["scoring", "p50 ms", "p95 ms", "max |Δscore| vs bm25s", "same top-50"], rows))
        print()
    if "e2e" in r:
        e = r["e2e"]
        f = e["flat"]
        print(f"### End to end on a {f['chunks']:,}-chunk index ({f['documents']:,} documents, {f['sentences']:,} sentences)\n")
        print(f"generation on disk {f['generation_bytes'] / 2**20:.0f} MiB ("
              + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in f["files"].items()) + " MiB); HNSW chunks.faiss "
              f"{e['hnsw_faiss_bytes'] / 2**20:.0f} MiB, built in {e['hnsw_build_s']:.1f} s\n")
        rows = []
        for x in e["runs"]:
            rows.append([x["label"], x["load_s"] * 1e3, x["first_retrieve_s"] * 1e3, x["retrieve_ms"]["p50"],
                         x["retrieve_ms"]["p95"], x["ask_ms"]["p50"], x["ask_ms"]["p95"],
                         " / ".join(f"{k} {v:.1f}" for k, v in x["stages_median_ms"].items()),
                         x["rss_after_load_mb"],
                         (f"{x['rss_end_mb']:.0f} ({x.get('rss_split_end_mb', {}).get('RssAnon', float('nan')):.0f} anon"
                          f" + {x.get('rss_split_end_mb', {}).get('RssFile', float('nan')):.0f} file)")])
        print(table(["variant", "load ms", "first retrieve ms", "retrieve p50 ms", "retrieve p95", "ask p50 ms",
                     "ask p95", "ask stages (median ms)", "RSS after load MB", "RSS end MB (anon + file-backed)"], rows))
        print()
        x = e["runs"][0]
        print(f"Index load by part (first LoadedIndex of a fresh process, {x['label']}): "
              + ", ".join(f"{k} {v:.0f} ms" for k, v in x["load_parts_ms"].items())
              + f"; RSS before/after engine.index(): {x['rss_before_load_mb']:.0f}/{x['rss_after_load_mb']:.0f} MB\n")
        rows = [[c["label"], c["wall_s"].get("median", float("nan")), c["wall_s"].get("n"), c["peak_rss_mb"],
                 "; ".join(c["notes"])[:160]] for c in e["cold"]]
        print(table(["cold `python -m qa ask` at this size", "median wall s", "runs", "peak RSS MB", "notes"], rows))
        if e.get("incremental"):
            print()
            stages = list(dict.fromkeys(k for x in e["incremental"] for k in x["stages_s"]))
            rows = [[x["label"], x["build_s"], x["process_wall_s"], f"{x['embedded_chunks']}+{x['embedded_sentences']}",
                     *[x["stages_s"].get(k, float("nan")) for k in stages]] for x in e["incremental"]]
            print(table(["one-document edit rebuild at this size", "build s", "process s", "embedded chunks+sentences",
                         *stages], rows))


if __name__ == "__main__":
    raise SystemExit(main())
