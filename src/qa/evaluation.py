"""``qa eval --squad``: retrieval and answer quality on a file in the SQuAD JSON layout.

Every paragraph of the file becomes one document (``<article-slug>/p0001.md``) in a temporary
folder, the real engine indexes them, and every question is asked the way ``qa ask`` asks it:
encode the question, retrieve, compose the answer. A hit counts when its document is the
question's paragraph.

Reported: paragraph recall@1/3/5/10 and MRR (over the sources list, duplicates of a paragraph
included, as a user sees it), the share of answers whose text contains a gold answer string,
the share of declined questions, and warm per-question latency.

``calibrate`` measures the abstention threshold: questions of one half of the articles against
an index of the other half cannot be answered; questions of the indexed half can.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.answer import AnswerParams, compose, strip_chatter, unknown_bar
from qa.errors import UsageError
from qa.late_interaction import TokenVectors
from qa.retrieval import Query, RetrievalParams, retrieve
from qa.settings import Settings

logger = logging.getLogger(__name__)

#: Ranks at which recall is reported.
RECALL_AT = (1, 3, 5, 10)
_MARKER = re.compile(r"\s*\[\d+\]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Paragraph:
    """A SQuAD paragraph as a document: its path in the docs folder, article title and text."""

    path: str
    article: int
    title: str
    context: str


@dataclass(frozen=True)
class Question:
    """A SQuAD question with the path of its paragraph and the gold answer strings."""

    id: str
    text: str
    path: str
    article: int
    answers: tuple[str, ...]


@dataclass
class Squad:
    """The paragraphs and questions of a SQuAD file (or of a subset of its articles)."""

    paragraphs: list[Paragraph]
    questions: list[Question]
    articles: list[str]

    def subset(self, articles: set[int]) -> Squad:
        """Only the paragraphs and questions of the given article numbers."""
        return Squad(
            [p for p in self.paragraphs if p.article in articles],
            [q for q in self.questions if q.article in articles],
            self.articles,
        )


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w.-]+", "-", title.strip(), flags=re.UNICODE).strip("-.")
    return slug or "article"


def load_squad(path: Path) -> Squad:
    """Read a file in the official SQuAD layout (``data[].paragraphs[].context/qas[]``).

    Questions without an answer (SQuAD 2.0's impossible ones) are skipped: every question here
    has a paragraph that answers it.

    Raises:
        UsageError: When the file is missing or not in the SQuAD layout.
    """
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
        articles = raw["data"]
    except FileNotFoundError:
        raise UsageError(f"SQuAD file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a SQuAD JSON file ({exc.__class__.__name__}: {exc})") from None
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    titles: list[str] = []
    slugs: set[str] = set()
    try:
        for a, article in enumerate(articles):
            title = str(article.get("title") or f"article {a + 1}")
            slug = _slug(title)
            while slug in slugs:  # two articles of the same title must not share a folder
                slug += "_"
            slugs.add(slug)
            titles.append(title.replace("_", " "))
            for p, para in enumerate(article["paragraphs"], start=1):
                doc = f"{slug}/p{p:04d}.md"
                paragraphs.append(Paragraph(doc, a, titles[-1], str(para["context"])))
                for qa in para.get("qas", []):
                    answers = tuple(str(x["text"]) for x in qa.get("answers", []) if str(x.get("text", "")).strip())
                    if answers and not qa.get("is_impossible", False):
                        questions.append(Question(str(qa.get("id", len(questions))), str(qa["question"]), doc, a, answers))
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not in the SQuAD layout ({exc.__class__.__name__}: {exc})") from None
    if not paragraphs or not questions:
        raise UsageError(f"{path} holds no paragraphs with questions")
    return Squad(paragraphs, questions, titles)


def write_docs(squad: Squad, docs_dir: Path, title_heading: bool = True) -> None:
    """Write one Markdown file per paragraph; with ``title_heading`` the article title is its heading.

    The heading becomes the chunk's section, which is embedded and keyword-indexed with it, as
    for any real document with headings.
    """
    docs_dir.mkdir(parents=True, exist_ok=True)
    for p in squad.paragraphs:
        file = docs_dir / p.path
        file.parent.mkdir(parents=True, exist_ok=True)
        heading = f"# {p.title}\n\n" if title_heading else ""
        file.write_text(f"{heading}{p.context.strip()}\n", "utf-8")


def contains_answer(answer_text: str, gold: Sequence[str]) -> bool:
    """Whether the answer (citation markers removed) contains a gold string, ignoring case and spacing."""
    text = _SPACES.sub(" ", _MARKER.sub("", answer_text)).lower()
    return any(_SPACES.sub(" ", g).strip().lower() in text for g in gold)


@dataclass
class QuestionResult:
    """What happened to one question."""

    id: str
    rank: int | None  # 1-based position of the first source from the gold paragraph
    answered: bool
    contains: bool
    evidence: float
    seconds: float


@dataclass
class Report:
    """Aggregated metrics of one run (``to_json`` is the ``--json`` object)."""

    questions: int
    paragraphs: int
    articles: int
    recall: dict[int, float]
    mrr: float
    answer_contains: float
    declined: float
    latency_p50_ms: float
    latency_p95_ms: float
    build_s: float = 0.0
    title_heading: bool = True
    settings: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
            "mrr": round(self.mrr, 4),
            "answer_contains": round(self.answer_contains, 4),
            "declined": round(self.declined, 4),
            "latency_p50_ms": round(self.latency_p50_ms, 2),
            "latency_p95_ms": round(self.latency_p95_ms, 2),
            "questions": self.questions,
            "paragraphs": self.paragraphs,
            "articles": self.articles,
            "build_s": round(self.build_s, 1),
            "title_heading": self.title_heading,
            "settings": self.settings,
        }


def summarize(results: Sequence[QuestionResult], paragraphs: int = 0, articles: int = 0) -> Report:
    """Recall@k, MRR, answer share, declines and latency percentiles of per-question results."""
    n = max(1, len(results))
    ranks = np.array([r.rank or 0 for r in results])
    found = ranks > 0
    seconds = np.array([r.seconds for r in results]) * 1000 if results else np.zeros(1)
    return Report(
        questions=len(results),
        paragraphs=paragraphs,
        articles=articles,
        recall={k: float(np.sum(found & (ranks <= k))) / n for k in RECALL_AT},
        mrr=float(np.sum(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0))) / n,
        answer_contains=sum(r.contains for r in results) / n,
        declined=sum(not r.answered for r in results) / n,
        latency_p50_ms=float(np.percentile(seconds, 50)),
        latency_p95_ms=float(np.percentile(seconds, 95)),
    )


def params_summary(settings: Settings) -> dict[str, object]:
    """The retrieval and answer settings a run used (for the report)."""
    return {
        "retrieval": RetrievalParams.from_settings(settings).__dict__,
        "answer": AnswerParams.from_settings(settings).__dict__,
    }


class Asker:
    """Asks questions the way ``Engine.ask`` does for a question without history, and times them.

    Args:
        engine: An engine whose index is built.
        top_k: Sources per answer (recall@k needs ``k <= top_k``).
    """

    def __init__(self, engine, top_k: int = max(RECALL_AT)) -> None:
        self.engine = engine
        self.top_k = top_k
        self.index = engine.index()
        self.retrieval = RetrievalParams.from_settings(engine.settings)
        self.answer = AnswerParams.from_settings(engine.settings)
        self.label = engine.settings.docs_dir.name
        self._doc_of_chunk = np.asarray(self.index.chunks["doc"])
        self._paths = [d.path for d in self.index.documents]

    def ask(self, question: str, encoded: tuple[np.ndarray, TokenVectors | None] | None = None):
        """Hits and answer for one question (``encoded``: its precomputed vector and tokens
        from :meth:`qa.engine.Engine.encode_for`, of the question as asked: one with a
        misspelling or chat around it is encoded again, as reworded)."""
        known: dict[str, tuple[np.ndarray, TokenVectors | None]] = {}  # encoded by reword already
        corrected = self.engine.reword(self.index, strip_chatter(question), known)
        if encoded is None or corrected != question:
            encoded = known.get(corrected) or self.engine.encode_for(self.index, [corrected])[0]
        question = corrected
        vector, tokens = encoded
        hits = retrieve(self.index, [Query(question, vector, 1.0, tokens)], self.top_k, self.retrieval)
        return hits, compose(self.index, question, question, hits, self.label, self.answer)

    def result(self, q: Question, encoded: tuple[np.ndarray, TokenVectors | None] | None = None) -> QuestionResult:
        began = time.perf_counter()
        hits, answer = self.ask(q.text, encoded)
        seconds = time.perf_counter() - began
        rank = next((i for i, h in enumerate(hits, start=1) if self._paths[self._doc_of_chunk[h.row]] == q.path), None)
        contains = answer.answered and contains_answer(answer.answer, q.answers)
        return QuestionResult(q.id, rank, answer.answered, contains, answer.score, seconds)


def sample(questions: list[Question], limit: int | None) -> list[Question]:
    """At most ``limit`` questions spread evenly over the file (every article is represented)."""
    if limit is None or limit >= len(questions):
        return questions
    if limit <= 0:
        raise UsageError("--limit must be at least 1")
    picks = np.linspace(0, len(questions) - 1, limit).round().astype(int)
    return [questions[i] for i in np.unique(picks)]


@contextmanager
def built_engine(
    squad: Squad,
    settings: Settings | None = None,
    title_heading: bool = True,
    workdir: Path | None = None,
    progress: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Iterator[tuple[object, float]]:
    """An engine over the paragraphs of ``squad``, built in ``workdir`` or a temporary folder.

    A kept ``workdir`` makes the next run an incremental (near instant) build. ``notify`` gets a
    line before the build (where no progress bar shows, a cold build is minutes of silence).

    Yields:
        The engine and the build time in seconds.
    """
    from qa.engine import Engine

    tmp = None
    if workdir is None:
        tmp = Path(tempfile.mkdtemp(prefix="qa-eval-"))
        workdir = tmp
    try:
        docs = workdir / "source_docs"
        # Rewrite the folder so a kept workdir holds exactly this run's paragraphs.
        if docs.exists():
            shutil.rmtree(docs)
        write_docs(squad, docs, title_heading)
        base = settings or Settings.from_env()
        engine = Engine(base.replace(docs_dir=docs, index_dir=workdir / "index"))
        if notify is not None:
            articles = len({p.article for p in squad.paragraphs})
            notify(f"indexing {len(squad.paragraphs):,} paragraphs of {articles} article{'s' * (articles != 1)} "
                   f"in {workdir} (a first build embeds them all: about 4 minutes per thousand on 2 cores)")
        began = time.perf_counter()
        engine.build(progress=progress)
        yield engine, time.perf_counter() - began
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _articles(squad: Squad, which: str) -> set[int]:
    every = range(len(squad.articles))
    if which == "all":
        return set(every)
    if which in ("even", "odd"):
        return {a for a in every if a % 2 == (0 if which == "even" else 1)}
    raise UsageError(f"--articles must be all, even or odd, not {which!r}")


def evaluate(
    path: Path,
    settings: Settings | None = None,
    limit: int | None = None,
    title_heading: bool = True,
    articles: str = "all",
    workdir: Path | None = None,
    progress: bool = False,
    on_result: Callable[[QuestionResult], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Report:
    """Build an index of the file's paragraphs and ask its questions.

    Args:
        path: A SQuAD JSON file.
        settings: Model and retrieval settings (paths are replaced by the temporary folder).
        limit: Ask at most this many questions, spread evenly over the file.
        title_heading: Give each paragraph its article title as a Markdown heading.
        articles: Ask the questions of ``all`` articles, or of the ``even``/``odd``-numbered ones only
            (a tuning and a held-out half); the index always holds every paragraph, so the
            other half's paragraphs stay in as distractors and a kept ``workdir`` is reused.
        workdir: Keep the index here (reused by the next run) instead of a temporary folder.
        progress: Show progress bars on stderr.
        on_result: Called after each question (a progress bar, a log).
        notify: Called with a line before each long stage (for a log without progress bars).

    Returns:
        The report; latency is per question, warm, encoding included.
    """
    from tqdm.auto import tqdm

    squad = load_squad(path)
    chosen = _articles(squad, articles)
    questions = sample([q for q in squad.questions if q.article in chosen], limit)
    with built_engine(squad, settings, title_heading, workdir, progress, notify) as (engine, build_s):
        asker = Asker(engine)
        if notify is not None:
            notify(f"asking {len(questions):,} question{'s' * (len(questions) != 1)}")
        for q in questions[:5]:  # warm up: model session, memory maps, caches
            asker.ask(q.text)
        results = []
        for q in tqdm(questions, disable=not progress, unit="q", desc="asking"):
            results.append(asker.result(q))
            if on_result is not None:
                on_result(results[-1])
        report = summarize(results, len(squad.paragraphs), len({p.article for p in squad.paragraphs}))
        report.build_s = build_s
        report.title_heading = title_heading
        report.settings = params_summary(engine.settings)
    return report


@dataclass
class Calibration:
    """Evidence scores of answerable and unanswerable questions, and error rates per threshold.

    ``*_covered`` mark the questions ``compose`` answers below any threshold (one retrieved
    sentence holds every content word of the question); ``*_bar`` hold the higher threshold a
    question with a word or name the documents never use must reach (0 for the others; see
    :func:`qa.answer.unknown_words`); ``*_gated`` mark those declined whatever the evidence (a
    "how many" question whose answer would state no quantity, or no sentence fit to quote).
    ``rates(t, rule=True)`` applies all three, as ``compose`` does.
    """

    answerable: np.ndarray
    unanswerable: np.ndarray
    answerable_covered: np.ndarray | None = None
    unanswerable_covered: np.ndarray | None = None
    answerable_bar: np.ndarray | None = None
    unanswerable_bar: np.ndarray | None = None
    answerable_gated: np.ndarray | None = None
    unanswerable_gated: np.ndarray | None = None

    def rates(self, threshold: float, rule: bool = False) -> tuple[float, float]:
        """(share of answerable questions declined, share of unanswerable questions answered)."""
        a_ok = self.answerable >= threshold
        u_ok = self.unanswerable >= threshold
        if rule and self.answerable_bar is not None and self.unanswerable_bar is not None:
            a_ok = self.answerable >= np.maximum(threshold, self.answerable_bar)
            u_ok = self.unanswerable >= np.maximum(threshold, self.unanswerable_bar)
        if rule and self.answerable_covered is not None and self.unanswerable_covered is not None:
            a_ok, u_ok = a_ok | self.answerable_covered, u_ok | self.unanswerable_covered
        if rule and self.answerable_gated is not None and self.unanswerable_gated is not None:
            a_ok, u_ok = a_ok & ~self.answerable_gated, u_ok & ~self.unanswerable_gated
        return (float(np.mean(~a_ok)) if len(self.answerable) else 0.0,
                float(np.mean(u_ok)) if len(self.unanswerable) else 0.0)

    def threshold_for(self, max_declined: float) -> float:
        """The highest threshold that declines at most ``max_declined`` of the answerable questions."""
        return float(np.quantile(self.answerable, max_declined, method="lower")) if len(self.answerable) else 0.0

    def table(self, thresholds: Sequence[float]) -> list[dict[str, float]]:
        rows = []
        for t in thresholds:
            declined, answered = self.rates(t)
            row = {"threshold": round(float(t), 4), "answerable_declined": round(declined, 4),
                   "unanswerable_answered": round(answered, 4)}
            if self.answerable_covered is not None:
                declined, answered = self.rates(t, rule=True)
                row |= {"answerable_declined_with_rule": round(declined, 4),
                        "unanswerable_answered_with_rule": round(answered, 4)}
            rows.append(row)
        return rows


def calibrate(
    path: Path,
    settings: Settings | None = None,
    limit: int | None = None,
    title_heading: bool = True,
    progress: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Calibration:
    """Evidence of answerable vs unanswerable questions, both ways round over the two article halves.

    The index holds one half of the articles; its questions are answerable, the other half's
    are not (they are about articles that are not there). Then the halves swap. ``notify``: as
    for :func:`evaluate`.
    """

    squad = load_squad(path)
    settings = settings or Settings.from_env()
    answerable: list[tuple[float, bool, float, bool]] = []
    unanswerable: list[tuple[float, bool, float, bool]] = []
    tmp = Path(tempfile.mkdtemp(prefix="qa-calibrate-"))
    if settings.encoder_dir is None:  # one ONNX export for both indexes
        settings = settings.replace(encoder_dir=tmp / "encoders")
    try:
        _calibrate_halves(squad, settings, limit, title_heading, progress, tmp, answerable, unanswerable, notify)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    def column(rows: list[tuple[float, bool, float, bool]], i: int, dtype: type = float) -> np.ndarray:
        return np.array([row[i] for row in rows], dtype=dtype)

    return Calibration(column(answerable, 0), column(unanswerable, 0),
                       column(answerable, 1, bool), column(unanswerable, 1, bool),
                       column(answerable, 2), column(unanswerable, 2),
                       column(answerable, 3, bool), column(unanswerable, 3, bool))


def _calibrate_halves(squad, settings, limit, title_heading, progress, tmp, answerable, unanswerable,
                      notify=None) -> None:
    from dataclasses import replace

    from tqdm.auto import tqdm

    for indexed, other in (("even", "odd"), ("odd", "even")):
        part = squad.subset(_articles(squad, indexed))
        inside = sample(part.questions, None if limit is None else max(1, limit // 4))
        outside = sample(squad.subset(_articles(squad, other)).questions, None if limit is None else max(1, limit // 4))
        with built_engine(part, settings, title_heading, tmp / indexed, progress, notify) as (engine, _):
            asker = Asker(engine)
            if notify is not None:
                notify(f"asking {len(inside):,} questions of the {indexed} articles and {len(outside):,} of the {other}")
            for scores, qs in ((answerable, inside), (unanswerable, outside)):
                encoded = engine.encode_for(asker.index, [q.text for q in qs])
                for q, v in tqdm(list(zip(qs, encoded, strict=True)), disable=not progress, unit="q",
                                 desc=f"index {indexed}"):
                    hits, answer = asker.ask(q.text, v)
                    text = answer.question  # as searched (spelling corrected)
                    # Answered whatever the evidence: the coverage rule of compose.
                    rule = replace(asker.answer, threshold=float("inf"))
                    covered = compose(asker.index, text, text, hits, asker.label, rule).answered
                    # Declined whatever the evidence: the quantity rule ("how many …?").
                    no_bar = replace(asker.answer, threshold=float("-inf"), unknown_word_threshold=0.0,
                                     unknown_name_threshold=0.0)
                    gated = bool(hits) and not compose(asker.index, text, text, hits, asker.label, no_bar).answered
                    scores.append((answer.score, covered, unknown_bar(asker.index, text, hits, asker.answer), gated))
