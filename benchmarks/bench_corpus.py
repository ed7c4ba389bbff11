"""Corpus benchmark: a real multi-document corpus — full build, incremental rebuilds, latency, memory.

Usage (repository root, project virtualenv):

    python benchmarks/bench_corpus.py ../shared/data/whitehouse-russia-docs.jsonl
    python benchmarks/bench_corpus.py DATA.jsonl --quick            # 60 documents (~3 min)
    python benchmarks/bench_corpus.py DATA.jsonl --json out.json --workdir /tmp/wh --keep
    python benchmarks/bench_corpus.py ~/my-docs --quick           # your own folder of .txt/.md files

The JSONL has one document per line with ``title`` and ``text`` (and ``id``). Each document is
written as ``<id>.md`` with its title as a ``#`` heading into a temporary folder (never into the
repository); the index goes next to it. Steps, each in a fresh process:

1. one-time ONNX export of the query encoder (shared by all later steps; not part of a build);
2. full build (``Engine.build(full=True)``): wall time of the process, the build itself, time spent
   encoding, peak RSS, index size; then, in the same process, the same texts encoded again by
   plain ``SentenceTransformer.encode`` ("raw encoding") — the build overhead is
   ``(build − raw encoding) / raw encoding`` (goal ≤ 10 %);
3. build with no change (nothing may be re-embedded);
4. edit one document (a sentence added in the middle) and rebuild: time, ratio to the full build
   (goal ≤ 5 %), and a check that exactly that document's chunks and sentences were embedded;
   then ask about the added fact;
5. delete one document and rebuild: time, nothing embedded, its chunks gone;
6. warm latency over questions taken from the corpus (p50/p95, by stage, RSS) and cold
   ``python -m qa ask`` wall time (median), answers identical to the warm ones.
"""

from __future__ import annotations

import argparse
import json
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
    du,
    loadavg,
    machine,
    peak_rss_mb,
    quiet_env,
    rss_mb,
    run_json_worker,
    run_measured,
    src_state,
    summary,
    table,
    write_json,
)

SCRIPT = Path(__file__).resolve()
MARKER = "The benchmark marker fact is that the Zorblax accord was signed in Quixville on 3 March 2031."
MARKER_QUESTION = "Where was the Zorblax accord signed?"


# ------------------------------------------------------------------------------------------------
# Corpus
# ------------------------------------------------------------------------------------------------


def write_corpus(source: Path, docs: Path | None, limit: int | None) -> list[dict]:
    """The benchmark corpus in ``docs`` (nothing written when ``docs`` is None).

    Args:
        source: A JSONL file (``title``, ``text``, optional ``id`` per line; one ``<id>.md`` per
            record, title as heading) or a folder of ``.txt``/``.md`` documents (copied as they are,
            subfolders kept).
        docs: The benchmark's documents folder.
        limit: Use only the first N documents.

    Returns:
        One record per document: ``_file`` (path inside ``docs``), ``title``, ``text``.
    """
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        return _copy_folder(source, docs, limit)
    records = []
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                records.append(json.loads(line))
    if limit:
        records = records[:limit]
    used = set()
    for i, rec in enumerate(records):
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(rec.get("id") or i)).strip("_")[-120:] or f"doc{i}"
        while name in used:
            name += "_"
        used.add(name)
        rec["_file"] = f"{name}.md"
        title = " ".join(str(rec.get("title", "")).split()) or name
        if docs is not None:
            (docs / rec["_file"]).write_text(f"# {title}\n\n{rec.get('text', '').strip()}\n", "utf-8")
    return records


def _copy_folder(source: Path, docs: Path | None, limit: int | None) -> list[dict]:
    files = sorted(f for f in source.rglob("*") if f.is_file() and f.suffix.lower() in (".txt", ".md"))
    records = []
    for f in files[:limit] if limit else files:
        rel = f.relative_to(source).as_posix()
        text = f.read_text("utf-8", errors="replace")
        first = next((line.strip("# \t") for line in text.splitlines() if line.strip()), f.stem)
        records.append({"_file": rel, "title": first[:120], "text": text, "_title_question": f"What is {first[:120]}?"})
        if docs is not None:
            (docs / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, docs / rel)
    return records


def make_questions(records: list[dict], n: int, seed: int = 11) -> list[dict]:
    """Questions from the corpus: half its sentences (near-verbatim), half its titles as questions.

    Each question records the file it came from, for a rough top-1 sanity rate.
    """
    rng = random.Random(seed)
    picks = rng.sample(records, min(n, len(records)))
    out = []
    for i, rec in enumerate(picks):
        if i % 2 == 0:
            sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", rec.get("text", ""))
                         if 60 <= len(s.strip()) <= 220 and "\n" not in s.strip()]
            if sentences:
                out.append({"q": rng.choice(sentences), "file": rec["_file"], "kind": "sentence"})
                continue
        title = " ".join(str(rec.get("title", "")).split())
        question = rec.get("_title_question") or f"What did the White House say in the {title}?"
        out.append({"q": question, "file": rec["_file"], "kind": "title"})
    return out


# ------------------------------------------------------------------------------------------------
# Workers (fresh processes; print one JSON line)
# ------------------------------------------------------------------------------------------------


def _engine(args):
    from qa.engine import Engine
    from qa.settings import Settings

    return Engine(Settings.from_env(docs_dir=Path(args.docs), index_dir=Path(args.index),
                                    encoder_dir=Path(args.encoders)))


def worker_export(args) -> dict:
    from qa.embedding import export_query_encoder

    engine = _engine(args)
    t = time.perf_counter()
    folder = engine.encoder_folder()
    folder.parent.mkdir(parents=True, exist_ok=True)
    export_query_encoder(engine.embedder.model_dir, folder)
    return {"export_s": time.perf_counter() - t}


def worker_build(args) -> dict:
    """Build with a clock around each stage; optionally re-encode the same texts with raw ST."""
    t0 = time.perf_counter()
    import qa.engine as eng
    import qa.keyword as kw
    from qa import documents, indexing, store

    t_import = time.perf_counter() - t0
    engine = _engine(args)
    t = time.perf_counter()
    model = engine.embedder._model
    t_model = time.perf_counter() - t

    clock: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                clock[name] = clock.get(name, 0.0) + time.perf_counter() - began
        return wrapper

    texts: list[str] = []
    # Builds encode through encode_with_tokens since the token vectors (older commits: encode).
    method = "encode_with_tokens" if hasattr(engine.embedder, "encode_with_tokens") else "encode"
    original_encode = engine.embedder.encode
    original_build_encode = getattr(engine.embedder, method)

    def encode(batch, *args, **kwargs):
        texts.extend(batch)
        return original_build_encode(batch, *args, **kwargs)

    setattr(engine.embedder, method, timed(f"encode (Embedder.{method})", encode))
    eng.documents.scan = timed("scan + read + hash files", documents.scan)
    shapes: list[tuple[int, int]] = []  # (chunks, sentences) per chunked document, in build order
    original_chunk = indexing.chunk_document

    def chunk_document(*a, **k):
        cd = original_chunk(*a, **k)
        shapes.append((len(cd.chunks), len(cd.sentences)))
        return cd

    indexing.chunk_document = timed("chunk (pysbd + token counts)", chunk_document)
    indexing._assemble = timed("assemble generation (incl. BM25 + FAISS)", indexing._assemble)
    build_kw = kw.KeywordIndex.build.__func__
    kw.KeywordIndex.build = classmethod(timed("  BM25 index (bm25s)", build_kw))
    indexing._faiss_index = timed("  FAISS index", indexing._faiss_index)
    store.IndexFolder.write = timed("write + fsync generation", store.IndexFolder.write)
    if hasattr(store, "LoadedIndex"):
        store.LoadedIndex.check = timed("load + check previous index", store.LoadedIndex.check)

    t = time.perf_counter()
    report = engine.build(full=args.full)
    t_build = time.perf_counter() - t
    out = {
        "import_s": t_import, "model_load_s": t_model, "build_s": t_build, "report_s": report.seconds,
        "stages_s": clock, "full": report.full, "written": report.written, "chunks": report.chunks,
        "embedded_chunks": report.embedded_chunks, "embedded_sentences": report.embedded_sentences,
        "added": report.added, "changed": report.changed, "removed": report.removed,
        "texts": len(texts), "chars": sum(map(len, texts)), "peak_rss_mb": peak_rss_mb(), "load": loadavg(),
    }
    if args.raw_encode and texts:  # the same texts again, plain sentence-transformers (long: a 2nd build)
        t = time.perf_counter()
        model.encode(texts, batch_size=engine.settings.batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        out["raw_encode_s"] = time.perf_counter() - t
        out["load_after_raw"] = loadavg()
    if args.ab_sample and texts:
        # Embedder.encode (qa's length-sorted windows) against plain SentenceTransformer.encode on the
        # same random sample of the build's texts, interleaved A/B/A/B so machine noise hits both.
        sample = random.Random(5).sample(texts, min(args.ab_sample, len(texts)))
        a_times, b_times = [], []
        for _ in range(2):
            t = time.perf_counter()
            original_encode(sample)
            a_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.encode(sample, batch_size=engine.settings.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
            b_times.append(time.perf_counter() - t)
        out["ab"] = {"sample": len(sample), "embedder_s": a_times, "raw_s": b_times,
                     "ratio": statistics.median(a_times) / statistics.median(b_times)}
        # Share of encoding spent on sentence vectors (used only by the rerank): texts are laid out
        # per document as its chunks then its sentences, in chunking order.
        is_sentence = []
        for n_chunks, n_sents in shapes:
            is_sentence += [False] * n_chunks + [True] * n_sents
        if len(is_sentence) == len(texts):
            rng = random.Random(6)
            chunk_texts = [t for t, s in zip(texts, is_sentence) if not s]
            sent_texts = [t for t, s in zip(texts, is_sentence) if s]
            part = {}
            for label, pool in (("chunks", chunk_texts), ("sentences", sent_texts)):
                sample = rng.sample(pool, min(args.ab_sample // 2, len(pool)))
                t = time.perf_counter()
                original_encode(sample)
                part[label] = (time.perf_counter() - t) / max(1, len(sample)) * len(pool)
            out["encode_split_est_s"] = part
            out["text_counts"] = {"chunks": len(chunk_texts), "sentences": len(sent_texts),
                                  "chunk_chars": sum(map(len, chunk_texts)), "sentence_chars": sum(map(len, sent_texts))}
    if report.written:
        index = engine.index()
        out["per_doc"] = {d.path: [d.chunks[1] - d.chunks[0], d.sentences[1] - d.sentences[0]] for d in index.documents}
        out["totals"] = {"documents": len(index.documents), "chunks": len(index.chunks), "sentences": len(index.sentences)}
    return out


def worker_warm(args) -> dict:
    """Warm latency over the question file; the first ask (after loading) is reported apart."""
    import qa.engine as eng

    questions = json.loads(Path(args.questions_file).read_text("utf-8"))
    import _proto

    _proto.apply(v for v in args.variant.split(",") if v)
    engine = _engine(args)
    stage: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stage[name] = stage.get(name, 0.0) + time.perf_counter() - began
        return wrapper

    t = time.perf_counter()
    engine.index()
    load_s = time.perf_counter() - t
    rss_loaded = rss_mb()
    t = time.perf_counter()
    first = engine.ask(questions[0]["q"])
    first_s = time.perf_counter() - t
    rss_first = rss_mb()
    answers = {q["q"]: engine.ask(q["q"]).to_json() for q in questions}
    answers[questions[0]["q"]] = first.to_json()
    _encode = "encode_for" if hasattr(eng.Engine, "encode_for") else "encode_queries"  # older commits
    setattr(eng.Engine, _encode, timed("encode", getattr(eng.Engine, _encode)))
    eng.retrieve = timed("retrieve", eng.retrieve)
    eng.compose = timed("compose", eng.compose)
    latencies, per_stage = [], {}
    for _ in range(args.repeats):
        for q in questions:
            stage.clear()
            began = time.perf_counter()
            engine.ask(q["q"])
            latencies.append(time.perf_counter() - began)
            for k, v in stage.items():
                per_stage.setdefault(k, []).append(v)
    top1 = [bool(a["citations"]) and a["citations"][0]["source"].endswith("/" + q["file"])
            for q, a in ((q, answers[q["q"]]) for q in questions)]
    marker = engine.ask(MARKER_QUESTION).to_json() if args.marker else None
    return {
        "index_load_s": load_s, "first_ask_s": first_s, "latencies_s": latencies,
        "stages_median_ms": {k: statistics.median(v) * 1e3 for k, v in per_stage.items()},
        "top1_source_rate": sum(top1) / len(top1),
        "top1_by_kind": {k: statistics.mean(t for t, q in zip(top1, questions) if q["kind"] == k)
                         for k in {q["kind"] for q in questions}},
        "answers": answers, "marker_answer": marker,
        "rss_after_load_mb": rss_loaded, "rss_after_first_ask_mb": rss_first, "rss_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("jsonl", nargs="?", type=Path, default=Path("../shared/data/whitehouse-russia-docs.jsonl"),
                   help="documents as JSONL (title, text) or a folder of .txt/.md files; "
                        "default ../shared/data/whitehouse-russia-docs.jsonl")
    p.add_argument("--limit", type=int, help="use only the first N documents")
    p.add_argument("--quick", action="store_true", help="60 documents, fewer repeats (~3 min)")
    p.add_argument("--questions", type=int, default=40, help="questions for the latency runs (default 40)")
    p.add_argument("--repeats", type=int, default=5, help="warm passes over the questions (default 5)")
    p.add_argument("--cold-runs", type=int, default=7, help="cold `qa ask` processes (default 7)")
    p.add_argument("--incremental-runs", type=int, default=2, help="edit/rebuild rounds to time (default 2)")
    p.add_argument("--raw-encode-all", action="store_true",
                   help="also re-encode ALL the build's texts with plain sentence-transformers (doubles the time)")
    p.add_argument("--ab-sample", type=int, default=1500,
                   help="texts in the Embedder-vs-raw A/B encoding sample (default 1500; 0 = skip)")
    p.add_argument("--workdir", type=Path, help="where the corpus and index go (default: a new temp folder)")
    p.add_argument("--reuse-index", action="store_true",
                   help="skip writing and building: measure latency on the corpus and index kept in --workdir")
    p.add_argument("--warm-variants", default="ort-nospin;light-bm25,faiss-1thread,ort-nospin",
                   help="prototype combinations timed warm, ';'-separated (see _proto.py)")
    p.add_argument("--cold-variants", default="reuse-index,light-bm25,numpy-dense,fast-exit",
                   help="prototype combinations timed as cold CLI runs, ';'-separated")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON here")
    p.add_argument("--_worker", choices=["export", "build", "warm"], help=argparse.SUPPRESS)
    p.add_argument("--docs", help=argparse.SUPPRESS)
    p.add_argument("--index", help=argparse.SUPPRESS)
    p.add_argument("--encoders", help=argparse.SUPPRESS)
    p.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--raw-encode", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--questions-file", help=argparse.SUPPRESS)
    p.add_argument("--marker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._worker:
        fn = {"export": worker_export, "build": worker_build, "warm": worker_warm}[args._worker]
        print(json.dumps(fn(args), default=str))
        return 0

    if args.quick:
        args.limit = args.limit or 60
        args.questions, args.repeats, args.cold_runs, args.incremental_runs = 20, 3, 5, 1
        args.ab_sample = min(args.ab_sample, 600)
    if not (args.jsonl.is_file() or args.jsonl.is_dir()):
        p.error(f"{args.jsonl} not found (see ../shared/data/README.md)")
    if args.reuse_index and not args.workdir:
        p.error("--reuse-index needs --workdir (a folder kept from an earlier run)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qa-bench-corpus-"))
    docs, index, encoders = workdir / "docs", workdir / "index", workdir / "encoders"
    if not args.reuse_index:
        for d in (docs, index):
            shutil.rmtree(d, ignore_errors=True)
    env = quiet_env()
    common = ["--docs", str(docs), "--index", str(index), "--encoders", str(encoders)]
    results: dict = {"machine": machine(), "jsonl": str(args.jsonl), "workdir": str(workdir),
                     "reused_index": args.reuse_index}

    def build(*extra):
        extra = extra if "--ab-sample" in extra else ("--ab-sample", "0", *extra)
        return run_json_worker(SCRIPT, ["--_worker", "build", *common, *extra], env=env)

    def index_info():
        gen = index / (index / "CURRENT").read_text().strip()
        m = json.loads((gen / "manifest.json").read_text())
        return {"generation_bytes": du(gen), "encoder_bytes": du(encoders),
                "files": {f.name: du(f) for f in sorted(gen.iterdir())},
                "documents": m["documents"], "chunks": m["chunks"], "sentences": m["sentences"]}

    try:
        records = write_corpus(args.jsonl, None if args.reuse_index else docs, args.limit)
        results["corpus"] = {"documents": len(records), "bytes": du(docs)}
        if not args.reuse_index:
            print(f"{len(records)} documents written to {docs}", file=sys.stderr)
            if not (encoders.is_dir() and any(encoders.glob("*/model.onnx"))):
                print("one-time ONNX export …", file=sys.stderr)
                results["onnx_export"] = run_json_worker(SCRIPT, ["--_worker", "export", *common], env=env)

            print("full build (+ A/B encoding sample) …", file=sys.stderr)
            full = build("--full", "--ab-sample", str(args.ab_sample), *(["--raw-encode"] if args.raw_encode_all else []))
            results["full_build"] = {k: v for k, v in full.items() if k != "per_doc"}
            per_doc = full["per_doc"]
            results["index"] = index_info()

            print("no-change build …", file=sys.stderr)
            nochange = build()
            results["nochange_build"] = {k: nochange[k] for k in ("build_s", "process_wall_s", "written",
                                                                  "embedded_chunks", "embedded_sentences")}

            # Edit: a median-sized document gets one new sentence in the middle, then is restored.
            by_size = sorted(per_doc, key=lambda f: per_doc[f][0])
            rounds = []
            for i in range(args.incremental_runs):
                target = by_size[len(by_size) // 2 + i]
                path = docs / target
                original = path.read_text("utf-8")
                paras = original.split("\n\n")
                mid = max(1, len(paras) // 2)
                path.write_text("\n\n".join(paras[:mid] + [MARKER] + paras[mid:]), "utf-8")
                print(f"incremental build after editing {target} …", file=sys.stderr)
                r = build()
                n_chunks, n_sents = r["per_doc"][target]
                r = {k: v for k, v in r.items() if k != "per_doc"}
                r.update(target=target, doc_chunks=n_chunks, doc_sentences=n_sents,
                         only_that_document=(r["changed"] == [target] and not r["added"] and not r["removed"]
                                             and r["embedded_chunks"] == n_chunks and r["embedded_sentences"] == n_sents))
                rounds.append(r)
                if i < args.incremental_runs - 1:
                    path.write_text(original, "utf-8")
                    build()  # back to the original state (not timed)
            results["edit_builds"] = rounds
        else:
            results["index"] = index_info()
            print(f"reusing {index} ({results['index']['chunks']} chunks)", file=sys.stderr)
        edited = [r["_file"] for r in records if (docs / r["_file"]).is_file()
                  and MARKER in (docs / r["_file"]).read_text("utf-8", errors="replace")]
        records = [r for r in records if (docs / r["_file"]).exists()]

        # Warm latency (with the edited document in place: the marker question must find it).
        questions = make_questions(records, args.questions)
        qfile = workdir / "questions.json"
        qfile.write_text(json.dumps(questions), "utf-8")
        print("warm latency …", file=sys.stderr)
        warm = run_json_worker(SCRIPT, ["--_worker", "warm", *common, "--questions-file", str(qfile),
                                        "--repeats", str(args.repeats), "--marker"], env=env)
        marker = warm.pop("marker_answer")
        answers = warm.pop("answers")
        top = marker["citations"][0] if marker and marker["citations"] else {}
        results["marker"] = {"answered": marker["answered"], "answer": marker["answer"],
                             "top_source": top.get("source"),
                             "found": any(e in str(top.get("source")) for e in edited)}
        results["warm"] = warm
        results["warm"]["summary_ms"] = {k: v * 1e3 if isinstance(v, float) else v
                                         for k, v in summary(warm["latencies_s"]).items()}
        results["warm_variants"] = {}
        for v in [x for x in args.warm_variants.split(";") if x]:
            print(f"warm latency, prototype {v} …", file=sys.stderr)
            wv = run_json_worker(SCRIPT, ["--_worker", "warm", *common, "--questions-file", str(qfile),
                                          "--repeats", str(args.repeats), "--variant", v], env=env)
            results["warm_variants"][v] = {
                "summary_ms": {k: x * 1e3 if isinstance(x, float) else x for k, x in summary(wv["latencies_s"]).items()},
                "stages_median_ms": wv["stages_median_ms"], "first_ask_s": wv["first_ask_s"],
                "identical_to_warm": wv["answers"] == answers}

        # Cold `python -m qa ask`, interleaved with prototype variants (same noise for all).
        print("cold asks …", file=sys.stderr)
        cold_env = {**env, "QA_ENCODER_DIR": str(encoders)}
        variants = [""] + [x for x in args.cold_variants.split(";") if x]
        runs = {v: [] for v in variants}
        mismatch = {v: [] for v in variants}
        for i in range(args.cold_runs):
            q = questions[i % len(questions)]["q"]
            for v in variants:
                cmd = [sys.executable, str(SCRIPT.parent / "_cli_probe.py")] if v else [sys.executable, "-m", "qa"]
                res = run_measured([*cmd, "ask", q, "--json", "--docs", str(docs), "--index", str(index)],
                                   env={**cold_env, "QA_BENCH_PROTO": v})
                if res["rc"] != 0:
                    raise SystemExit(res["stderr"])
                if json.loads(res["stdout"]) != answers[q]:
                    mismatch[v].append(q)
                runs[v].append({"wall_s": res["wall_s"], "cpu_s": res["user_s"] + res["sys_s"],
                                "peak_rss_mb": res["peak_rss_mb"], "stderr": res["stderr"][-300:]})
        results["cold_variants"] = {
            (v or "current"): {"wall_s": summary([c["wall_s"] for c in runs[v]]),
                               "cpu_s": summary([c["cpu_s"] for c in runs[v]]),
                               "peak_rss_mb": statistics.median(c["peak_rss_mb"] for c in runs[v]),
                               "identical_to_warm": not mismatch[v], "mismatches": mismatch[v],
                               "rebuilt": any("index" in c["stderr"] for c in runs[v])}
            for v in variants}
        results["cold"] = results["cold_variants"]["current"]

        if not args.reuse_index:
            # Delete one document.
            victim = by_size[len(by_size) // 3]
            (docs / victim).unlink()
            print(f"incremental build after deleting {victim} …", file=sys.stderr)
            d = build()
            d = {k: v for k, v in d.items() if k != "per_doc"}
            d.update(target=victim, ok=(d["removed"] == [victim] and d["embedded_chunks"] == 0
                                        and d["embedded_sentences"] == 0
                                        and d["totals"]["documents"] == len(records) - 1))
            results["delete_build"] = d
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["src_end"] = src_state()
    if results["src_end"] != results["machine"]["src"]:
        print(f"warning: src/ changed during the run ({results['machine']['src']} → {results['src_end']})",
              file=sys.stderr)

    print_report(results)
    write_json(args.json_out, results)
    return 0


def print_report(r: dict) -> None:
    ix = r["index"]
    fb = r.get("full_build")
    print(f"\n## Corpus benchmark — {r['jsonl']}\n")
    print(f"{ix['documents']} documents ({r['corpus']['bytes'] / 1e6:.1f} MB of Markdown), {ix['chunks']} chunks, "
          f"{ix['sentences']} sentences; {r['machine']['cpus']} CPUs; load average {r['machine']['loadavg']} at start"
          + (f", {fb['load']} after the build" if fb else "") + f"; src {r['machine']['src']}"
          + (" (latency only: index reused from an earlier run)" if r.get("reused_index") else "") + "\n")
    rows = []
    if fb:
        full_s = fb["build_s"]
        stages = fb["stages_s"]
        enc = stages.get("encode (Embedder.encode_with_tokens)", stages.get("encode (Embedder.encode)", float("nan")))
        rows += [
            [f"**full build** (`Engine.build(full=True)`, model loaded; {fb['texts']} texts embedded)",
             f"**{full_s:.1f} s**", ""],
            ["  process wall (python + torch import + model load + build)", f"{fb['process_wall_s']:.1f} s",
             f"model load {fb['model_load_s']:.1f} s"],
            ["  time in Embedder.encode", f"{enc:.1f} s", ""],
            ["  everything but encoding (scan, chunk, assemble, BM25, FAISS, write)",
             f"{full_s - enc:.1f} s = {(full_s - enc) / enc * 100:.1f} % of encoding", ""],
        ]
        ab = fb.get("ab")
        if ab:
            rows.append([f"  Embedder.encode vs plain SentenceTransformer.encode (A/B, {ab['sample']} sampled texts)",
                         f"{(ab['ratio'] - 1) * 100:+.1f} %",
                         f"{statistics.median(ab['embedder_s']):.1f} s vs {statistics.median(ab['raw_s']):.1f} s"])
            est_raw = enc / ab["ratio"]
            rows.append(["**build overhead beyond raw encoding** (build / (encode ÷ A/B ratio) − 1)",
                         f"**{(full_s - est_raw) / est_raw * 100:+.1f} %**", "goal ≤ 10 %"])
        raw = fb.get("raw_encode_s")
        if raw:
            rows.append(["  raw `SentenceTransformer.encode` of all the same texts", f"{raw:.1f} s",
                         f"load after: {fb.get('load_after_raw')}"])
            rows.append(["  build overhead measured against that full raw encoding",
                         f"{(full_s - raw) / raw * 100:+.1f} %", "goal ≤ 10 %"])
        split = fb.get("encode_split_est_s")
        if split:
            tc = fb["text_counts"]
            share = split["sentences"] / (split["chunks"] + split["sentences"])
            rows.append(["  encoding split: chunks / sentences (estimated from samples)",
                         f"{share * 100:.0f} % of encoding is sentence vectors",
                         (f"{tc['chunks']} chunk texts ({tc['chunk_chars'] / 1e6:.1f} M chars), "
                          f"{tc['sentences']} sentence texts ({tc['sentence_chars'] / 1e6:.1f} M chars)")])
        rows.append(["peak RSS of the build process", f"{fb['process_peak_rss_mb']:.0f} MB", ""])
    rows.append(["index size on disk (generation / ONNX encoder)",
                 f"{ix['generation_bytes'] / 1e6:.1f} MB / {ix['encoder_bytes'] / 1e6:.0f} MB", ""])
    if fb:
        nc = r["nochange_build"]
        rows.append(["build with no change", f"{nc['build_s']:.2f} s (process {nc['process_wall_s']:.1f} s)",
                     f"written={nc['written']}, embedded {nc['embedded_chunks']}+{nc['embedded_sentences']}"])
        for e in r["edit_builds"]:
            rows.append([f"**edit one document** ({e['doc_chunks']} chunks, {e['doc_sentences']} sentences)",
                         (f"**{e['build_s']:.2f} s = {e['build_s'] / full_s * 100:.1f} %** of full (process "
                          f"{e['process_wall_s']:.1f} s = {e['process_wall_s'] / fb['process_wall_s'] * 100:.1f} %)"),
                         (f"embedded {e['embedded_chunks']} chunks + {e['embedded_sentences']} sentences; "
                          f"only that document: {'yes' if e['only_that_document'] else 'NO'}; goal ≤ 5 %")])
        d = r["delete_build"]
        rows.append(["**delete one document**", (f"**{d['build_s']:.2f} s = {d['build_s'] / full_s * 100:.1f} %** of "
                                                  f"full (process {d['process_wall_s']:.1f} s)"),
                     f"nothing embedded, removed: {'yes' if d['ok'] else 'NO'}"])
    rows.append(["answer about the edit found in the edited file", "yes" if r["marker"]["found"] else "NO",
                 r["marker"]["answer"][:80]])
    w = r["warm"]
    rows.append(["**warm latency p50 / p95**", f"**{w['summary_ms']['p50']:.1f} / {w['summary_ms']['p95']:.1f} ms**",
                 f"{w['summary_ms']['n']} asks"])
    rows.append(["index load / first ask after load", f"{w['index_load_s'] * 1e3:.0f} ms / {w['first_ask_s'] * 1e3:.0f} ms", ""])
    rows.append(["RSS after load / after first ask / peak",
                 f"{w['rss_after_load_mb']:.0f} / {w['rss_after_first_ask_mb']:.0f} / {w['peak_rss_mb']:.0f} MB", ""])
    c = r["cold"]
    rows.append(["**cold `python -m qa ask`**", f"**{c['wall_s']['median']:.2f} s** (CPU {c['cpu_s']['median']:.2f} s)",
                 (f"median of {c['wall_s']['n']}; identical to warm: {'yes' if c['identical_to_warm'] else 'NO'}; "
                  f"peak RSS {c['peak_rss_mb']:.0f} MB; goal ≤ 1.5 s")])
    rows.append(["top-1 citation from the question's own document", f"{w['top1_source_rate'] * 100:.0f} %",
                 ", ".join(f"{k} {v * 100:.0f} %" for k, v in w["top1_by_kind"].items())])
    print(table(["measure", "value", "note"], rows))

    if fb:
        print("\n### Full build by stage (s)\n")
        print(table(["stage", "s"], [[k, v] for k, v in fb["stages_s"].items()] + [["total build", fb["build_s"]]]))
        e = r["edit_builds"][-1]
        print("\n### One-document edit rebuild by stage (s)\n")
        print(table(["stage", "s"], [[k, v] for k, v in e["stages_s"].items()] + [["total build", e["build_s"]]]))
    print("\n### Warm latency (ms per ask) by stage, current code and prototypes\n")
    stages = list(w["stages_median_ms"])
    rows = [["current", w["summary_ms"]["p50"], w["summary_ms"]["p95"], w["first_ask_s"] * 1e3,
             *[w["stages_median_ms"][k] for k in stages], "(reference)"]]
    for v, d in r.get("warm_variants", {}).items():
        rows.append([f"prototype {v}", d["summary_ms"]["p50"], d["summary_ms"]["p95"], d["first_ask_s"] * 1e3,
                     *[d["stages_median_ms"].get(k, float("nan")) for k in stages],
                     "yes" if d["identical_to_warm"] else "NO"])
    print(table(["variant", "p50", "p95", "first ask", *stages, "answers identical"], rows))
    cv = r.get("cold_variants", {})
    if len(cv) > 1:
        print("\n### Cold `python -m qa ask` with prototype src changes (interleaved runs, median)\n")
        base = cv["current"]["wall_s"]["median"]
        rows = [[v, d["wall_s"]["median"], d["wall_s"]["median"] - base, d["cpu_s"]["median"], d["peak_rss_mb"],
                 "yes" if d["identical_to_warm"] else f"no ({len(d['mismatches'])})"] for v, d in cv.items()]
        print(table(["variant", "wall s", "Δ wall s", "CPU s", "peak RSS MB", "answers identical to warm"], rows))
    print("\n### Index files\n")
    print(table(["file", "MB"], [[k, v / 1e6] for k, v in ix["files"].items()]))


if __name__ == "__main__":
    raise SystemExit(main())
