"""`qa eval --squad`: loading the SQuAD layout, the metrics, and a real run on a tiny file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import evaluation
from qa.cli import main
from qa.answer import AnswerParams
from qa.errors import UsageError

from .conftest import ENCODERS, make_settings

ARTICLES = {
    "Lighthouse_keeping": [
        (("The Bell Rock Lighthouse was built between 1807 and 1810 by Robert Stevenson off the coast of Angus, "
         "Scotland. It is the world's oldest surviving sea-washed lighthouse."),
         [("Who built the Bell Rock Lighthouse?", ["Robert Stevenson"]),
          ("When was the Bell Rock Lighthouse built?", ["between 1807 and 1810", "1807"])]),
        (("Keepers trimmed the lamp wicks every four hours during the night. Their log books recorded the weather, "
         "passing ships and the amount of oil burned."),
         [("How often did keepers trim the wicks?", ["every four hours"])]),
    ],
    "Honey_bees": [
        (("A honey bee colony has a single queen, thousands of female workers and, in summer, a few hundred male "
         "drones. Workers build the comb from wax secreted by glands in their abdomen."),
         [("What do workers build the comb from?", ["wax"]),
          ("How many queens does a colony have?", ["a single queen", "single"])]),
        (("Foragers tell their sisters where flowers are with the waggle dance, whose angle points to the food "
         "relative to the sun and whose length gives the distance."),
         [("What dance do foragers use to show where flowers are?", ["waggle dance"])]),
    ],
}


def squad_file(tmp_path: Path) -> Path:
    data = {"version": "test", "data": [
        {"title": title, "paragraphs": [
            {"context": context, "qas": [
                {"id": f"{title}-{p}-{i}", "question": q,
                 "answers": [{"text": a, "answer_start": context.find(a)} for a in answers]}
                for i, (q, answers) in enumerate(qas)]}
            for p, (context, qas) in enumerate(paragraphs)]}
        for title, paragraphs in ARTICLES.items()]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_load_squad_maps_questions_to_paragraph_documents(tmp_path):
    squad = evaluation.load_squad(squad_file(tmp_path))
    assert len(squad.paragraphs) == 4 and len(squad.questions) == 6
    assert squad.articles == ["Lighthouse keeping", "Honey bees"]
    assert squad.paragraphs[0].path == "Lighthouse_keeping/p0001.md"
    q = squad.questions[0]
    assert q.path == "Lighthouse_keeping/p0001.md" and q.answers == ("Robert Stevenson",)
    assert {q.article for q in squad.subset({1}).questions} == {1}


def test_write_docs_with_and_without_title(tmp_path):
    squad = evaluation.load_squad(squad_file(tmp_path))
    evaluation.write_docs(squad, tmp_path / "with", title_heading=True)
    evaluation.write_docs(squad, tmp_path / "without", title_heading=False)
    text = (tmp_path / "with" / "Honey_bees" / "p0002.md").read_text("utf-8")
    assert text.startswith("# Honey bees\n\nForagers tell")
    assert (tmp_path / "without" / "Honey_bees" / "p0002.md").read_text("utf-8").startswith("Foragers tell")


@pytest.mark.parametrize("content", ["not json", json.dumps({"data": [{"title": "x"}]}), json.dumps({"data": []})])
def test_bad_files_are_usage_errors(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    with pytest.raises(UsageError):
        evaluation.load_squad(path)
    with pytest.raises(UsageError):
        evaluation.load_squad(tmp_path / "missing.json")


def test_contains_answer_ignores_markers_case_and_spacing():
    assert evaluation.contains_answer("It was built by Robert\n Stevenson. [1]", ["robert stevenson"])
    assert not evaluation.contains_answer("Chapter one [1]", ["1"])  # a citation marker is not an answer
    assert not evaluation.contains_answer("nothing here", ["wax"])


def test_summarize_metrics():
    results = [evaluation.QuestionResult(str(i), rank, answered, contains, 0.5, 0.001 * (i + 1))
               for i, (rank, answered, contains) in enumerate(
                   [(1, True, True), (2, True, False), (None, False, False), (7, True, True)])]
    report = evaluation.summarize(results)
    assert report.recall == {1: 0.25, 3: 0.5, 5: 0.5, 10: 0.75}
    assert report.mrr == pytest.approx((1 + 0.5 + 1 / 7) / 4)
    assert report.answer_contains == 0.5 and report.declined == 0.25
    assert report.latency_p50_ms == pytest.approx(2.5)
    keys = report.to_json().keys()
    for key in ("recall@1", "recall@3", "recall@5", "recall@10", "mrr", "answer_contains", "declined",
                "latency_p50_ms", "latency_p95_ms"):
        assert key in keys


def test_sample_spreads_over_the_file():
    questions = list(range(100))
    assert evaluation.sample(questions, None) == questions
    picked = evaluation.sample(questions, 5)
    assert picked[0] == 0 and picked[-1] == 99 and len(picked) == 5
    with pytest.raises(UsageError):
        evaluation.sample(questions, 0)


def test_evaluate_end_to_end(tmp_path, embedder):
    settings = make_settings(tmp_path)
    report = evaluation.evaluate(squad_file(tmp_path), settings, workdir=tmp_path / "work")
    assert report.questions == 6 and report.paragraphs == 4 and report.articles == 2
    assert report.recall[1] >= 5 / 6 and report.recall[3] == 1.0
    assert report.answer_contains >= 4 / 6
    assert report.latency_p50_ms > 0
    # The index was built from one file per paragraph, with its title as the heading.
    assert (tmp_path / "work" / "source_docs" / "Lighthouse_keeping" / "p0002.md").is_file()
    # Half the articles: only their questions are asked; every paragraph stays indexed.
    half = evaluation.evaluate(squad_file(tmp_path), settings, articles="odd", title_heading=False,
                               workdir=tmp_path / "work")
    assert half.questions == 3 and half.paragraphs == 4 and not half.title_heading
    assert not (tmp_path / "work" / "source_docs" / "Honey_bees" / "p0001.md").read_text("utf-8").startswith("#")


def test_calibration_separates_answerable_from_unanswerable(tmp_path, embedder):
    calibration = evaluation.calibrate(squad_file(tmp_path), make_settings(tmp_path))
    assert len(calibration.answerable) == 6 and len(calibration.unanswerable) == 6
    assert np.median(calibration.answerable) > np.median(calibration.unanswerable)
    threshold = calibration.threshold_for(0.0)
    declined, _ = calibration.rates(threshold)
    assert declined == 0.0
    rows = calibration.table([0.0, 1.0])
    assert rows[0]["answerable_declined"] == 0.0 and rows[1]["unanswerable_answered"] == 0.0
    # The rules of compose: questions about bees asked of an index about lighthouses hold words
    # the documents never use, and need more evidence; the coverage rule only answers more.
    assert len(calibration.answerable_covered) == 6 and calibration.unanswerable_covered.dtype == bool
    assert np.all(calibration.unanswerable_bar >= AnswerParams().unknown_word_threshold)
    assert rows[0]["unanswerable_answered"] == 1.0 and rows[0]["unanswerable_answered_with_rule"] == 0.0
    assert calibration.answerable_gated.dtype == bool and len(calibration.unanswerable_gated) == 6
    for t, row in zip([0.0, 1.0], rows, strict=True):
        a_ok = (calibration.answerable >= np.maximum(t, calibration.answerable_bar)) | calibration.answerable_covered
        a_ok &= ~calibration.answerable_gated
        assert row["answerable_declined_with_rule"] == pytest.approx(float(np.mean(~a_ok)))


def test_calibration_rates_apply_every_rule_of_compose():
    calibration = evaluation.Calibration(
        answerable=np.array([0.5, 0.3, 0.2, 0.6]), unanswerable=np.array([0.5, 0.3, 0.2, 0.6]),
        answerable_covered=np.array([False, True, False, False]),
        unanswerable_covered=np.array([False, False, False, True]),
        answerable_bar=np.array([0.0, 0.0, 0.0, 0.7]), unanswerable_bar=np.array([0.55, 0.0, 0.0, 0.0]),
        answerable_gated=np.array([False, False, False, False]),
        unanswerable_gated=np.array([False, False, False, True]),
    )
    assert calibration.rates(0.4) == (0.5, 0.5)  # the evidence alone
    # Answerable: 0.5 passes, 0.3 is covered, 0.2 fails, 0.6 is under its bar (0.7).
    # Unanswerable: 0.5 is under its bar, 0.6 is covered but gated: none answered.
    assert calibration.rates(0.4, rule=True) == (0.5, 0.0)


def test_cli_eval_json(tmp_path, embedder, capsys, monkeypatch):
    monkeypatch.setenv("QA_ENCODER_DIR", str(ENCODERS[0]))
    code = main(["eval", "--squad", str(squad_file(tmp_path)), "--json", "--limit", "4", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["questions"] == 4 and 0 <= report["recall@1"] <= report["recall@10"] <= 1


def test_cli_eval_says_what_it_is_doing_where_no_progress_bar_shows(tmp_path, embedder, capsys, monkeypatch):
    # capsys's stderr is no terminal, as in a CI log: a line per stage instead of bars.
    monkeypatch.setenv("QA_ENCODER_DIR", str(ENCODERS[0]))
    code = main(["eval", "--squad", str(squad_file(tmp_path)), "--limit", "3", "--workdir", str(tmp_path / "w")])
    captured = capsys.readouterr()
    assert code == 0 and "| recall@1" in captured.out
    lines = [line for line in captured.err.splitlines() if line.startswith("qa: ")]
    assert lines[0].startswith("qa: indexing ") and str(tmp_path / "w") in lines[0]
    assert lines[1] == "qa: asking 3 questions"
    main(["eval", "--squad", str(squad_file(tmp_path)), "--limit", "3", "-q"])
    assert "qa: " not in capsys.readouterr().err  # -q: quiet


@pytest.mark.parametrize(("argv", "says"), [
    (["eval", "--squad", "missing.json"], "no such file"),
    (["eval", "--squad", "X", "--limit", "0"], "--limit"),
    (["eval", "--squad", "X"], "not a SQuAD JSON file"),
    (["eval", "--conversations", "empty.jsonl"], "holds no tasks"),
    (["eval", "--conversations", "garbage.jsonl"], "garbage.jsonl line 2 is not a multi-turn task (JSONDecodeError"),
    (["eval", "--conversations", "partial.jsonl"], "line 1 is not a multi-turn task (missing key 'eval_turn')"),
])
def test_cli_eval_usage_errors(tmp_path, capsys, monkeypatch, argv, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "X").write_text("{}", "utf-8")
    (tmp_path / "garbage.jsonl").write_text('{"dialogue_id": "d", "collection": "c", "eval_turn": 1, "turns": [{}]}\nnot json\n', "utf-8")
    (tmp_path / "partial.jsonl").write_text('{"dialogue_id": "d", "collection": "c"}\n', "utf-8")
    (tmp_path / "empty.jsonl").write_text("\n", "utf-8")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qa: error:") and len(err.strip().splitlines()) == 1
    assert says in err


def test_cli_eval_needs_a_benchmark(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval"])
    assert exc.value.code == 2
