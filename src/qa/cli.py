"""``python -m qa``: build the index, ask, chat, show stats. A thin adapter over the engine."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from qa import __version__
from qa.errors import QAError, UsageError

logger = logging.getLogger("qa")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other error of ``qa`` is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"qa: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--docs", type=Path, metavar="DIR", help="documents folder (default: ./source_docs)")
    common.add_argument("--index", type=Path, metavar="DIR", help="index folder (default: ./index)")
    common.add_argument("--model", metavar="NAME_OR_PATH", help="embedding model (default: all-MiniLM-L6-v2)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notices")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")

    parser = _Parser(
        prog="qa", description="Answer questions about a folder of documents, with cited passages."
    )
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = sub.add_parser("ask", parents=[common], help="answer one question")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("-k", "--top-k", type=int, metavar="N", help="sources to list (default 5)")

    build = sub.add_parser("build", parents=[common], help="build or update the index (incremental)")
    build.add_argument("--full", action="store_true", help="re-embed every document")

    chat = sub.add_parser("chat", parents=[common], help="a conversation: follow-up questions use earlier turns")
    chat.add_argument("--json", action="store_true", help="read questions line by line from stdin, print JSON lines")
    chat.add_argument("-k", "--top-k", type=int, metavar="N", help="sources to list (default 5)")

    stats = sub.add_parser("stats", parents=[common], help="documents, chunks, model, index age and freshness")
    stats.add_argument("--json", action="store_true", help="print one JSON object")

    ev = sub.add_parser(
        "eval", help="measure retrieval and answer quality on a benchmark file",
        description="Index a benchmark's passages in a temporary folder, ask its questions, report the scores.",
    )
    data = ev.add_mutually_exclusive_group(required=True)
    data.add_argument("--squad", type=Path, metavar="PATH", help="a file in the SQuAD JSON layout")
    data.add_argument("--conversations", type=Path, metavar="PATH", help="multi-turn retrieval tasks (JSON lines)")
    ev.add_argument("--limit", type=int, metavar="N", help="ask at most N questions, spread over the file")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--articles", choices=("all", "even", "odd"), default="all",
                    help="SQuAD: ask only the questions of the even- or odd-numbered articles (a tuning and a "
                         "held-out half); every paragraph is still indexed")
    ev.add_argument("--no-title", action="store_true",
                    help="SQuAD: paragraphs without their article title as a heading")
    ev.add_argument("--calibrate", action="store_true",
                    help="SQuAD: evidence of answerable vs unanswerable questions (one half of the articles "
                         "against an index of the other), and the error rates per threshold")
    ev.add_argument("--workdir", type=Path, metavar="DIR", help="build the index here and keep it (default: a temporary folder)")
    ev.add_argument("--model", metavar="NAME_OR_PATH", help="embedding model (default: all-MiniLM-L6-v2)")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    ev.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    for command in sub.choices.values():
        command.set_defaults(command_parser=command)  # for main(): errors point at the command's help
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Returns:
        0 on success, 2 on bad usage or input, 1 on any other failure.
    """
    args, extra = _parser().parse_known_args(argv)
    if extra:  # argparse blames these on "qa"; the command's own help is the one that lists its flags
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(args.verbose, args.quiet)
    try:
        return _COMMANDS[args.command](args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a folder that cannot be made or written ("--index /proc/x"): one line
        print(f"qa: error: {_printable(_os_error(exc))}", file=sys.stderr)
        return 1


def _os_error(exc: OSError) -> str:
    """The one line for an OSError: "cannot use /proc/x: No such file or directory"."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return f"cannot use {where}: {reason}" if where else reason


class _OneLine(logging.Formatter):
    """``qa: warning: message`` — one line per record, the level in lower case."""

    def format(self, record: logging.LogRecord) -> str:
        # A skipped file's name comes from the documents folder: its control characters must not act.
        message = _printable(record.getMessage().replace("\n", " "))
        return f"qa: {record.levelname.lower()}: {message}"


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    # The level sits on the handler too: some libraries (bm25s) force their logger to DEBUG.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("faiss", "sentence_transformers", "transformers", "bm25s", "httpx", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.ERROR)


def _engine(args: argparse.Namespace):
    from qa.engine import Engine
    from qa.settings import Settings

    settings = Settings.from_env(
        docs_dir=args.docs, index_dir=args.index, model=args.model, top_k=getattr(args, "top_k", None)
    )
    return Engine(settings)


def _notice(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"qa: {message}", file=sys.stderr)


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _ready_engine(args: argparse.Namespace):
    """An engine whose index is up to date, building it first (with a notice) when needed."""
    engine = _engine(args)
    status, report = engine.ensure_index(progress=_progress(args))
    if report is not None:
        what = {"missing": "no index yet", "stale": "documents changed"}.get(status, status)
        if report.reason and (status == "stale" or status.startswith("corrupt")):
            # A full rebuild says why: "model, chunking or token-vector settings changed",
            # "the previous index was unreadable (chunk_vectors.npy is not a valid array file)".
            what = report.reason
        _notice(args, f"{what}; index {'built' if report.full else 'updated'} "
                      f"({report.chunks} chunks, {report.seconds:.1f} s)")
    return engine


# -- commands --------------------------------------------------------------------------------


def _cmd_ask(args: argparse.Namespace) -> int:
    from qa.engine import clean_question

    clean_question(args.question, 10**9)  # fail fast on an empty question, before any loading
    engine = _ready_engine(args)
    answer = engine.ask(args.question)
    if args.json:
        for warning in answer.warnings:  # in the JSON too; stderr tells whoever runs the script
            logger.warning(warning)
        _print_json(answer.to_json())
    else:
        print(render_answer(answer, color=sys.stdout.isatty()))
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = engine.build(full=args.full, progress=_progress(args))
    if not report.written:
        print(f"index is up to date: {report.unchanged} documents, {report.chunks} chunks, nothing re-embedded "
              f"({report.seconds:.1f} s)")
        return 0
    kind = f"full rebuild ({report.reason})" if report.full and report.reason else "full build" if report.full else "incremental update"
    print(f"{kind}: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
          f"{report.unchanged} unchanged; {report.chunks} chunks "
          f"({report.embedded_chunks} chunks and {report.embedded_sentences} sentences embedded) "
          f"in {report.seconds:.1f} s")
    for label, paths in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        for path in paths:
            print(f"  {label}: {_printable(path)}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    engine = _engine(args)
    status = engine.status()
    if status == "missing":
        raise QAError(f"no index in {engine.settings.index_dir}; run `python -m qa build`")
    if status.startswith("corrupt"):
        raise QAError(status.removeprefix("corrupt: ") + "; run `python -m qa build --full`")
    stats = engine.stats()
    if args.json:
        _print_json({**stats.__dict__, "age_s": stats.age_s})
        return 0
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stats.built_at)) if stats.built_at else "never"
    print(f"documents: {stats.documents}")
    print(f"chunks:    {stats.chunks} ({stats.sentences} sentences, {stats.index_type} index)")
    print(f"model:     {stats.model}")
    print(f"built:     {built} ({_age(stats.age_s)} ago)")
    if not Path(stats.docs_dir).is_dir():  # building would fail: say why rather than "run build"
        print(f"status:    stale — the documents folder {stats.docs_dir} is not found")
    else:
        print(f"status:    {'stale — run `python -m qa build`' if stats.stale else 'up to date'}")
    if stats.foreign:
        print(f"note:      {stats.index_dir} holds files qa did not write: {', '.join(stats.foreign)}")
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from qa.conversation import Conversation

    engine = _ready_engine(args)
    conversation = Conversation(engine.settings.max_turns, engine.settings.max_turn_age_s)
    if args.json:
        return _chat_json(engine, conversation, sys.stdin, sys.stdout)
    return _chat_interactive(engine, conversation, sys.stdin, sys.stdout)


def _chat_json(engine, conversation, stdin: TextIO, stdout: TextIO) -> int:
    """One JSON object per input line; a bad line gets an error object and the loop goes on.
    The interactive commands work here too: ``/reset``, ``/sources N`` (that source of the last
    answer, in the answer's citation form) and ``/quit``."""
    last = None
    for line in stdin:
        question = line.strip()
        # A blank line gets its error object too: a client reading one object per line never waits.
        if question in _QUIT:
            break
        if question == "/reset":
            conversation.reset()
            _print_json({"reset": True}, stdout)
        elif question.startswith("/sources"):
            _print_json(_source_json(question, last), stdout)
        elif question.startswith("/"):
            _print_json({"command": question, "error": _UNKNOWN_COMMAND}, stdout)
        else:
            asked = line.rstrip("\n")  # as typed: the engine reports what it cannot ask
            try:
                last = engine.ask(asked, conversation)
                _print_json(last.to_json(), stdout)
            except UsageError as exc:
                _print_json({"question": asked, "error": str(exc)}, stdout)
        stdout.flush()
    return 0


_QUIT = ("/quit", "/exit", "/q")
_UNKNOWN_COMMAND = "unknown command; try /reset, /sources N or /quit"


def _source_json(command: str, answer) -> dict:
    """``/sources N`` in ``chat --json``: the citation, or an error naming what is wrong."""
    found = _find_source(command, answer)
    if isinstance(found, str):
        return {"command": command, "error": found}
    return {"source": next(c for c in answer.to_json()["citations"] if c["n"] == found.n)}


def _chat_interactive(engine, conversation, stdin: TextIO, stdout: TextIO) -> int:
    try:
        import readline  # noqa: F401 - line editing and history for input()
    except ImportError:
        pass
    print("Ask about the documents. Commands: /reset, /sources N, /quit. Ctrl-D exits.", file=stdout)
    last = None
    while True:
        try:
            question = input("\n? ") if stdin is sys.stdin else _read(stdin, stdout)
        except (EOFError, KeyboardInterrupt):
            print(file=stdout)
            return 0
        question = question.strip()
        if not question:
            continue
        if question in _QUIT:
            return 0
        if question == "/reset":
            conversation.reset()
            print("(conversation forgotten)", file=stdout)
            continue
        if question.startswith("/sources"):
            print(_sources_command(question, last), file=stdout)
            continue
        if question.startswith("/"):
            print(_UNKNOWN_COMMAND, file=stdout)
            continue
        try:
            last = engine.ask(question, conversation)
        except UsageError as exc:
            print(f"qa: {exc}", file=stdout)
            continue
        print(render_answer(last, color=stdout.isatty(), full_sources=False), file=stdout)


def _read(stdin: TextIO, stdout: TextIO) -> str:
    stdout.write("\n? ")
    stdout.flush()
    line = stdin.readline()
    if not line:
        raise EOFError
    return line


def _find_source(command: str, answer):
    """The citation ``/sources N`` names, or why there is none (a message)."""
    if answer is None:
        return "no answer yet"
    parts = command.split()
    if len(parts) != 2 or not parts[1].isdigit():
        return "usage: /sources N"
    n = int(parts[1])
    for c in answer.citations:
        if c.n == n:
            return c
    return f"no source [{n}]; the last answer has {len(answer.citations)}"


def _sources_command(command: str, answer) -> str:
    found = _find_source(command, answer)
    return found if isinstance(found, str) else _render_source(found, color=False, full=True)


# -- rendering -------------------------------------------------------------------------------


def render_answer(answer, color: bool = False, full_sources: bool = False) -> str:
    """Human-readable answer: the question as understood, the text, its notes (``Note: …``: a
    cut question, a name no document mentions), then the numbered sources.

    Cited sources are shown in full with the quoted sentences marked; the others as excerpts
    unless ``full_sources``.
    """
    lines = []
    if answer.understood_as:
        lines += [f"Understood as: {_printable(answer.understood_as)}", ""]
    lines.append(_printable(answer.answer))
    lines += [f"Note: {_printable(w)}" for w in answer.warnings]
    if answer.citations:
        lines += ["", "Sources:" if answer.answered else "Closest passages:"]
        for c in answer.citations:
            lines.append(_render_source(c, color, full_sources or c.cited))
    return "\n".join(lines)


# Control characters other than tab and newline: a document's escape sequences ("\x1b]0;…\x07"
# sets a terminal's title, "\x1b[2J" clears it) must not act on the terminal of whoever asks.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """``text`` without escape sequences and control characters (tab and newline kept)."""
    from qa.engine import without_escapes

    return _CONTROL.sub("", without_escapes(text))


def _render_source(c, color: bool, full: bool) -> str:
    span = f"line {c.start_line}" if c.start_line == c.end_line else f"lines {c.start_line}-{c.end_line}"
    head = _printable(f"[{c.n}] {c.source}, {span}" + (f" — {c.section}" if c.section else ""))
    on, off = ("\033[1m", "\033[0m") if color else ("»", "«")
    # Cleaned piece by piece, so the highlight offsets (into the text as stored) stay right.
    pieces, at = [], 0
    for start, end in sorted(c.highlights):
        pieces += [_printable(c.text[at:start]), on, _printable(c.text[start:end]), off]
        at = end
    text = "".join(pieces) + _printable(c.text[at:])
    if not full and len(text) > 300:
        text = text[:300].rsplit(" ", 1)[0] + " …"
    body = "\n".join("    " + line for line in text.splitlines())
    return f"{head}\n{body}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _print_json(data: object, stream: TextIO | None = None) -> None:
    print(json.dumps(data, ensure_ascii=False), file=stream or sys.stdout)


def _cmd_eval(args: argparse.Namespace) -> int:
    from qa.settings import Settings

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    path = args.squad or args.conversations
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    settings = Settings.from_env(model=args.model)
    progress = _progress(args)
    # No bars where stderr is no terminal (a CI log): a line per stage says what the minutes are.
    notify = None if progress or args.quiet else (lambda line: _notice(args, line))
    if args.conversations is not None:
        return _eval_conversations(args, settings, progress)

    from qa import evaluation

    if args.calibrate:
        calibration = evaluation.calibrate(path, settings, args.limit, not args.no_title, progress, notify)
        thresholds = sorted({round(0.05 * i, 2) for i in range(16)} | {round(settings.answer_threshold, 4)})
        rows = calibration.table(thresholds)
        at3 = calibration.threshold_for(0.03)
        if args.json:
            _print_json({"answerable": len(calibration.answerable), "unanswerable": len(calibration.unanswerable),
                         "threshold_for_3pct_declined": round(at3, 4), "current_threshold": settings.answer_threshold,
                         "rows": rows})
            return 0
        print(f"{len(calibration.answerable)} answerable and {len(calibration.unanswerable)} unanswerable questions")
        print("| threshold | answerable declined | unanswerable answered "
              "| with the unknown-word and coverage rules: declined | answered |")
        print("|---:|---:|---:|---:|---:|")
        for r in rows:
            mark = " (current)" if r["threshold"] == round(settings.answer_threshold, 4) else ""
            print(f"| {r['threshold']:.2f}{mark} | {r['answerable_declined']:.1%} | {r['unanswerable_answered']:.1%} "
                  f"| {r.get('answerable_declined_with_rule', 0.0):.1%} | {r.get('unanswerable_answered_with_rule', 0.0):.1%} |")
        print(f"highest threshold declining at most 3% of answerable questions: {at3:.3f}")
        return 0

    report = evaluation.evaluate(path, settings, args.limit, not args.no_title, args.articles, args.workdir, progress,
                                 notify=notify)
    if args.json:
        _print_json(report.to_json())
        return 0
    print(render_eval(report))
    return 0


def _eval_conversations(args: argparse.Namespace, settings, progress: bool) -> int:
    """``--conversations``: :func:`qa.conversation_eval.evaluate`, as a table or one JSON object."""
    from qa import conversation_eval

    report = conversation_eval.evaluate(args.conversations, settings, limit=args.limit, progress=progress)
    if args.json:
        _print_json(report)
    else:
        print(conversation_eval.format_table(report))
    return 0


def render_eval(report) -> str:
    """The ``qa eval --squad`` report as a Markdown table."""
    j = report.to_json()
    rows = [("questions", f"{report.questions:,}"),
            ("paragraphs (articles)", f"{report.paragraphs:,} ({report.articles})"),
            ("title heading", "yes" if report.title_heading else "no")]
    rows += [(f"recall@{k}", f"{j[f'recall@{k}']:.4f}") for k in report.recall]
    rows += [("MRR", f"{j['mrr']:.4f}"), ("answer contains gold", f"{j['answer_contains']:.4f}"),
             ("declined", f"{j['declined']:.4f}"),
             ("latency p50 / p95 (ms)", f"{j['latency_p50_ms']:.1f} / {j['latency_p95_ms']:.1f}"),
             ("index build (s)", f"{j['build_s']:.1f}")]
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'metric':<{width}} | value |", f"|{'-' * (width + 2)}|------:|"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


_COMMANDS = {"ask": _cmd_ask, "build": _cmd_build, "chat": _cmd_chat, "stats": _cmd_stats, "eval": _cmd_eval}
