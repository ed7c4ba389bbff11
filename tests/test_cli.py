"""The command line: exit codes, one-line errors, the JSON contract, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main

from .conftest import ENCODERS, ROOT


@pytest.fixture
def project(corpus: Path, embedder, monkeypatch) -> Path:
    """Run the CLI inside a project folder (source_docs/ and index/ relative to the cwd)."""
    monkeypatch.chdir(corpus)
    monkeypatch.setenv("QA_ENCODER_DIR", str(ENCODERS[0]))
    return corpus


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_builds_a_missing_index_with_a_notice_then_answers(project, capsys):
    code, out, err = run(capsys, "ask", "Who is the US ambassador to Russia?")
    assert code == 0
    assert "Lynne M. Tracy" in out and "[1]" in out
    assert "Sources:" in out and "source_docs/russia-united-states-relations.txt, lines" in out
    assert "no index yet; index built" in err and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, "ask", "Who is the US ambassador to Russia?")
    assert code == 0 and err == ""  # up to date: no notice


def test_ask_rebuilds_an_index_made_with_other_settings(project, capsys, monkeypatch):
    run(capsys, "build")
    monkeypatch.setenv("QA_SENTENCE_CONTEXT", "0")  # other sentence vectors: a full rebuild
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "stale" in out
    code, out, err = run(capsys, "ask", "Who is the US ambassador to Russia?")
    assert code == 0 and "Lynne M. Tracy" in out
    assert "settings changed; index built" in err
    code, out, err = run(capsys, "ask", "Who is the US ambassador to Russia?")
    assert code == 0 and err == ""


def test_ask_json_contract(project, capsys):
    code, out, _ = run(capsys, "ask", "--json", "-k", "3", "When did Putin become president?")
    assert code == 0
    data = json.loads(out)
    assert data["question"] == "When did Putin become president?"
    assert isinstance(data["answer"], str) and "2000" in data["answer"]
    assert data["answered"] is True
    assert len(data["citations"]) <= 3
    for c in data["citations"]:
        assert isinstance(c["n"], int) and isinstance(c["start_line"], int) and isinstance(c["end_line"], int)
        assert isinstance(c["text"], str) and isinstance(c["score"], float)
        assert c["source"] == "source_docs/russia-united-states-relations.txt"
        assert c["text"] in (project / c["source"]).read_text("utf-8")
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers and markers <= {c["n"] for c in data["citations"]}


def test_declined_question_in_json(project, capsys):
    code, out, _ = run(capsys, "ask", "--json", "What is the capital of France?")
    data = json.loads(out)
    assert code == 0 and data["answered"] is False and data["citations"]
    assert not re.search(r"\[\d+\]", data["answer"])


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\x00\x07"])
def test_empty_question_is_a_usage_error(project, capsys, question):
    code, out, err = run(capsys, "ask", question)
    assert code == 2 and out == ""
    assert err == "qa: error: the question is empty\n"


@pytest.mark.parametrize("question", ["?", "...", "?!", "🤔"])
def test_a_question_without_words_is_a_usage_error(project, capsys, question):
    code, out, err = run(capsys, "ask", question)
    assert (code, out, err) == (2, "", "qa: error: the question has no words\n")


def test_huge_question_is_handled_with_a_warning(project, capsys):
    question = "Who is the US ambassador to Russia? " + "blah " * 20_000  # ~100 kB
    code, out, err = run(capsys, "ask", "--json", question)
    assert code == 0
    assert "only the first 2,000 were used" in err
    data = json.loads(out)
    assert data["warnings"] and data["question"] != question


def test_control_characters_are_ignored(project, capsys):
    code, out, _ = run(capsys, "ask", "--json", "Who is the US\x1b[31m ambassador\x00 to Russia?\x7f")
    assert code == 0 and "Tracy" in json.loads(out)["answer"]


def test_build_reports_changes_and_skipped_files(project, capsys):
    docs = project / "source_docs"
    assert run(capsys, "build")[0] == 0
    (docs / "bad.txt").write_bytes(b"\xff\xfe caf\xe9")
    (docs / "photo.jpg").write_bytes(b"\xff\xd8")
    (docs / "new.md").write_text("# New\n\nThe quokka lives on Rottnest Island.\n", "utf-8")
    code, out, err = run(capsys, "build")
    assert code == 0
    assert "incremental update: 1 added, 0 changed, 0 removed, 1 unchanged" in out
    assert "added: new.md" in out
    assert "bad.txt: not valid UTF-8" in err and "photo.jpg" in err
    code, out, _ = run(capsys, "build")
    assert code == 0 and out.startswith("index is up to date") and "nothing re-embedded" in out
    code, out, _ = run(capsys, "build", "--full")
    assert code == 0 and out.startswith("full rebuild (--full)")


def test_empty_docs_folder_is_a_clear_error(project, capsys):
    for f in (project / "source_docs").iterdir():
        f.unlink()
    code, out, err = run(capsys, "ask", "Anything?")
    assert code == 2 and out == ""
    assert err.startswith("qa: error: no .txt or .md documents to index in") and err.count("\n") == 1
    code, _, err = run(capsys, "build", "--docs", str(project / "nowhere"))
    assert code == 2 and "documents folder not found" in err


def test_an_index_or_model_folder_that_cannot_be_used_is_one_line(project, capsys):
    (project / "a-file").write_text("not a folder", "utf-8")
    for command in (["ask", "Anything?"], ["build"]):
        code, out, err = run(capsys, *command, "--index", str(project / "a-file"))
        assert code == 1 and out == ""
        assert err.startswith(f"qa: error: cannot use {project / 'a-file'}") and err.count("\n") == 1
    assert (project / "a-file").read_text("utf-8") == "not a folder"  # nothing written over it
    (project / "empty").mkdir()
    code, out, err = run(capsys, "ask", "Anything?", "--model", str(project / "empty"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "holds no model" in err


def test_a_documents_control_characters_do_not_reach_the_terminal(project, capsys):
    (project / "source_docs" / "escape.txt").write_text(
        "Terminal test\n\nThe secret code word is \x1b]0;PWNED\x07\x1b[2Jpineapple.\n", "utf-8")
    code, out, _ = run(capsys, "ask", "What is the secret code word?")
    assert code == 0 and "pineapple" in out
    assert "\x1b" not in out and "\x07" not in out
    # The sequences go whole, and the highlight stays on its sentence.
    assert "»The secret code word is pineapple.«" in out and "PWNED" not in out
    code, out, _ = run(capsys, "ask", "--json", "What is the secret code word?")
    assert "\x1b" in json.loads(out)["answer"]  # JSON keeps the text as stored (escaped by json itself)
    # A file's name is the documents folder's too: the warning skipping it is cleaned as well.
    (project / "source_docs" / "\x1b[2Jpicture.png").write_bytes(b"\x89PNG")
    code, out, err = run(capsys, "build")
    assert code == 0 and "skipped picture.png: not a .txt or .md file" in err and "\x1b" not in err


def test_a_corrupt_index_is_rebuilt_with_one_line_naming_the_file(project, capsys):
    run(capsys, "build")
    current = (project / "index" / "CURRENT").read_text().strip()
    (project / "index" / current / "chunk_vectors.npy").write_text("garbage\n")
    code, out, err = run(capsys, "ask", "Who is the US ambassador to Russia?")
    assert code == 0 and "Lynne M. Tracy" in out
    assert err.count("\n") == 1 and "chunk_vectors.npy is not a valid array file" in err and "index built" in err
    assert "pickle" not in err  # numpy's advice to load the file unsafely is not passed on


def test_stats_reports_freshness_and_corruption(project, capsys):
    code, _, err = run(capsys, "stats")
    assert code == 1 and "no index" in err
    run(capsys, "build")
    code, out, _ = run(capsys, "stats", "--json")
    data = json.loads(out)
    assert code == 0 and data["documents"] == 1 and data["chunks"] >= 4 and data["stale"] is False
    assert data["model"] == "all-MiniLM-L6-v2" and data["age_s"] >= 0
    (project / "source_docs" / "more.txt").write_text("Another fact entirely.", "utf-8")
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "stale — run `python -m qa build`" in out
    code, out, _ = run(capsys, "stats", "--docs", str(project / "nowhere"))
    assert code == 0 and f"the documents folder {project / 'nowhere'} is not found" in out
    current = (project / "index" / "CURRENT").read_text().strip()
    (project / "index" / current / "manifest.json").write_text("garbage")
    code, out, err = run(capsys, "stats")
    assert code == 1 and err.count("\n") == 1 and "manifest.json" in err and "--full" in err


def test_bad_usage_exits_2(project, capsys):
    for argv, says in [(["ask"], "the following arguments are required: question"),
                       (["frobnicate"], "invalid choice: 'frobnicate'"),
                       (["ask", "x", "-k", "abc"], "argument -k/--top-k: invalid int value: 'abc'"),
                       (["ask", "--bogus", "hi"], "unrecognized arguments: --bogus (see: qa ask --help)")]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2, argv
        # One line, as every error: no usage block before it.
        assert err.startswith("qa: error: ") and says in err and err.count("\n") == 1, err
    code, _, err = run(capsys, "ask", "-k", "0", "question?")
    assert code == 2 and "top-k" in err


def test_bad_environment_setting_is_one_line(project, capsys, monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "many")
    code, _, err = run(capsys, "ask", "Who?")
    assert code == 2 and err == "qa: error: QA_TOP_K='many' is not a valid int\n"


def chat_json(capsys, monkeypatch, lines: str) -> list[dict]:
    """``qa chat --json`` fed ``lines`` on stdin: its output objects (the exit code must be 0)."""
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, out, _ = run(capsys, "chat", "--json")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_chat_json_keeps_history_across_lines(project, capsys, monkeypatch):
    lines = "Who led Russia after the dissolution of the Soviet Union?\nWhat did he oppose in 1999?\n\n/reset\n  \x00\n"
    objects = chat_json(capsys, monkeypatch, lines)
    assert "Yeltsin" in objects[0]["answer"] and objects[0]["understood_as"] is None
    assert "Kosovo" in objects[1]["answer"] and objects[1]["understood_as"]
    # One object per line, a blank one too: a client reading in lockstep never waits.
    assert objects[2] == {"question": "", "error": "the question is empty"}
    assert objects[3] == {"reset": True}
    assert objects[4] == {"question": "  \x00", "error": "the question is empty"}
    assert len(objects) == 5


def test_chat_json_takes_the_interactive_commands(project, capsys, monkeypatch):
    lines = "/sources 1\nWho is the US ambassador to Russia?\n/sources 1\n/sources 99\n/frob\n/quit\nWho?\n"
    objects = chat_json(capsys, monkeypatch, lines)
    assert objects[0] == {"command": "/sources 1", "error": "no answer yet"}
    assert objects[1]["answered"] and "Lynne M. Tracy" in objects[1]["answer"]
    # The source as the answer cited it: the same object as in the answer's "citations".
    assert objects[2] == {"source": objects[1]["citations"][0]}
    assert objects[3]["error"].startswith("no source [99]")
    assert objects[4] == {"command": "/frob", "error": "unknown command; try /reset, /sources N or /quit"}
    assert len(objects) == 5  # /quit ended the loop: "Who?" was not asked


def test_python_dash_m_in_a_fresh_process(project):
    """The real entry point: exit codes and streams as a shell sees them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "QA_ENCODER_DIR": str(ENCODERS[0])}
    build = subprocess.run([sys.executable, "-m", "qa", "build", "--quiet"], cwd=project, env=env,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    ok = subprocess.run([sys.executable, "-m", "qa", "ask", "Who ordered the suspension of cyber operations?"],
                        cwd=project, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "Pete Hegseth" in ok.stdout and ok.stderr == ""
    bad = subprocess.run([sys.executable, "-m", "qa", "ask", " "], cwd=project, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "qa: error: the question is empty\n" and "Traceback" not in bad.stderr


def test_python_dash_m_ask_skips_teardown_with_unchanged_output(project, capsys, tmp_path):
    """`python -m qa ask` ends with os._exit: same streams and exit codes, no interpreter teardown."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    # Runs at interpreter teardown only: proves which processes went through it.
    (hooks / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "atexit.register(lambda: open(os.environ['QA_TEST_TEARDOWN'], 'a').write('teardown\\n'))\n", "utf-8")
    marker = tmp_path / "teardown.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(hooks)]),
           "QA_ENCODER_DIR": str(ENCODERS[0]), "QA_TEST_TEARDOWN": str(marker)}

    def qa(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "qa", *argv], cwd=project, env=env, capture_output=True,
                              text=True, check=False)

    assert run(capsys, "build", "--quiet")[0] == 0
    question = "Who ordered the suspension of cyber operations?"
    for argv in (("ask", "--json", question), ("ask", question)):
        code, expected, _ = run(capsys, *argv)  # in-process: cli.main() returns normally
        result = qa(*argv)
        assert (result.returncode, result.stdout, result.stderr) == (code, expected, "")
    long = qa("ask", "--json", question + " and" * 700)
    assert long.returncode == 0 and json.loads(long.stdout)["answer"]
    assert long.stderr.startswith("qa: warning: the question was") and len(long.stderr.splitlines()) == 1
    bad = qa("ask", " ")
    assert (bad.returncode, bad.stdout, bad.stderr) == (2, "", "qa: error: the question is empty\n")
    assert not marker.exists()
    # Every other command exits the ordinary way.
    stats = qa("stats")
    assert stats.returncode == 0 and "documents: 1" in stats.stdout
    assert marker.read_text("utf-8") == "teardown\n"
