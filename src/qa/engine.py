"""The facade the front ends call: build, ask, stats. Everything else is a stage behind it.

An :class:`Engine` is safe to share between threads: questions may run concurrently (the Discord
bot answers several at once in worker threads); builds are serialised by a lock, and a new index
is swapped in by replacing one reference.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa import documents, indexing, store
from qa.aliases import bare_name, read_aliases
from qa.answer import (
    SMALL_TALK_REPLY,
    Answer,
    AnswerParams,
    absent_names,
    asks_of_last,
    asks_yes_or_no_of_last,
    compose,
    declined,
    evidence,
    first_time,
    is_overview,
    is_small_talk,
    list_sources,
    overview,
    quote_text,
    story_next,
    strip_chatter,
)
from qa.compound import join_answers, split_compound, unanswered
from qa.conversation import (
    FUSION_DEPTH,
    Conversation,
    Turn,
    as_asked,
    fuse,
    gives_no_new_reason,
    is_repeat,
    lead_with_new,
    plan,
    rarity_of,
    repeats_itself,
    says_nothing_new,
    sentence_adjustment,
    weigh,
)
from qa.errors import CorruptIndexError, UsageError
from qa.indexing import BuildReport
from qa.late_interaction import TokenVectors
from qa.retrieval import Query, RetrievalParams, retrieve
from qa.settings import Settings
from qa.spelling import correct

logger = logging.getLogger(__name__)

#: Passages whose names an absent name of the question may be an alias of.
ALIAS_DEPTH = 5
#: Passages an answer is chosen from, however many sources are listed (``-k``): the default
#: listing, so listing one source or ten answers as the default does.
ANSWER_POOL = 5
#: Encoded names kept for the alias check (384 floats each: 6 MB).
NAME_CACHE = 4096


@dataclass
class Stats:
    """What ``qa stats`` and the bot's ``/stats`` show."""

    documents: int
    chunks: int
    sentences: int
    model: str
    built_at: float | None
    stale: bool
    index_dir: str
    docs_dir: str
    index_type: str = "flat"
    foreign: list[str] = field(default_factory=list)

    @property
    def age_s(self) -> float | None:
        return None if self.built_at is None else max(0.0, time.time() - self.built_at)


# ANSI/ECMA-48 sequences: CSI ("\x1b[31m"), OSC ("\x1b]0;title\x07"), and two-character ones.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def without_escapes(text: str, by: str = "") -> str:
    """``text`` with its terminal escape sequences ("\x1b[2J", "\x1b]0;title\x07") replaced whole by ``by``."""
    return _ESCAPE_SEQUENCE.sub(by, text)


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Validate and normalise a question.

    Control characters become spaces; an over-long question is cut to ``max_chars`` with a warning.

    Returns:
        The cleaned question and any warnings.

    Raises:
        UsageError: When nothing is left to ask.
    """
    if not isinstance(question, str):
        raise UsageError("the question must be text")
    # A terminal escape sequence pasted with the question ("\x1b[31m") goes whole, not only its ESC.
    cleaned = without_escapes(question, " ")
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise UsageError("the question is empty")
    if not any(ch.isalnum() for ch in cleaned):  # "?", "...": nothing to look up
        raise UsageError("the question has no words")
    warnings = []
    if len(cleaned) > max_chars:
        warnings.append(f"the question was {len(cleaned):,} characters long; only the first {max_chars:,} were used")
        cleaned = cleaned[:max_chars].rsplit(" ", 1)[0] or cleaned[:max_chars]
    return cleaned, warnings


class Engine:
    """Build the index and answer questions from it.

    Args:
        settings: Paths, model and parameters; defaults come from the environment.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.folder = store.IndexFolder(self.settings.index_dir, self.settings.hnsw_ef_search)
        self._index: store.LoadedIndex | None = None
        self._signature: tuple[int, int] | None = None
        self._embedder = None
        self._query_encoder = None
        self._warned_no_tokens = False  # logged once: an encoder without token vectors
        self._build_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        # Names of passages, encoded for the alias check: the same passages come up again and
        # their names are ~2 ms each to encode (a cache: bounded, and keyed by text alone, since
        # the model never changes under an engine).
        self._name_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._names_lock = threading.Lock()
        # Acronyms the passages of an index spell out ("US"): no alias to look for (a cache).
        self._spelled_out: tuple[store.LoadedIndex | None, set[str]] = (None, set())

    # -- models -------------------------------------------------------------------------------

    @property
    def embedder(self):
        """The sentence-transformers model, loaded on first use (builds, or queries as a fallback)."""
        if self._embedder is None:
            from qa.embedding import Embedder

            self._embedder = Embedder(self.settings.model, self.settings.batch_size)
        return self._embedder

    def encoder_folder(self) -> Path:
        """Where the ONNX export of the model lives."""
        from qa.embedding import encoder_key, resolve_model

        root = self.settings.encoder_dir or self.settings.index_dir / "encoders"
        return root / encoder_key(resolve_model(self.settings.model))

    def _get_query_encoder(self):
        """The ONNX encoder when exported (no torch import: fast cold start), else the model."""
        if self._query_encoder is None:
            folder = self.encoder_folder() if self.settings.query_encoder == "onnx" else None
            if folder is not None and (folder / "model.onnx").is_file():
                from qa.onnx_encoder import OnnxQueryEncoder

                try:
                    encoder = OnnxQueryEncoder(
                        folder / "model.onnx", folder / "tokenizer.json", spinning=self.settings.onnx_spinning
                    )
                    encoder.encode(["a question"])  # a damaged graph may load and fail on use
                    self._query_encoder = encoder
                except Exception as exc:  # onnxruntime raises its own types for a damaged file
                    import shutil

                    # The export is a cache: the next build exports it again; this process uses the model.
                    logger.warning("the query encoder in %s is damaged (%s): removed, the next build exports it "
                                   "again (until then questions are encoded by the slower model)",
                                   folder, str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__)
                    shutil.rmtree(folder, ignore_errors=True)
                    self._query_encoder = self.embedder
            else:
                self._query_encoder = self.embedder
        return self._query_encoder

    def encode_queries(self, texts: list[str]):
        """Unit vectors of query texts."""
        encoder = self._get_query_encoder()
        with self._encode_lock:
            return encoder.encode(texts)

    def encode_names(self, names: list[str]) -> np.ndarray:
        """Unit vectors of short texts, cached (up to :data:`NAME_CACHE` of them)."""
        if not names:
            return self.encode_queries([])
        with self._names_lock:  # bots ask from several threads
            known = {n: self._name_vectors[n] for n in names if n in self._name_vectors}
        missing = list(dict.fromkeys(n for n in names if n not in known))
        # Rows copied: a view would keep its whole batch alive after the cache let it go.
        fresh = {n: v.copy() for n, v in zip(missing, self.encode_queries(missing), strict=True)} if missing else {}
        with self._names_lock:
            self._name_vectors.update(fresh)
            for name in known:
                if name in self._name_vectors:
                    self._name_vectors.move_to_end(name)
            while len(self._name_vectors) > NAME_CACHE:
                self._name_vectors.popitem(last=False)
        vectors = known | fresh
        return np.stack([vectors[n] for n in names])

    def encode_for(self, index: store.LoadedIndex, texts: list[str]) -> list[tuple[np.ndarray, TokenVectors | None]]:
        """Per query text, its unit vector and, when ``index`` keeps token vectors and the
        late-interaction rerank is on, its word pieces (one forward pass gives both)."""
        if not (index.has_tokens and self.settings.token_weight > 0):
            return [(v, None) for v in self.encode_queries(texts)]
        encoder = self._get_query_encoder()
        with self._encode_lock:
            vectors, pieces = encoder.encode_with_tokens(texts)
        if pieces and pieces[0] is None and not self._warned_no_tokens:
            self._warned_no_tokens = True
            logger.warning("the query encoder gives no token vectors (an old ONNX export?): "
                           "the late-interaction rerank is off until `qa build` exports it again")
        return [(v, None if p is None else TokenVectors(*p)) for v, p in zip(vectors, pieces, strict=True)]

    # -- index --------------------------------------------------------------------------------

    def reword(self, index: store.LoadedIndex, question: str,
               encoded: dict[str, tuple[np.ndarray, TokenVectors | None]] | None = None) -> str:
        """The question as the documents would write it: misspelt words corrected (the dense
        side does not forgive a typo; :func:`qa.spelling.correct`) and names they never use read
        as theirs ("USSR" as "Soviet Union"; :func:`qa.aliases.read_aliases`).

        A question naming nothing the documents lack costs a vocabulary lookup; one that does,
        a retrieval and the encoding of the names of its passages (up to 32 short texts, cached).
        ``encoded``, when given, receives the question's encoding (:meth:`encode_for`), so the
        caller need not encode it again.
        """
        question = correct(index, question)
        if self.settings.alias_similarity > 1.0:
            return question
        if self._spelled_out[0] is not index:
            self._spelled_out = (index, set())
        # Without hits every unknown name counts, "US" too (a passage spells it out): a cheap first
        # look, which skips the names passages of this index were found to spell out.
        unknown = set(absent_names(index, [], question))
        if not unknown - self._spelled_out[1]:
            return question
        vector, tokens = self.encode_for(index, [question])[0]
        if encoded is not None:
            encoded[question] = (vector, tokens)
        hits = retrieve(index, [Query(question, vector, 1.0, tokens)], ALIAS_DEPTH,
                        RetrievalParams.from_settings(self.settings))
        absent = absent_names(index, hits, question)  # "UN" is spelled out in a passage: no alias
        self._spelled_out[1].update(unknown - set(absent))
        if not absent:
            return question
        texts = [index.sentence_text(int(r)) for hit in hits for r in hit.sentence_rows]
        rewritten, aliases = read_aliases(question, absent, texts, self.encode_names, self.settings.alias_similarity)
        if aliases:
            logger.info("read %s", ", ".join(f"{a!r} as {b!r}" for a, b in aliases.items()))
        return rewritten

    def build(self, full: bool = False, progress: bool = False) -> BuildReport:
        """Bring the index up to date with the documents folder (incrementally unless ``full``).

        Raises:
            NoDocumentsError: When there is nothing to index.
        """
        with self._build_lock, self.folder.lock():
            docs, skipped = documents.scan(self.settings.docs_dir)
            report = indexing.build(self.settings, docs, skipped, self.embedder, self.folder, full, progress)
            if self.settings.query_encoder == "onnx":
                from qa.embedding import export_query_encoder

                folder = self.encoder_folder()
                if not (folder / "model.onnx").is_file():
                    folder.parent.mkdir(parents=True, exist_ok=True)
                    export_query_encoder(self.embedder.model_dir, folder)
                    self._query_encoder = None
        self._signature = None  # reload on next use, from whatever is current now
        return report

    def index(self) -> store.LoadedIndex:
        """The current index, reloaded when a build (here or in another process) swapped it.

        Raises:
            QAError: When there is no index; CorruptIndexError when it cannot be read.
        """
        signature = self.folder.signature()
        # Read the shared reference once: a build in another thread may replace it meanwhile.
        index = self._index
        if index is None or signature is None or signature != self._signature:
            with self._load_lock:
                index = self._index
                if index is None or signature is None or signature != self._signature:
                    index = store.require(self.folder.load(), self.settings.index_dir)
                    index.check()
                    self._index, self._signature = index, signature
        return index

    def status(self) -> str:
        """``"ok"``, ``"missing"``, ``"stale"`` or ``"corrupt: <reason>"``.

        Always reads the index from disk. The index it has just loaded and checked is kept for
        :meth:`index` (``qa ask`` would otherwise load it twice) unless the engine already holds
        that generation.
        """
        # The signature is taken *before* loading: if a build swaps the generation in between,
        # the kept pair looks out of date and index() loads again, never the reverse.
        signature = self.folder.signature()
        try:
            loaded = self.folder.load()
            if loaded is None:
                return "missing"
            loaded.check()
        except CorruptIndexError as exc:
            return f"corrupt: {exc}"
        if signature is not None:
            with self._load_lock:
                if self._index is None or self._signature != signature:
                    self._index, self._signature = loaded, signature
        if indexing.is_stale(self.settings, loaded):
            return "stale"
        return "ok"

    def ensure_index(self, progress: bool = False) -> tuple[str, BuildReport | None]:
        """Build the index when it is missing, stale or corrupt.

        Returns:
            The status found before building, and the build report when a build ran.
        """
        status = self.status()
        if status == "ok":
            return status, None
        return status, self.build(progress=progress)

    def stats(self) -> Stats:
        """Counts and freshness of the index."""
        index = self.index()
        m = index.manifest
        return Stats(
            documents=int(m["documents"]),
            chunks=int(m["chunks"]),
            sentences=int(m["sentences"]),
            model=str(m["model"]),
            built_at=float(m["built_at"]),
            stale=indexing.is_stale(self.settings, index),
            index_dir=str(self.settings.index_dir),
            docs_dir=str(self.settings.docs_dir),
            index_type=str(m.get("index_type", "flat")),
            foreign=self.folder.foreign_entries(),
        )

    # -- questions ----------------------------------------------------------------------------

    def ask(self, question: str, conversation: Conversation | None = None, top_k: int | None = None) -> Answer:
        """Answer a question from the documents, with citations.

        Args:
            question: The question (control characters are dropped; over-long ones are cut).
            conversation: Earlier turns, used to resolve a follow-up; the new turn is added to it.
            top_k: Sources to list (defaults to the settings).

        Returns:
            The answer. ``answered`` is False when the documents do not contain it (the citations
            are the closest passages), and for a greeting or a thanks (no citations, a hint what to
            ask); "What is this document about?" quotes the documents' openings
            (:func:`qa.answer.overview`); ``understood_as`` is set when earlier turns shaped the
            question. Two questions in one are answered part by part when the whole answer
            misses one (:meth:`_ask_compound`); a part the documents do not answer gets a note.

        Raises:
            UsageError: For an empty question.
        """
        s = self.settings
        asked, warnings = clean_question(question, s.max_question_chars)
        top_k = top_k or s.top_k
        question = strip_chatter(asked)  # "hey bot, who's the ambassador?": no "hey", no "bot"
        parts = split_compound(question)
        before = conversation.last if conversation is not None else None  # (a full history keeps its length)
        if len(parts) > 1 and not is_small_talk(question) and not is_overview(question):
            answer = self._ask_compound(question, parts, conversation, top_k, warnings)
        else:
            answer = self._answer(question, conversation, top_k, warnings)
        answer.question = asked
        if conversation is not None and question != asked and conversation.last not in (None, before):
            conversation.replace_last(replace(conversation.last, question=asked))  # as typed, chat and all
        return answer

    def _ask_compound(self, question: str, parts: list[str], conversation: Conversation | None, top_k: int,
                      warnings: list[str]) -> Answer:
        """:meth:`ask` for two or three questions in one (:func:`qa.compound.split_compound`).

        Asked whole, a question about one topic ("How does it work and why should I use it?")
        finds its passages best, so the whole answer stands unless it was declined, or a part
        answered on its own quotes none of its sentences (the whole answered the other part
        only). Each part is asked as a follow-up of the one before ("…, and who was its last
        leader?"), in a scratch copy of the history; the history gets one turn.
        """
        def scratch() -> Conversation:
            return conversation.copy() if conversation is not None else Conversation()

        whole_history = scratch()
        whole = self._answer(question, whole_history, top_k, warnings)
        parts_history = scratch()
        answers = [self._answer(part, parts_history, top_k, []) for part in parts]
        said = {sentence.text for sentence in whole.sentences}
        missed = any(a.answered and not said & {q.text for q in a.sentences} for a in answers)
        if not any(a.answered for a in answers) or (whole.answered and not missed):
            if conversation is not None and whole_history.last is not None:
                conversation.add(whole_history.last)
            if whole.answered and any(a.answered for a in answers):  # what the answer does not cover, it says
                whole.warnings += [unanswered(part) for part, a in zip(parts, answers, strict=True) if not a.answered]
            return whole
        answer = join_answers(question, parts, answers, top_k)
        answer.warnings = warnings + answer.warnings
        if conversation is not None:
            conversation.add(Turn.of(answer))
        return answer

    def _answer(self, question: str, conversation: Conversation | None, top_k: int, warnings: list[str]) -> Answer:
        """:meth:`ask` for one question, cleaned (``warnings``: the notes of cleaning it)."""
        s = self.settings
        if is_small_talk(question):  # "Thanks!": nothing to look up, and nothing to remember
            return Answer(question, SMALL_TALK_REPLY, False, [], warnings=warnings)
        index = self.index()
        if is_overview(question):  # "What is this document about?": no passage says it
            answer = overview(index, question, s.docs_dir.name, top_k)
            answer.warnings = warnings + answer.warnings
            if conversation is not None:
                conversation.add(Turn.of(answer))
            return answer
        known: dict[str, tuple[np.ndarray, TokenVectors | None]] = {}  # encoded by reword already
        asked, question = question, self.reword(index, question, known)
        query_plan = plan(question, conversation, rarity=rarity_of(index.keyword))
        texts = [text for text, _ in query_plan.queries]
        if missing := list(dict.fromkeys(t for t in texts if t not in known)):
            known |= dict(zip(missing, self.encode_for(index, missing), strict=True))
        encoded = [known[t] for t in texts]
        queries = [Query(t, v, w, tok) for (t, w), (v, tok) in zip(query_plan.queries, encoded, strict=True)]
        params = RetrievalParams.from_settings(s)
        listed = max(top_k, ANSWER_POOL)
        alone = None  # the question's own ranking, when it was fused with the history's
        if len(queries) > 1:
            # A follow-up: how well the question does on its own decides how much the earlier
            # turns weigh; then its own ranking and the history-aware one are fused by rank.
            depth = max(listed, FUSION_DEPTH)
            alone = retrieve(index, [Query(texts[0], encoded[0][0], 1.0, encoded[0][1])], depth, params)
            query_plan = weigh(query_plan, evidence(alone), s.answer_threshold)
            queries = [Query(t, v, w, tok) for (t, w), (v, tok) in zip(query_plan.queries, encoded, strict=False)]
            if len(queries) > 1:
                hits = fuse(alone, retrieve(index, queries, depth, params), query_plan.queries[0][1], listed)
            else:  # a topic switch: the question alone
                hits, alone = alone[:listed], None
        else:
            hits = retrieve(index, queries, listed, params)
        hits, more = hits[:ANSWER_POOL], hits[ANSWER_POOL:]  # answered from the first; all listed
        resolved = query_plan.resolved or question
        answer_params = AnswerParams.from_settings(s)
        # What the follow-up keeps of the last turn: its frame ("And space?") and its time ("And after?").
        follow = {"frame": query_plan.frame, "times": query_plan.times, "times_sources": query_plan.times_sources,
                  "times_after": query_plan.times_after,
                  # "When did they start?" after an answer: about what it said.
                  "about_last": query_plan.follow_up and bool(query_plan.quoted_before),
                  # "Did that last?": the sentence after the last answer's, in its passage.
                  "story": story_next(index, hits, query_plan.continues) if query_plan.continues else set()}
        adjust: dict[int, float] | None = None
        # "When?" is about what the last answer said: its sentence is no repeat to avoid.
        # "Who did they target?" is about the last answer's sentence too ("…, including …"), and
        # so is a yes or no about it ("Did he want to get along at first?": "…he initially sought…").
        of_last = query_plan.follow_up and (asks_of_last(index, question) or asks_yes_or_no_of_last(question))
        if query_plan.follow_up and not of_last:
            # Sentence text by row for the passages an answer may quote from.
            sentences = {int(r): quote_text(index.sentence_text(int(r))) for h in hits for r in h.sentence_rows}
            adjust = {r: sentence_adjustment(query_plan, t) for r, t in sentences.items()}
        answer = compose(index, question, resolved, hits, s.docs_dir.name, answer_params, adjust=adjust, **follow)
        if adjust and len(answer.sentences) > 1:
            # A follow-up leads with what is new: a sentence a recent answer led with, quoted beside
            # a better new one, would come first (answers quote in reading order), so it goes.
            old = {r for r, t in sentences.items() if is_repeat(query_plan, t)}
            old_texts = {sentences[r] for r in old}
            top = max(answer.sentences, key=lambda q: q.score)
            if top.text not in old_texts and any(q.text in old_texts for q in answer.sentences):
                answer = compose(index, question, resolved, hits, s.docs_dir.name, answer_params,
                                 adjust=adjust | {r: -1e3 for r in old}, **follow)
            elif (reordered := lead_with_new(query_plan, hits, answer, sentences)) is not None:
                # It would lead with what the last answer led with, beside something new: the new leads.
                hits = reordered
                answer = compose(index, question, resolved, hits, s.docs_dir.name, answer_params, adjust=adjust,
                                 lead_first=True, **follow)
        if adjust and repeats_itself(query_plan, answer):
            # "What else…?" answered with what was already said: the best of what was not.
            fresh = compose(index, question, resolved, hits, s.docs_dir.name, answer_params,
                            adjust=adjust | {r: -1e3 for r, t in sentences.items() if t in query_plan.quoted_before},
                            **follow)
            if fresh.answered and not repeats_itself(query_plan, fresh):
                answer = fresh
        follow_plan = query_plan  # (the question as asked below has no history)
        # The history added nothing (the old answer again, or a decline): the question as asked —
        # unless it asked for the time after the last answer, which the question alone cannot say.
        # A "When?" quotes the last answer's sentence again, with its time: that is the answer.
        if alone is not None and not query_plan.times and not of_last \
                and says_nothing_new(query_plan, answer):
            plain = compose(index, question, resolved, alone[:ANSWER_POOL], s.docs_dir.name, answer_params)
            if answer.answered or plain.answered:
                answer, query_plan = plain, as_asked(query_plan, question)
                more = alone[ANSWER_POOL:listed]
        if gives_no_new_reason(follow_plan, answer):
            answer = declined(answer)  # "Why did he do it?": the documents say what, not why
        answer = list_sources(index, answer, more, top_k, s.docs_dir.name)
        # "Understood as" shows a corrected spelling too, as a search engine's "Showing results for".
        answer.understood_as = query_plan.understood_as or (question if question != asked else None)
        answer.question = asked
        if absent := absent_names(index, hits, question):
            # "Barack Obama's" is named as "Barack Obama"
            names = dict.fromkeys(bare_name(name) for name in absent)
            warnings = warnings + ["the documents never mention " + " or ".join(f"“{name}”" for name in names)]
        answer.warnings = warnings
        if conversation is not None:
            times = query_plan.times if answer.answered else ()
            if times and query_plan.times_after and first_time([q.text for q in answer.sentences]) is None:
                # The story's next step, which states no time: it is held to the year it follows
                # (so a next "And after that?" goes on from that year, not from the window's end).
                times = ((times[0][0] - 1, times[0][0] - 1),)
            conversation.add(Turn.of(answer, resolved, person=query_plan.person, frame=query_plan.frame,
                                     times=times))
        return answer

