"""Near misses in a small corpus: how often on-topic questions the documents do not answer are answered.

    HF_HUB_OFFLINE=1 python benchmarks/bench_near_misses.py ../shared/data/squad-v1.1-dev-part-a.json
    python benchmarks/bench_near_misses.py PATH --paragraphs 5 --json

``qa eval --squad PATH --calibrate`` asks questions about *other articles*: far off topic. A user
of a small corpus (the bundled article is five paragraphs) asks about its own subject, things it
does not say ("In what year was Vladimir Putin born?"). This benchmark builds that case from
SQuAD: for every article, an index of its first ``--paragraphs`` paragraphs (each a document,
under the article's title); their questions are answerable, and as many questions of the same
article's other paragraphs (a fixed random sample) are near misses. Both are asked as ``qa ask``
asks them; the table shows, for unknown-word bars around the default
(``QA_ANSWER_UNKNOWN_WORD_THRESHOLD``), the share of answerable questions declined, answered
with a gold answer, and the share of near misses answered. Some near misses are answerable after
all (SQuAD paragraphs of one article repeat facts), so their rate is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from _common import REPO

sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.answer import compose, unknown_bar
from qa.evaluation import Asker, Squad, built_engine, contains_answer, load_squad
from qa.settings import Settings

WORD_BARS = (0.37, 0.40, 0.43, 0.45, 0.50)


@dataclass(frozen=True)
class Asked:
    """One question's evidence and what the answer rules make of it."""

    answerable: bool
    score: float
    covered: bool  # answered whatever the evidence (one sentence holds its whole topic)
    gated: bool  # declined whatever the evidence (no quantity for "how many", nothing to quote)
    bar: float  # the unknown word or name bar it must reach (0: none)
    right: bool  # answered without any bar, the answer holds a gold string


def ask_all(squad: Squad, settings: Settings, paragraphs: int, tmp: Path) -> tuple[list[Asked], list[int]]:
    """Every article's answerable questions and near misses, asked against its small index."""
    rng = random.Random(0)
    by_article: dict[int, list] = {}
    for p in squad.paragraphs:
        by_article.setdefault(p.article, []).append(p)
    rows: list[Asked] = []
    vocabularies: list[int] = []
    for article, paras in sorted(by_article.items()):
        inside = {p.path for p in paras[:paragraphs]}
        answerable = [q for q in squad.questions if q.path in inside]
        others = [q for q in squad.questions if q.article == article and q.path not in inside]
        near = rng.sample(others, min(len(others), len(answerable)))
        part = Squad([p for p in paras if p.path in inside], answerable, squad.articles)
        with built_engine(part, settings, True, tmp / f"article-{article}") as (engine, _):
            asker = Asker(engine)
            vocabularies.append(len(asker.index.keyword.vocab))
            for is_answerable, questions in ((True, answerable), (False, near)):
                for q in questions:
                    hits, answer = asker.ask(q.text)
                    text = answer.question  # as searched (spelling corrected)
                    covered = compose(asker.index, text, text, hits, asker.label,
                                      replace(asker.answer, threshold=float("inf"))).answered
                    forced = compose(asker.index, text, text, hits, asker.label,
                                     replace(asker.answer, threshold=float("-inf"), unknown_word_threshold=0.0,
                                             unknown_name_threshold=0.0))
                    rows.append(Asked(is_answerable, answer.score, covered, bool(hits) and not forced.answered,
                                      unknown_bar(asker.index, text, hits, asker.answer),
                                      forced.answered and contains_answer(forced.answer, q.answers)))
    return rows, vocabularies


def rates(rows: list[Asked], threshold: float, word_bar: float, default_word_bar: float) -> dict[str, float]:
    """The shares for one unknown-word bar (the name bar, higher, stays as set)."""
    def answered(r: Asked) -> bool:
        bar = word_bar if r.bar == default_word_bar else r.bar
        return (r.score >= max(threshold, bar) or r.covered) and not r.gated

    inside = [r for r in rows if r.answerable]
    near = [r for r in rows if not r.answerable]
    return {
        "unknown_word_bar": word_bar,
        "answerable_declined": round(sum(not answered(r) for r in inside) / len(inside), 4),
        "answerable_right": round(sum(answered(r) and r.right for r in inside) / len(inside), 4),
        "near_misses_answered": round(sum(answered(r) for r in near) / len(near), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("squad", type=Path, help="a file in the SQuAD v1.1 JSON layout")
    parser.add_argument("--paragraphs", type=int, default=5, help="paragraphs indexed per article (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    if not args.squad.is_file():
        sys.exit(f"error: no such file: {args.squad}")
    settings = Settings.from_env()
    tmp = Path(tempfile.mkdtemp(prefix="qa-near-misses-"))
    try:
        rows, vocabularies = ask_all(load_squad(args.squad), settings.replace(encoder_dir=tmp / "encoders"),
                                     args.paragraphs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    default = settings.answer_unknown_word_threshold
    table = [rates(rows, settings.answer_threshold, bar, default) for bar in sorted({*WORD_BARS, default})]
    inside = [r for r in rows if r.answerable]
    near = [r for r in rows if not r.answerable]
    report = {
        "answerable": len(inside), "near_misses": len(near), "articles": len(vocabularies),
        "paragraphs": args.paragraphs, "median_vocabulary": sorted(vocabularies)[len(vocabularies) // 2],
        "with_unknown_word": {"answerable": round(sum(r.bar > 0 for r in inside) / len(inside), 4),
                              "near_misses": round(sum(r.bar > 0 for r in near) / len(near), 4)},
        "threshold": settings.answer_threshold, "default_unknown_word_bar": default, "rates": table,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['articles']} articles, {args.paragraphs} paragraphs each indexed "
          f"(median vocabulary {report['median_vocabulary']} stems); {len(inside)} answerable questions, "
          f"{len(near)} near misses; a word no document uses in "
          f"{report['with_unknown_word']['answerable']:.0%} of answerable questions, "
          f"{report['with_unknown_word']['near_misses']:.0%} of near misses\n")
    print("| unknown-word bar | answerable declined | answerable answered right | near misses answered |")
    print("|---:|---:|---:|---:|")
    for row in table:
        mark = " (default)" if row["unknown_word_bar"] == default else ""
        print(f"| {row['unknown_word_bar']:.2f}{mark} | {row['answerable_declined']:.1%} | "
              f"{row['answerable_right']:.1%} | {row['near_misses_answered']:.1%} |")


if __name__ == "__main__":
    main()
