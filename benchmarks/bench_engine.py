"""Engine benchmark: build time, cold `python -m qa ask`, warm latency, memory, index size.

Usage (from the repository root, in the project's virtualenv):

    python benchmarks/bench_engine.py                       # the bundled source_docs/
    python benchmarks/bench_engine.py --docs DIR --questions questions.txt --json out.json
    python benchmarks/bench_engine.py --quick               # fewer repeats (~1 min)

Everything is built into a temporary index folder (never the repository's ``index/``):

* **build**: the first build of a fresh index folder (which also exports the ONNX query
  encoder once), then ``--builds`` full rebuilds (``qa build --full``), each in a fresh process;
  wall time and peak RSS of the process, and the in-process build time.
* **cold ask**: ``python -m qa ask QUESTION --json`` in fresh processes (index built, page cache
  warm), median wall time and peak RSS; every cold answer is compared with the warm answer to
  the same question (must be identical).
* **cold breakdown**: the same path as ``qa ask`` re-enacted in a probe process with a clock
  around each step (imports, staleness check, index load, encoder load, encode, retrieve,
  compose), median over runs.
* **warm**: one process, one Engine, every question asked ``--repeats`` times after a warm-up;
  p50/p95 latency per ask, with the time split by stage.

Timings on a shared machine are noisy: every figure is a median of repeated fresh runs, and the
load average is recorded with the results.
"""

from __future__ import annotations

import argparse
import json
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

#: Prototype src changes timed as cold CLI runs (see _proto.py); the last one combines them.
PROTO_VARIANTS = ["reuse-index", "light-bm25", "numpy-dense", "fast-exit",
                  "reuse-index,light-bm25,numpy-dense,fast-exit"]

#: Questions about the bundled article (written for this benchmark), plus a few it cannot answer.
SEED_QUESTIONS = [
    "Who is the US ambassador to Russia?",
    "Who represents Russia as ambassador in Washington?",
    "Where is the American embassy in Russia?",
    "When did diplomatic relations between the two countries begin?",
    "Since which year has the US dealt with Russian governments?",
    "How were relations under Boris Yeltsin?",
    "Which NATO intervention did Yeltsin oppose?",
    "What did Yeltsin consider a threat to Russian security?",
    "When did Vladimir Putin become president?",
    "Who did Putin cooperate with after the September 11 attacks?",
    "Why did relations worsen after 2012?",
    "What happened to relations during the Biden administration?",
    "What sanctions did the United States impose on Russia?",
    "Who suspended offensive cyber operations against Russia?",
    "How did the US vote on the UN resolution about Ukraine?",
    "What interests do Russia and the US share?",
    "In which civil war did Russia intervene?",
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the 2018 FIFA World Cup?",
]


# ------------------------------------------------------------------------------------------------
# Workers: run in fresh subprocesses, print one JSON line.
# ------------------------------------------------------------------------------------------------


def _settings(docs: str, index: str, **extra):
    from qa.settings import Settings

    return Settings.from_env(docs_dir=Path(docs), index_dir=Path(index), **extra)


def worker_build(args) -> dict:
    """Build (full or incremental) in this process; time imports, model load and the build."""
    t0 = time.perf_counter()
    from qa.engine import Engine

    t_import = time.perf_counter() - t0
    engine = Engine(_settings(args.docs, args.index))
    t1 = time.perf_counter()
    _ = engine.embedder._model  # torch + sentence-transformers + weights
    t_model = time.perf_counter() - t1

    import qa.embedding as emb

    encode_s = [0.0]
    # Builds encode through encode_with_tokens since the token vectors (older commits: encode).
    method = "encode_with_tokens" if hasattr(emb.Embedder, "encode_with_tokens") else "encode"
    original = getattr(emb.Embedder, method)

    def timed_encode(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            encode_s[0] += time.perf_counter() - began

    setattr(emb.Embedder, method, timed_encode)
    t2 = time.perf_counter()
    report = engine.build(full=args.full)
    t_build = time.perf_counter() - t2
    return {
        "import_s": t_import,
        "model_load_s": t_model,
        "build_s": t_build,
        "report_s": report.seconds,
        "encode_s": encode_s[0],
        "full": report.full,
        "written": report.written,
        "chunks": report.chunks,
        "embedded_chunks": report.embedded_chunks,
        "embedded_sentences": report.embedded_sentences,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_probe(args) -> dict:
    """Re-enact ``qa ask QUESTION --json`` step by step, with a clock around each step.

    Mirrors qa.cli._cmd_ask: ensure_index() (load + check + staleness), engine.ask() (which loads
    the index again, the query encoder, encodes, retrieves and composes), JSON output.
    ``--variant reuse-index`` prototypes keeping the index ensure_index() already loaded.
    """
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    import qa.cli  # noqa: F401
    import qa.engine as eng

    marks["import qa (cli, engine, numpy)"] = time.perf_counter() - t0
    from qa import indexing, store

    clock: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                clock[name] = clock.get(name, 0.0) + time.perf_counter() - began
        return wrapper

    # Lazily imported heavy modules, timed on their own so they don't blur into the stages
    # (skipped when a prototype removes them from the ask path).
    variant = [v for v in args.variant.split(",") if v]
    heavy = [("import onnxruntime, tokenizers", ("onnxruntime", "tokenizers"))]
    if "numpy-dense" not in variant:
        heavy.insert(0, ("import faiss", ("faiss",)))
    if "light-bm25" not in variant:
        heavy.insert(0, ("import bm25s (+scipy.sparse)", ("bm25s",)))
    import importlib

    for label, modules in heavy:
        t = time.perf_counter()
        for m in modules:
            importlib.import_module(m)
        marks[label] = time.perf_counter() - t

    engine = eng.Engine(_settings(args.docs, args.index))
    import _proto

    _proto.apply(variant)
    store.LoadedIndex.check = timed("load index (manifest, faiss, bm25, documents)", store.LoadedIndex.check)
    indexing.docs_changed = timed("staleness check (stat docs)", indexing.docs_changed)
    eng.indexing.docs_changed = indexing.docs_changed
    engine._get_query_encoder = timed("query encoder load (ONNX session)", engine._get_query_encoder)
    _encode = "encode_for" if hasattr(eng.Engine, "encode_for") else "encode_queries"  # older commits
    setattr(eng.Engine, _encode, timed("encode question", getattr(eng.Engine, _encode)))
    eng.retrieve = timed("retrieve", eng.retrieve)
    eng.compose = timed("compose answer", eng.compose)

    t = time.perf_counter()
    status, report = engine.ensure_index()
    marks["ensure_index (total)"] = time.perf_counter() - t
    if report is not None:
        raise SystemExit(f"index was {status}; build it first")
    t = time.perf_counter()
    answer = engine.ask(args.question)
    marks["engine.ask (total)"] = time.perf_counter() - t
    t = time.perf_counter()
    out = json.dumps(answer.to_json(), ensure_ascii=False)
    marks["json output"] = time.perf_counter() - t
    marks.update(clock)
    # The encoder load happens inside encode_queries: report encode net of it.
    if "encode question" in marks and "query encoder load (ONNX session)" in marks:
        marks["encode question"] -= marks["query encoder load (ONNX session)"]
    marks["total in-process"] = time.perf_counter() - t0
    return {"marks": marks, "answer": json.loads(out), "rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}


def worker_warm(args) -> dict:
    """Ask every question ``repeats`` times in one engine; latency per ask and per stage."""
    import qa.engine as eng

    questions = json.loads(Path(args.questions_file).read_text("utf-8"))
    import _proto

    _proto.apply(v for v in args.variant.split(",") if v)
    engine = eng.Engine(_settings(args.docs, args.index))
    stage: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stage[name] = stage.get(name, 0.0) + time.perf_counter() - began
        return wrapper

    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)
    t = time.perf_counter()
    answers = {q: engine.ask(q).to_json() for q in questions}  # warm-up; these are the warm answers
    first_pass = time.perf_counter() - t
    rss_after_load = rss_mb()
    _encode = "encode_for" if hasattr(eng.Engine, "encode_for") else "encode_queries"  # older commits
    setattr(eng.Engine, _encode, timed("encode", getattr(eng.Engine, _encode)))
    eng.retrieve = timed("retrieve", eng.retrieve)
    eng.compose = timed("compose", eng.compose)
    if hasattr(eng, "plan"):
        eng.plan = timed("plan", eng.plan)
    latencies: list[float] = []
    per_stage: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for q in questions:
            stage.clear()
            began = time.perf_counter()
            engine.ask(q)
            latencies.append(time.perf_counter() - began)
            for k, v in stage.items():
                per_stage.setdefault(k, []).append(v)
    return {
        "latencies_s": latencies,
        "stages_median_ms": {k: statistics.median(v) * 1e3 for k, v in per_stage.items()},
        "first_pass_s": first_pass,
        "answers": answers,
        "rss_after_load_mb": rss_after_load,
        "rss_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------


def sample_questions(docs: Path, n: int) -> list[str]:
    """Questions for a corpus without a question file: sentences taken from its documents."""
    import random
    import re

    rng = random.Random(7)
    sentences = []
    for path in sorted(docs.rglob("*")):
        if path.suffix.lower() in (".txt", ".md") and path.is_file():
            text = path.read_text("utf-8", errors="replace")
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 60 <= len(s.strip()) <= 200]
    rng.shuffle(sentences)
    return sentences[:n]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=Path, default=REPO / "source_docs", help="documents folder (default: source_docs/)")
    p.add_argument("--questions", type=Path, help="question file, one per line (default: built-in seed questions)")
    p.add_argument("--workdir", type=Path, help="where the temporary index goes (default: a new temp folder)")
    p.add_argument("--reuse-index", action="store_true", help="skip the builds; use the index already in --workdir")
    p.add_argument("--builds", type=int, default=3, help="full rebuilds to time (default 3)")
    p.add_argument("--cold-runs", type=int, default=9, help="cold `qa ask` processes (default 9)")
    p.add_argument("--probe-runs", type=int, default=7, help="cold breakdown processes (default 7)")
    p.add_argument("--repeats", type=int, default=10, help="warm passes over the questions (default 10)")
    p.add_argument("--quick", action="store_true", help="1 rebuild, 5 cold runs, 3 probes, 3 warm passes")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary index folder")
    p.add_argument("--no-variants", action="store_true", help="time only the current code, no prototypes")
    p.add_argument("--warm-variants", default="ort-nospin;ort-1thread;faiss-1thread,ort-nospin;light-bm25,faiss-1thread,ort-nospin",
                   help="prototype combinations timed warm, ';'-separated (see _proto.py)")
    # internal modes
    p.add_argument("--_worker", choices=["build", "warm", "probe"], help=argparse.SUPPRESS)
    p.add_argument("--index", help=argparse.SUPPRESS)
    p.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--question", help=argparse.SUPPRESS)
    p.add_argument("--questions-file", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    p.add_argument("--faiss-threads", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._worker:
        args.docs = str(args.docs)
        fn = {"build": worker_build, "warm": worker_warm, "probe": worker_probe}[args._worker]
        print(json.dumps(fn(args), default=str))
        return 0

    if args.quick:
        args.builds, args.cold_runs, args.probe_runs, args.repeats = 1, 5, 3, 3
    docs = args.docs.resolve()
    if args.questions:
        questions = [q.strip() for q in args.questions.read_text("utf-8").splitlines() if q.strip()]
    elif docs == (REPO / "source_docs").resolve():
        questions = SEED_QUESTIONS
    else:
        questions = sample_questions(docs, 30)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qa-bench-engine-"))
    workdir.mkdir(parents=True, exist_ok=True)
    index = workdir / "index"
    qfile = workdir / "questions.json"
    qfile.write_text(json.dumps(questions), "utf-8")
    env = quiet_env()
    results: dict = {"machine": machine(), "docs": str(docs), "questions": len(questions), "workdir": str(workdir)}
    common = ["--docs", str(docs), "--index", str(index)]
    try:
        # ---- builds
        if not args.reuse_index:
            shutil.rmtree(index, ignore_errors=True)
            print(f"first build of {docs} into {index} (exports the ONNX encoder) …", file=sys.stderr)
            first = run_measured([sys.executable, "-m", "qa", "build", "-q", *common], env=env)
            if first["rc"] != 0:
                raise SystemExit(first["stderr"])
            results["first_build"] = {k: first[k] for k in ("wall_s", "peak_rss_mb")}
            rebuilds = []
            for i in range(args.builds):
                print(f"full rebuild {i + 1}/{args.builds} …", file=sys.stderr)
                rebuilds.append(run_json_worker(SCRIPT, ["--_worker", "build", "--full", *common], env=env) | {"load": loadavg()})
            results["full_builds"] = rebuilds
            nochange = run_measured([sys.executable, "-m", "qa", "build", *common], env=env)
            results["nochange_build_wall_s"] = nochange["wall_s"]
            results["nochange_build_output"] = nochange["stdout"].strip()
        gen = index / (index / "CURRENT").read_text().strip()
        manifest = json.loads((gen / "manifest.json").read_text())
        results["index"] = {
            "documents": manifest["documents"], "chunks": manifest["chunks"], "sentences": manifest["sentences"],
            "generation_bytes": du(gen), "encoder_bytes": du(index / "encoders"),
            "files": {p.name: du(p) for p in sorted(gen.iterdir())},
        }

        # ---- warm (also gives the reference answers for the cold comparison)
        print("warm latency …", file=sys.stderr)
        warm = run_json_worker(SCRIPT, ["--_worker", "warm", *common, "--questions-file", str(qfile),
                                        "--repeats", str(args.repeats)], env=env)
        results["warm"] = {k: v for k, v in warm.items() if k != "answers"}
        results["warm"]["summary_ms"] = {k: v * 1e3 if isinstance(v, float) else v
                                         for k, v in summary(warm["latencies_s"]).items()}

        # ---- warm, with prototype src changes (each in its own process, after the reference)
        results["warm_variants"] = {}
        for v in [] if args.no_variants else [x for x in args.warm_variants.split(";") if x]:
            print(f"warm latency, prototype {v} …", file=sys.stderr)
            wv = run_json_worker(SCRIPT, ["--_worker", "warm", *common, "--questions-file", str(qfile),
                                          "--repeats", str(args.repeats), "--variant", v], env=env)
            results["warm_variants"][v] = {
                "summary_ms": {k: x * 1e3 if isinstance(x, float) else x for k, x in summary(wv["latencies_s"]).items()},
                "stages_median_ms": wv["stages_median_ms"], "rss_mb": wv["rss_mb"],
                "identical_to_warm": wv["answers"] == warm["answers"],
            }

        # ---- cold `python -m qa ask`, interleaved with prototype variants (same noise for all)
        print("cold asks …", file=sys.stderr)
        variants = [""] + ([] if args.no_variants else PROTO_VARIANTS)
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        mismatches: dict[str, list[str]] = {v: [] for v in variants}
        for i in range(args.cold_runs):
            q = questions[i % len(questions)]
            for v in variants:
                if v:
                    cmd = [sys.executable, str(SCRIPT.parent / "_cli_probe.py")]
                    run_env = {**env, "QA_BENCH_PROTO": v}
                else:
                    cmd, run_env = [sys.executable, "-m", "qa"], env
                res = run_measured([*cmd, "ask", q, "--json", *common], env=run_env)
                if res["rc"] != 0:
                    raise SystemExit(res["stderr"])
                if json.loads(res["stdout"]) != warm["answers"][q]:
                    mismatches[v].append(q)
                runs[v].append({"wall_s": res["wall_s"], "cpu_s": res["user_s"] + res["sys_s"],
                                "peak_rss_mb": res["peak_rss_mb"], "load": loadavg()})
        results["cold_variants"] = {
            v or "current": {
                "wall_s": summary([c["wall_s"] for c in runs[v]]),
                "cpu_s": summary([c["cpu_s"] for c in runs[v]]),
                "peak_rss_mb": statistics.median(c["peak_rss_mb"] for c in runs[v]),
                "identical_to_warm": not mismatches[v],
                "mismatches": sorted(set(mismatches[v])),
                "loads": [c["load"] for c in runs[v]],
            }
            for v in variants
        }
        results["cold"] = results["cold_variants"]["current"]
        # python itself, for reference
        bare = [run_measured([sys.executable, "-c", "pass"], env=env)["wall_s"] for _ in range(5)]
        results["cold"]["python_startup_s"] = statistics.median(bare)

        # ---- cold breakdown (probe), current code and all prototypes together
        print("cold breakdown …", file=sys.stderr)
        for variant in ("", PROTO_VARIANTS[-1]):
            probes = []
            for _ in range(args.probe_runs):
                probes.append(run_json_worker(SCRIPT, ["--_worker", "probe", *common, "--question", questions[0],
                                                       "--variant", variant], env=env))
            ref = warm["answers"][questions[0]]
            keys = list(dict.fromkeys(k for p in probes for k in p["marks"]))
            marks = {k: statistics.median(p["marks"].get(k, 0.0) for p in probes) for k in keys}
            results["probe" if not variant else "probe_all"] = {
                "variant": variant,
                "marks_s": marks,
                "process_wall_s": statistics.median(p["process_wall_s"] for p in probes),
                "identical_to_warm": all(p["answer"] == ref for p in probes),
            }
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
    print(f"\n## Engine benchmark — {r['docs']}\n")
    print(f"{ix['documents']} documents, {ix['chunks']} chunks, {ix['sentences']} sentences; "
          f"{r['questions']} questions; {r['machine']['cpus']} CPUs, load average at start "
          f"{r['machine']['loadavg']}, {r['machine']['time']}\n")
    rows = []
    if "full_builds" in r:
        fb = r["full_builds"]
        rows.append(["first build (fresh index folder, incl. one-time ONNX export), process wall",
                     f"{r['first_build']['wall_s']:.1f} s", "1 run"])
        rows.append(["full rebuild `--full`, process wall (python + torch import + model load + build)",
                     f"{statistics.median(b['process_wall_s'] for b in fb):.1f} s", f"median of {len(fb)}"])
        rows.append(["  of which import qa / model load / build",
                     " / ".join(f"{statistics.median(b[k] for b in fb):.2f}" for k in ("import_s", "model_load_s", "build_s")) + " s",
                     ""])
        rows.append(["  of which encoding inside the build", f"{statistics.median(b['encode_s'] for b in fb):.2f} s", ""])
        rows.append(["build with no change (`qa build`), process wall", f"{r['nochange_build_wall_s']:.2f} s", "1 run"])
        rows.append(["peak RSS of a full rebuild", f"{statistics.median(b['process_peak_rss_mb'] for b in fb):.0f} MB", ""])
    c = r["cold"]
    rows.append(["**cold `python -m qa ask --json`, wall**",
                 f"**{c['wall_s']['median']:.2f} s** (min {c['wall_s']['min']:.2f}, max {c['wall_s']['max']:.2f})",
                 f"median of {c['wall_s']['n']}; CPU {c['cpu_s']['median']:.2f} s; goal ≤ 1.5 s"])
    rows.append(["  bare `python -c pass`", f"{c['python_startup_s']:.3f} s", ""])
    rows.append(["cold answers identical to warm answers", "yes" if c["identical_to_warm"] else f"NO: {c['mismatches']}", ""])
    rows.append(["peak RSS of a cold ask", f"{c['peak_rss_mb']:.0f} MB", ""])
    w = r["warm"]["summary_ms"]
    rows.append(["**warm latency per question p50 / p95**", f"**{w['p50']:.1f} / {w['p95']:.1f} ms**",
                 f"{w['n']} asks"])
    rows.append(["warm RSS after loading / peak", f"{r['warm']['rss_after_load_mb']:.0f} / {r['warm']['peak_rss_mb']:.0f} MB", ""])
    rows.append(["index size on disk (generation / ONNX encoder)",
                 f"{ix['generation_bytes'] / 1e6:.2f} MB / {ix['encoder_bytes'] / 1e6:.0f} MB", ""])
    print(table(["measure", "value", "note"], rows))

    print("\n### Warm latency by stage (median ms per ask)\n")
    stages = list(r["warm"]["stages_median_ms"])
    rows = [["current", r["warm"]["summary_ms"]["p50"], r["warm"]["summary_ms"]["p95"],
             *[r["warm"]["stages_median_ms"].get(k, float("nan")) for k in stages], "(reference)"]]
    for v, d in r.get("warm_variants", {}).items():
        rows.append([f"prototype {v}", d["summary_ms"]["p50"], d["summary_ms"]["p95"],
                     *[d["stages_median_ms"].get(k, float("nan")) for k in stages], "yes" if d["identical_to_warm"] else "NO"])
    print(table(["variant", "p50 ms", "p95 ms", *stages, "answers identical"], rows))

    cv = r.get("cold_variants", {})
    if len(cv) > 1:
        print("\n### Cold `qa ask` with prototype src changes (interleaved runs, median)\n")
        base = cv["current"]["wall_s"]["median"]
        rows = [[v, f"{d['wall_s']['median']:.2f}", f"{d['wall_s']['median'] - base:+.2f}", f"{d['cpu_s']['median']:.2f}",
                 f"{d['peak_rss_mb']:.0f}", "yes" if d["identical_to_warm"] else f"no ({len(d['mismatches'])})"]
                for v, d in cv.items()]
        print(table(["variant", "wall s", "Δ wall s", "CPU s", "peak RSS MB", "answers identical to warm"], rows))

    print("\n### Cold `qa ask` breakdown (probe process, median s)\n")
    base = r.get("probe", {})
    alt = r.get("probe_all", {})
    keys = list(dict.fromkeys([*base.get("marks_s", {}), *alt.get("marks_s", {})]))
    rows = [[k, base["marks_s"].get(k, float("nan")), alt.get("marks_s", {}).get(k, float("nan"))] for k in keys]
    rows.append(["process wall (incl. interpreter start and exit)", base.get("process_wall_s", float("nan")),
                 alt.get("process_wall_s", float("nan"))])
    rows.append(["answer identical to warm", base.get("identical_to_warm"), alt.get("identical_to_warm")])
    print(table(["step", "current", f"prototypes: {alt.get('variant', '')}"], rows))


if __name__ == "__main__":
    raise SystemExit(main())
