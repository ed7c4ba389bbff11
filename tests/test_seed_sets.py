"""The question sets of ``benchmarks/seed`` are well formed: their evidence is the article's own text."""

from __future__ import annotations

import json

import pytest

from .conftest import ROOT

SEED = ROOT / "benchmarks" / "seed"
ARTICLE = (ROOT / "source_docs" / "russia-united-states-relations.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted(SEED.glob("*questions.jsonl")), ids=lambda p: p.name)
def test_every_question_has_a_kind_and_verbatim_evidence(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        item = json.loads(line)
        assert item["q"].strip() and item["kind"] in ("answerable", "unanswerable", "partly"), (path.name, number)
        # An unanswerable question cites nothing; the others cite the article word for word.
        assert bool(item["evidence"]) is (item["kind"] != "unanswerable"), (path.name, number)
        assert all(e in ARTICLE for e in item["evidence"]), (path.name, number, item["evidence"])


@pytest.mark.parametrize("path", sorted(SEED.glob("*dialogues.jsonl")), ids=lambda p: p.name)
def test_every_dialogue_turn_has_verbatim_evidence_or_is_marked_unanswerable(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        turns = json.loads(line)["turns"]
        assert len(turns) >= 2, (path.name, number)
        for turn in turns:
            assert bool(turn["evidence"]) is not turn.get("unanswerable", False), (path.name, number, turn["q"])
            assert all(e in ARTICLE for e in turn["evidence"]), (path.name, number, turn["evidence"])
