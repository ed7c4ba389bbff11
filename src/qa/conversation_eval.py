"""Measure follow-up resolution on a multi-turn retrieval set (MTRAG-style JSON lines).

For each collection the union of its reference passages becomes a corpus (one passage, one
document) indexed by the real engine in a temporary folder. Each dialogue is replayed turn by
turn; at every evaluated turn the reference passages are looked up in the ranking of

* ``question_only`` — the turn's question alone, no history;
* ``history_aware`` — the question resolved through a :class:`Conversation` whose earlier turns
  hold the engine's own answers (exactly what ``qa chat`` does);
* ``history_aware_ref`` — the same, but the earlier turns' answers are the dataset's reference
  answers (as if the earlier answers had been perfect).

Scores are recall@5 and MRR of the reference passages, split by first turn / follow-up and by
whether the evaluated turn switched topic (its reference passages share no document with the
previous turn's: a label from the data, not from the method). The report also scores the two
halves of the dialogues (sorted by dialogue id), so a choice that helps only one half shows.

Run: ``python -m qa.conversation_eval PATH [--json] [--limit N] [--halves]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from qa.conversation import Conversation, Turn
from qa.errors import UsageError
from qa.settings import Settings

K = 5
#: Chunks retrieved per question; passages are ranked by their best chunk among these.
DEPTH = 30
METHODS = ("question_only", "history_aware", "history_aware_ref")


@dataclass
class _Task:
    """One evaluated turn of a dialogue."""

    task_id: str
    turn: int  # 1-based
    multi_turn: str  # "", "Follow-up" or "Clarification"
    answerability: str
    references: set[str]
    topic: str  # "first", "same" or "switch" (or "unknown" when the previous turn has no references)
    ranks: dict[str, list[str]] = field(default_factory=dict)
    used_history: bool = False  # whether the history-aware method used earlier turns at all
    half: str = ""  # "A" or "B": the half of the dialogues (sorted by id) it belongs to


def load_dialogues(path: Path) -> tuple[dict[str, list[dict]], dict[str, dict[str, dict]]]:
    """Dialogues (their tasks, ordered by evaluated turn) and each collection's passages by id.

    Raises:
        UsageError: When the file cannot be read or a line is not a task (naming the line).
    """
    dialogues: dict[str, list[dict]] = defaultdict(list)
    passages: dict[str, dict[str, dict]] = defaultdict(dict)
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path} ({exc.__class__.__name__}: {exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
            if not isinstance(task, dict):
                raise TypeError("a task must be a JSON object")
            # Normalised in place: the rest of the evaluation looks these up by these types.
            task["dialogue_id"], task["collection"] = str(task["dialogue_id"]), str(task["collection"])
            task["eval_turn"] = int(task["eval_turn"])
            task["task_id"] = str(task.get("task_id", f"{task['dialogue_id']}<::>{task['eval_turn']}"))
            turns = task["turns"]
            if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) for t in turns):
                raise ValueError("'turns' must be a non-empty list of objects")
            dialogues[task["dialogue_id"]].append(task)
            for p in task.get("context") or []:
                passages[task["collection"]][str(p["passage_id"])] = p
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{exc.__class__.__name__}: {exc}"
            raise UsageError(f"{path} line {number} is not a multi-turn task ({what})") from None
    if not dialogues:
        raise UsageError(f"{path} holds no tasks")
    for tasks in dialogues.values():
        tasks.sort(key=lambda t: t["eval_turn"])
    return dict(dialogues), dict(passages)


def _choose(dialogues: list[list[dict]], limit: int | None) -> list[list[dict]]:
    """Whole dialogues, taken from each collection in turn (so a limited run still covers every
    collection) while their evaluated turns fit in ``limit``; at least one dialogue."""
    if limit is None:
        return dialogues
    queues: dict[str, list[list[dict]]] = defaultdict(list)
    for tasks in dialogues:
        queues[tasks[-1]["collection"]].append(tasks)
    chosen: list[list[dict]] = []
    count = 0
    while any(queues.values()):
        for queue in queues.values():
            if queue and (not chosen or count + len(queue[0]) <= limit):
                count += len(queue[0])
                chosen.append(queue.pop(0))
            elif queue:
                queue.clear()  # the next dialogue of this collection does not fit
    return chosen


def _label(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


#: A ClapNQ passage id: "<Wikipedia page id>_<start>-<end>-<s>-<e>"; the page is the document.
_CLAPNQ_ID = re.compile(r"(\d+)_\d+-")


def document_of(passage_id: str) -> str:
    """The document an MTRAG passage comes from (passages of one document share it).

    Ids are "<document>-<start>-<end>" ("ibmcld_00491-1283-3050", "87fdc8101cee16b1-1441-3295",
    "114303-0-2100"), except ClapNQ's, which put the passage's offset after the Wikipedia page id:
    "798401030_10436-10772-0-336" and "798401030_10773-11534-0-761" are two passages of one page.
    """
    if m := _CLAPNQ_ID.match(passage_id):
        return m.group(1)
    return passage_id.split("-", 1)[0]


def _build(collection: str, passages: dict[str, dict], root: Path, settings: Settings, progress: bool):
    """An engine over one collection; returns it and the map from document path to passage id."""
    from qa.engine import Engine

    folder = root / collection
    docs = folder / "source_docs"
    docs.mkdir(parents=True, exist_ok=True)
    path_to_id: dict[str, str] = {}
    for i, (pid, p) in enumerate(sorted(passages.items()), start=1):
        title, text = (p.get("title") or "").strip(), p.get("text") or ""
        if title and not text.lstrip().startswith(title):
            text = f"{title}\n\n{text}"
        name = f"p{i:04d}.txt"
        (docs / name).write_text(text, encoding="utf-8")
        path_to_id[f"source_docs/{name}"] = pid
    engine = Engine(settings.replace(docs_dir=docs, index_dir=folder / "index"))
    engine.build(progress=progress)
    return engine, path_to_id


def _ranking(answer, path_to_id: dict[str, str]) -> list[str]:
    """Distinct passage ids in retrieval order (citations are listed quoted-first; their score is the rank)."""
    ranked = sorted(answer.citations, key=lambda c: -c.score)
    return list(dict.fromkeys(path_to_id[c.source] for c in ranked))


def _scores(ranking: list[str], references: set[str]) -> tuple[float, float]:
    recall = len(set(ranking[:K]) & references) / len(references)
    rr = next((1.0 / r for r, pid in enumerate(ranking, start=1) if pid in references), 0.0)
    return recall, rr


def evaluate(
    path: Path,
    settings: Settings,
    limit: int | None = None,
    progress: bool = False,
    work_dir: Path | None = None,
    methods: tuple[str, ...] = METHODS,
) -> dict:
    """Replay the dialogues of ``path`` and score each evaluated turn for every method.

    Args:
        path: The tasks file (one JSON object a line: collection, context, turns, eval_turn...).
        settings: Model and retrieval settings; docs and index folders are replaced by temporary ones.
        limit: Evaluate at most this many turns (whole dialogues, from every collection in turn).
        progress: Show build progress bars and a line per dialogue on stderr.
        work_dir: Where to build the indexes (default: a temporary folder, removed afterwards).
            Indexes already there are reused (updated incrementally).
        methods: The methods to run (a subset of :data:`METHODS`).

    Returns:
        Counts, the scores per group and method, and per-turn details.
    """
    started = time.time()
    dialogues, passages = load_dialogues(path)
    ids = sorted(dialogues)
    half = {d: "A" if i < len(ids) // 2 else "B" for i, d in enumerate(ids)}
    chosen = _choose(list(dialogues.values()), limit)
    with tempfile.TemporaryDirectory(prefix="qa-conv-eval-") as tmp:
        root = work_dir or Path(tmp)
        if settings.encoder_dir is None:
            # One ONNX export for every collection instead of one per temporary index.
            default = settings.index_dir / "encoders"
            settings = settings.replace(encoder_dir=default if default.is_dir() else root / "encoders")
        engines: dict[str, tuple[object, dict[str, str]]] = {}
        results: list[_Task] = []
        for d, tasks in enumerate(chosen, start=1):
            collection = tasks[-1]["collection"]
            if collection not in engines:
                engines[collection] = _build(collection, passages[collection], root, settings, progress)
            engine, path_to_id = engines[collection]
            for result in _replay(engine, path_to_id, tasks, settings, methods):
                result.half = half[tasks[-1]["dialogue_id"]]
                results.append(result)
            if progress:
                print(f"dialogue {d}/{len(chosen)}: {len(tasks)} turns", file=sys.stderr)
    return _report(path, results, methods, time.time() - started)


def _replay(engine, path_to_id: dict[str, str], tasks: list[dict], settings: Settings,
            methods: tuple[str, ...]) -> list[_Task]:
    """Ask every turn of one dialogue each way; score the turns that are tasks."""
    turns = tasks[-1]["turns"]
    by_turn = {t["eval_turn"]: t for t in tasks}
    # No age limit: the replay is instant, but a slow machine must not expire turns mid-dialogue.
    own = Conversation(settings.max_turns, float("inf"))
    ref = Conversation(settings.max_turns, float("inf"))
    out: list[_Task] = []
    previous_docs: set[str] | None = None
    for i, turn in enumerate(turns, start=1):
        question = " ".join(str(turn.get("question") or "").split())
        if not question:  # nothing to ask: the turn is neither history nor scored
            previous_docs = None
            continue
        answers = {}
        if "question_only" in methods:
            answers["question_only"] = engine.ask(question, None, top_k=DEPTH)
        if "history_aware" in methods:
            answers["history_aware"] = engine.ask(question, own, top_k=DEPTH)
        if "history_aware_ref" in methods:
            answers["history_aware_ref"] = engine.ask(question, ref, top_k=DEPTH)
            # Keep how the engine understood the question, but remember the reference answer
            # instead of its own (no quoted sentences: the reference answer is not in the corpus).
            last = ref.last
            ref.replace_last(Turn(last.question, last.understood_as, str(turn.get("answer") or ""), [],
                                  person=last.person))
        task = by_turn.get(i)
        if task is None:  # history only: its references are unknown
            previous_docs = None
            continue
        references = {p["passage_id"] for p in task.get("context") or []}
        docs = {document_of(pid) for pid in references}
        if i == 1:
            topic = "first"
        elif not previous_docs or not docs:
            topic = "unknown"
        else:
            topic = "same" if docs & previous_docs else "switch"
        previous_docs = docs
        if not references:
            continue
        result = _Task(task["task_id"], i, _label(task.get("multi_turn")), _label(task.get("answerability")),
                       references, topic)
        for method, answer in answers.items():
            result.ranks[method] = _ranking(answer, path_to_id)
        if "history_aware" in answers:
            result.used_history = answers["history_aware"].understood_as is not None
        out.append(result)
    return out


def _table(groups: dict[str, list[_Task]], methods: tuple[str, ...]) -> dict:
    table = {}
    for name, members in groups.items():
        row: dict[str, object] = {"n": len(members)}
        for method in methods:
            if members:
                pairs = [_scores(r.ranks[method], r.references) for r in members]
                row[method] = {
                    f"recall@{K}": round(sum(p[0] for p in pairs) / len(pairs), 4),
                    "mrr": round(sum(p[1] for p in pairs) / len(pairs), 4),
                }
        table[name] = row
    return table


def _report(path: Path, results: list[_Task], methods: tuple[str, ...], seconds: float) -> dict:
    groups: dict[str, list[_Task]] = {
        "all": results,
        "first turn": [r for r in results if r.turn == 1],
        "follow-up": [r for r in results if r.turn > 1],
        "follow-up, same topic": [r for r in results if r.turn > 1 and r.topic == "same"],
        "follow-up, topic switch": [r for r in results if r.turn > 1 and r.topic == "switch"],
        "follow-up (labelled Follow-up)": [r for r in results if r.turn > 1 and "Follow-up" in r.multi_turn],
        "follow-up (labelled Clarification)": [r for r in results if r.turn > 1 and "Clarification" in r.multi_turn],
    }
    table = _table(groups, methods)
    # The same for each half of the dialogues: first turns, follow-ups, topic switches.
    halves = {
        f"half {h}, {name}": [r for r in groups[name] if r.half == h]
        for h in ("A", "B")
        for name in ("first turn", "follow-up", "follow-up, same topic", "follow-up, topic switch")
    }
    follow_ups = groups["follow-up"]
    return {
        "dataset": str(path),
        "turns_scored": len(results),
        "follow_ups_using_history": sum(r.used_history for r in follow_ups),
        "follow_ups": len(follow_ups),
        "k": K,
        "methods": list(methods),
        "groups": table,
        "halves": _table(halves, methods),
        "seconds": round(seconds, 1),
        "per_turn": [
            {"task_id": r.task_id, "turn": r.turn, "half": r.half, "topic": r.topic, "multi_turn": r.multi_turn,
             "used_history": r.used_history,
             **{m: dict(zip((f"recall@{K}", "rr"), _scores(r.ranks[m], r.references), strict=True)) for m in methods}}
            for r in results
        ],
    }


def format_table(report: dict, halves: bool = False) -> str:
    """The report as a Markdown table (with ``halves``, followed by the rows of each half)."""
    k = report["k"]
    head = ["turns", "n"] + [f"{m} {s}" for m in report["methods"] for s in (f"R@{k}", "MRR")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = report["groups"] | (report.get("halves", {}) if halves else {})
    for name, row in rows.items():
        cells = [name, str(row["n"])]
        for m in report["methods"]:
            scores = row.get(m)
            cells += [f"{scores[f'recall@{k}']:.3f}", f"{scores['mrr']:.3f}"] if scores else ["–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.conversation_eval", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="tasks file (JSON lines)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate at most N turns")
    parser.add_argument("--work-dir", type=Path, metavar="DIR", help="build the indexes here (kept)")
    parser.add_argument("--halves", action="store_true", help="also show each half of the dialogues (by id)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"qa: error: no such file: {args.path}", file=sys.stderr)
        return 2
    try:
        report = evaluate(args.path, Settings.from_env(), args.limit, progress=not args.quiet and sys.stderr.isatty(),
                          work_dir=args.work_dir)
    except UsageError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_table(report, args.halves))
        print(f"\n{report['turns_scored']} turns scored in {report['seconds']:.0f} s; the history-aware method used "
              f"earlier turns on {report['follow_ups_using_history']} of {report['follow_ups']} follow-ups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
