"""Questions and dialogues about the bundled article, scored by the evidence each answer cites.

Usage (repository root, project virtualenv):

    python benchmarks/bench_seed.py                      # seed/questions.jsonl, seed/dialogues.jsonl
    python benchmarks/bench_seed.py --questions benchmarks/seed/chat-questions.jsonl \
        --dialogues benchmarks/seed/chat-dialogues.jsonl  # the set typed as in a Discord channel
    python benchmarks/bench_seed.py --questions benchmarks/seed/blind-questions.jsonl \
        --dialogues benchmarks/seed/blind-dialogues.jsonl  # a third set, written blind for a later release
    python benchmarks/bench_seed.py --questions benchmarks/seed/fresh-questions.jsonl \
        --dialogues benchmarks/seed/fresh-dialogues.jsonl  # a fourth, written blind before the next one
    python benchmarks/bench_seed.py --questions benchmarks/seed/probe-questions.jsonl \
        --dialogues benchmarks/seed/probe-dialogues.jsonl  # a fifth
    python benchmarks/bench_seed.py --questions benchmarks/seed/field-questions.jsonl \
        --dialogues benchmarks/seed/field-dialogues.jsonl  # a sixth, the hardest (sums, lists, comparisons)
    python benchmarks/bench_seed.py --questions benchmarks/seed/late-questions.jsonl \
        --dialogues benchmarks/seed/late-dialogues.jsonl  # a seventh
    python benchmarks/bench_seed.py -v                   # every answer, not only the misses
    python benchmarks/bench_seed.py --questions Q.jsonl --dialogues D.jsonl --docs DIR --index DIR

``seed/questions.jsonl`` (70 questions, written by someone who had not seen the engine, from
the article alone): one object a line with ``q``, ``kind`` — ``answerable`` (the answer must
quote one of the ``evidence`` strings, verbatim from the article), ``unanswerable`` (it must be
declined) or ``partly`` (two questions in one, the article answers one: that part must be
answered with its evidence) — and a ``note``. ``seed/dialogues.jsonl``: one dialogue a line,
``turns`` of ``q`` and ``evidence``, asked in one conversation; a turn counts when its answer
quotes its evidence (or, marked ``"unanswerable": true``, when it is declined). Evidence counts when it stands in the answer text or in a highlighted
(quoted) sentence of a cited source, whitespace aside.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from _common import REPO

sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.conversation import Conversation
from qa.engine import Engine
from qa.settings import Settings

SEED = Path(__file__).resolve().parent / "seed"


def _flat(text: str) -> str:
    return " ".join(text.split())


def quotes(answer, evidence: list[str]) -> bool:
    """Whether an answered answer quotes one of the evidence strings."""
    if not answer.answered:
        return False
    quoted = " ".join(c.text[s:e] for c in answer.citations if c.cited for s, e in c.highlights)
    text, quoted = _flat(answer.answer), _flat(quoted)
    return any(_flat(e) in text or _flat(e) in quoted for e in evidence)


def _show(ok: bool, label: str, question: str, answer) -> None:
    mark = "ok  " if ok else "MISS"
    understood = f"  (understood as: {answer.understood_as})" if answer.understood_as else ""
    print(f"{mark} {label:<12} {answer.score:.3f}  {question}{understood}")
    print(f"       → {_flat(answer.answer)[:220]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=SEED / "questions.jsonl")
    parser.add_argument("--dialogues", type=Path, default=SEED / "dialogues.jsonl")
    parser.add_argument("--docs", type=Path, help="documents folder (default: the settings')")
    parser.add_argument("--index", type=Path, help="index folder (default: the settings')")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every answer")
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("docs_dir", args.docs), ("index_dir", args.index)) if v is not None}
    engine = Engine(Settings.from_env(**overrides))
    engine.ensure_index()

    counts: dict[str, list[int]] = {}
    for line in args.questions.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        answer = engine.ask(item["q"])
        ok = (not answer.answered) if item["kind"] == "unanswerable" else quotes(answer, item["evidence"])
        counts.setdefault(item["kind"], [0, 0])
        counts[item["kind"]][0] += ok
        counts[item["kind"]][1] += 1
        if args.verbose or not ok:
            _show(ok, item["kind"], item["q"], answer)

    turns, dialogues = [0, 0], [0, 0]
    for number, line in enumerate(args.dialogues.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        conversation, whole = Conversation(), True
        for t, turn in enumerate(json.loads(line)["turns"], start=1):
            answer = engine.ask(turn["q"], conversation)
            ok = (not answer.answered) if turn.get("unanswerable") else quotes(answer, turn["evidence"])
            turns[0] += ok
            turns[1] += 1
            whole &= ok
            if args.verbose or not ok:
                _show(ok, f"dialogue {number}.{t}", turn["q"], answer)
        dialogues[0] += whole
        dialogues[1] += 1

    result = {kind: {"right": r, "of": n} for kind, (r, n) in counts.items()}
    result["dialogue turns"] = {"right": turns[0], "of": turns[1]}
    result["dialogues wholly right"] = {"right": dialogues[0], "of": dialogues[1]}
    if args.json:
        print(json.dumps(result))
    else:
        print("\n| set | right | of |\n|---|---:|---:|")
        labels = {"answerable": "answerable: quotes the evidence", "unanswerable": "unanswerable: declined",
                  "partly": "two in one: the answerable part quoted"}
        for key, value in result.items():
            print(f"| {labels.get(key, key)} | {value['right']} | {value['of']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
