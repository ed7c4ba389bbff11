"""Find the passages that answer a query: dense + BM25 fusion, sentence-level rerank, dedup.

1. Candidates: the ``candidates`` best chunks by FAISS and by BM25 (bm25s sparse scores).
2. Fusion: a weighted sum of min-max-normalised cosine (a spread below ``dense_min_spread`` is
   not stretched) and max-normalised BM25 (or, for comparison, reciprocal rank fusion).
3. Rerank the ``rerank_depth`` best at sentence level: every sentence of those chunks is scored
   by cosine (precomputed sentence vectors) plus weighted word overlap with the query, and by
   the share of the query's word pairs (adjacent stemmed content words) it repeats. SQuAD-style
   questions reuse a phrase of the sentence that answers them; a pair match is a precise signal
   that single words and a small embedding model both miss. A passage takes its best sentence.
   A query word's weight in the overlap is its IDF in the corpus times its IDF among the
   reranked passages ("local" IDF): a word that most of them contain (the article's subject,
   "Tesla" in every passage about Tesla) cannot tell them apart, whatever its corpus IDF.
4. Late interaction (:mod:`qa.late_interaction`), where the index keeps token vectors: each
   question word piece's best cosine with a word piece of the passage, IDF-weighted, joins the
   score with ``token_weight``.
5. Drop near-duplicates (repeated text) and merge overlapping chunks of one document into one
   hit: the passage is listed once, and another passage takes the freed place.

Questions are tokenised with a fuller stop list than the index (``query_stopwords``): "what",
"did", "which", "his" are no evidence that a passage answers a question; and a question word the
documents never use stands for the indexed word one edit away ("Syria" for "Syrian", see
:meth:`qa.keyword.KeywordIndex.known_tokens`).

All per-query work is vectorised over candidate rows (FAISS, numpy, bm25s sparse scores); the
only Python loop runs over the few hits returned, never over the corpus.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, fields, replace

import numpy as np

from qa.keyword import DEFAULT_QUERY_STOPWORDS
from qa.late_interaction import TokenVectors, maxsim
from qa.store import LoadedIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """One retrieval query: its text (for BM25), its unit vector, its weight in the fusion, and
    its word pieces for the late-interaction rerank (``None``: that rerank skips the query)."""

    text: str
    vector: np.ndarray
    weight: float = 1.0
    tokens: TokenVectors | None = None


@dataclass
class Hit:
    """A retrieved chunk.

    Attributes:
        row: Chunk row in the index.
        score: Final ranking score (fusion plus sentence rerank), comparable within one query.
        dense: Cosine of the chunk to the (weighted) query.
        keyword: BM25 score normalised by the best BM25 score of the query (0..1).
        sentence_rows: Global rows of the chunk's sentences.
        sentence_scores: Cosine of each of those sentences to the query.
        sentence_overlap: Share of the query's word weight (IDF) each of those sentences contains.
    """

    row: int
    score: float
    dense: float
    keyword: float
    sentence_rows: np.ndarray
    sentence_scores: np.ndarray
    sentence_overlap: np.ndarray | None = None
    sentence_pairs: np.ndarray | None = None
    #: Further chunk rows merged into this hit (overlapping chunks of the same document).
    merged: tuple[int, ...] = ()

    @property
    def rows(self) -> tuple[int, ...]:
        """Every chunk row the hit covers (``row`` first)."""
        return (self.row, *self.merged)

    @property
    def best_sentence(self) -> float:
        return float(self.sentence_scores.max()) if len(self.sentence_scores) else 0.0


@dataclass(frozen=True)
class RetrievalParams:
    """Fusion and rerank parameters (defaults chosen on SQuAD part a, see benchmarks/RESULTS-quality.md).

    The first three stay positional: callers build ``RetrievalParams(candidates, dense, sentence)``.
    """

    #: Candidates taken from each retriever before fusion.
    candidates: int = 50
    #: Weight of the dense score in the fused score; the rest goes to BM25.
    dense_weight: float = 0.65
    #: Weight of the sentence-level score in the final score; the rest goes to the fused score.
    sentence_weight: float = 0.4
    #: Fused candidates reranked at sentence level.
    rerank_depth: int = 30
    #: Below this cosine of chunk vectors two hits from the same document count as distinct.
    duplicate_cosine: float = 0.97
    #: "weighted" (normalised score sum) or "rrf" (reciprocal rank fusion).
    fusion: str = "weighted"
    #: The k of reciprocal rank fusion (1 / (k + rank)).
    rrf_k: int = 60
    #: Weight of a sentence's word overlap with the query next to its cosine (sentence score).
    sentence_overlap_weight: float = 0.6
    #: Share of the sentence part of the score that comes from word-pair (phrase) matches.
    phrase_weight: float = 0.2
    #: Share of the second-best sentence added to the best one (measured: no gain on SQuAD).
    second_sentence: float = 0.0
    #: Query word weights in the sentence overlap: "local" (corpus IDF x IDF among the reranked
    #: passages) or "global" (corpus IDF alone).
    overlap_idf: str = "local"
    #: Stop list of questions (:data:`qa.keyword.QUERY_STOPWORDS`): "question", "nltk" or the
    #: index's "bm25s".
    query_stopwords: str = DEFAULT_QUERY_STOPWORDS
    #: A hit whose chunk shares a sentence with a better hit's (one document) is merged into it,
    #: up to this many chunks per hit (1: never; the lesser hit stays, or goes if mostly shared).
    max_merged_chunks: int = 3
    #: Smallest spread of cosines that the fusion's min-max scaling stretches to 0..1 (see
    #: :func:`_minmax`); 0 stretches any spread.
    dense_min_spread: float = 0.4
    #: Weight of the late-interaction score (:func:`qa.late_interaction.maxsim`, min-max scaled
    #: over the reranked passages) next to the rerank score; 0 turns it off.
    token_weight: float = 0.2

    @classmethod
    def from_settings(cls, settings) -> RetrievalParams:
        """The parameters named like fields of :class:`qa.settings.Settings` (others keep defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{n: getattr(settings, n) for n in names if hasattr(settings, n)})


def _keyword_scores(index: LoadedIndex, queries: list[Query], stopwords: str) -> np.ndarray:
    total = np.zeros(len(index.chunks), dtype=np.float32)
    for q in queries:
        scores = index.keyword.scores(q.text, stopwords)
        best = float(scores.max()) if len(scores) else 0.0
        if best > 0:
            total += q.weight * scores / best
    return total


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest scores, best first."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score (best = 1)."""
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


def retrieve(index: LoadedIndex, queries: list[Query], top_k: int, params: RetrievalParams | None = None) -> list[Hit]:
    """The ``top_k`` best distinct chunks for the queries.

    Args:
        index: The loaded index.
        queries: One or more weighted queries (follow-ups add the expanded question).
        top_k: How many hits to return.
        params: Fusion and rerank settings.

    Returns:
        Hits, best first.
    """
    params = params or RetrievalParams()
    n = len(index.chunks)
    if n == 0 or not queries or top_k <= 0:
        return []
    weights = np.array([q.weight for q in queries], dtype=np.float32)
    weights /= weights.sum()
    queries = [replace(q, weight=float(w)) for q, w in zip(queries, weights, strict=True)]
    qmat = np.stack([q.vector for q in queries]).astype(np.float32)
    depth = min(params.candidates, n)

    keyword = _keyword_scores(index, queries, params.query_stopwords)
    if params.dense_weight > 0 or params.fusion == "rrf":
        _, dense_ids = index.faiss_index.search(qmat, depth)
        dense_ids = dense_ids[dense_ids >= 0].ravel()
    else:  # BM25 alone (an ablation): no dense candidates
        dense_ids = np.zeros(0, dtype=np.int64)
    keyword_ids = _top(keyword, depth) if params.dense_weight < 1 or params.fusion == "rrf" else np.zeros(0, np.int64)
    keyword_ids = keyword_ids[keyword[keyword_ids] > 0]
    candidates = np.unique(np.concatenate([dense_ids, keyword_ids]).astype(np.int64))
    if len(candidates) == 0:
        candidates = np.arange(min(n, depth))

    # Exact cosines for every candidate (FAISS may be approximate, BM25-only ones have none).
    dense = (np.asarray(index.chunk_vectors[candidates]) @ qmat.T) @ weights
    kw = keyword[candidates]
    if params.fusion == "rrf":
        # Candidates missing from one list rank after its last member.
        fused = 1.0 / (params.rrf_k + _ranks(dense)) + 1.0 / (params.rrf_k + _ranks(kw))
        fused = fused / fused.max()
    else:
        fused = params.dense_weight * _minmax(dense, spread=params.dense_min_spread) + (1 - params.dense_weight) * kw

    order = _top(fused, min(len(candidates), max(params.rerank_depth, top_k)))
    rows = candidates[order]
    score = fused[order]
    # Sentence level, vectorised: all sentences of the reranked chunks in one matrix product.
    first = np.asarray(index.chunks["first"][rows], dtype=np.int64)
    count = np.asarray(index.chunks["last"][rows], dtype=np.int64) - first + 1
    offsets = np.concatenate([[0], np.cumsum(count)])
    sent_rows = np.repeat(first - offsets[:-1], count) + np.arange(offsets[-1])
    sent_cos = (np.asarray(index.sentence_vectors[sent_rows]) @ qmat.T) @ weights
    owner = np.repeat(np.arange(len(rows)), count)
    overlap, pairs = _sentence_overlap(index, queries, sent_rows, owner if params.overlap_idf == "local" else None,
                                       params.query_stopwords)
    sent_score = sent_cos + params.sentence_overlap_weight * overlap
    best, second = _best_two(sent_score, owner, offsets, len(rows))
    passage_sentence = best + params.second_sentence * second
    passage_pairs = np.maximum.reduceat(pairs, offsets[:-1]) if len(pairs) else np.zeros(len(rows))
    if params.sentence_weight > 0:
        sentence_part = ((1 - params.phrase_weight) * _minmax(passage_sentence)
                         + params.phrase_weight * _minmax(passage_pairs, empty=0.0))
        score = (1 - params.sentence_weight) * score + params.sentence_weight * sentence_part
    if params.token_weight > 0 and index.has_tokens and any(q.tokens is not None for q in queries):
        late = np.zeros(len(rows))
        for q in queries:
            if q.tokens is not None:
                late += q.weight * maxsim(index, rows, q.tokens)
        if late.max() > late.min():  # equal scores (no word pieces, one candidate) tell nothing
            # Divided by 1 + weight: scores stay in 0..1, where the answer's passage weight expects them.
            score = (score + params.token_weight * _minmax(late)) / (1 + params.token_weight)
    final = np.argsort(-score, kind="stable")

    hits = [
        Hit(
            int(rows[i]), float(score[i]), float(dense[order[i]]), float(kw[order[i]]),
            sent_rows[offsets[i] : offsets[i + 1]], sent_cos[offsets[i] : offsets[i + 1]],
            overlap[offsets[i] : offsets[i + 1]], pairs[offsets[i] : offsets[i + 1]],
        )
        for i in final
    ]
    return _dedup(index, hits, top_k, params.duplicate_cosine, params.max_merged_chunks)


def _best_two(values: np.ndarray, owner: np.ndarray, offsets: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Best and second-best value of each group of consecutive values (second is 0 for one-value groups)."""
    best = np.maximum.reduceat(values, offsets[:-1]) if len(values) else np.zeros(groups)
    # Mask the first occurrence of each group's best, then take the best of the rest.
    is_best = values == best[owner]
    first_best = np.zeros(len(values), dtype=bool)
    idx = np.flatnonzero(is_best)
    _, keep = np.unique(owner[idx], return_index=True)
    first_best[idx[keep]] = True
    rest = np.where(first_best, -np.inf, values)
    second = np.maximum.reduceat(rest, offsets[:-1]) if len(values) else np.zeros(groups)
    second = np.where(np.isfinite(second), second, 0.0)
    return best, np.maximum(second, 0.0)


def _pair_codes(ids: np.ndarray, base: int) -> np.ndarray:
    """Distinct codes of adjacent token pairs (``-1`` marks a token outside the vocabulary)."""
    a, b = ids[:-1], ids[1:]
    ok = (a >= 0) & (b >= 0)
    return np.unique(a[ok] * base + b[ok])


class _SentenceTerms:
    """Per sentence: its BM25 vocabulary ids and adjacent word-pair codes, tokenised on first use.

    Only the sentences a query reranks are ever tokenised (a few hundred per new query, then
    cached), so a cold ``qa ask`` on a large corpus pays nothing for the rest of it.
    """

    #: Cached sentences before the cache is emptied (bounds memory on very large corpora).
    MAX_ROWS = 2_000_000

    def __init__(self, index: LoadedIndex) -> None:
        self.vocab = index.keyword.vocab
        self.vocab_size = len(self.vocab)
        self.base = self.vocab_size + 1
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _add(self, index: LoadedIndex, rows: list[int]) -> None:
        from qa.chunking import index_text
        from qa.keyword import tokenize

        if len(self._rows) + len(rows) > self.MAX_ROWS:
            self._rows = {}
        texts = [index_text(index.sentence_text(r)) for r in rows]
        for row, toks in zip(rows, tokenize(texts), strict=True):
            ids = np.fromiter((self.vocab.get(t, -1) for t in toks), dtype=np.int64, count=len(toks))
            self._rows[row] = (np.unique(ids[ids >= 0]), _pair_codes(ids, self.base))

    def lookup(self, index: LoadedIndex, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Term ids and their owner (position in ``rows``), pair codes and their owner."""
        keys = rows.tolist()
        cache = self._rows
        missing = [r for r in dict.fromkeys(keys) if r not in cache]
        if missing:
            self._add(index, missing)
            cache = self._rows
        items = [cache[r] for r in keys]
        terms = [t for t, _ in items]
        pairs = [p for _, p in items]
        positions = np.arange(len(keys))
        return (np.concatenate(terms), np.repeat(positions, [len(t) for t in terms]),
                np.concatenate(pairs), np.repeat(positions, [len(p) for p in pairs]))

    def query_pairs(self, index: LoadedIndex, text: str, stopwords: str) -> np.ndarray:
        toks = index.keyword.known_tokens(text, stopwords)
        return _pair_codes(np.array([self.vocab.get(t, -1) for t in toks], dtype=np.int64), self.base)


_terms_cache: weakref.WeakKeyDictionary[LoadedIndex, _SentenceTerms] = weakref.WeakKeyDictionary()
_terms_lock = threading.Lock()


def _sentence_terms(index: LoadedIndex) -> _SentenceTerms:
    """One cache per loaded index (a rebuilt index gets a new one)."""
    terms = _terms_cache.get(index)
    if terms is None:
        with _terms_lock:
            terms = _terms_cache.get(index)
            if terms is None:
                terms = _terms_cache[index] = _SentenceTerms(index)
    return terms


def _local_idf(ids: np.ndarray, terms: np.ndarray, passage_of_term: np.ndarray, passages: int) -> np.ndarray:
    """IDF of each query word among the reranked passages (BM25's formula, passages as documents).

    Args:
        ids: The query's vocabulary ids.
        terms: Vocabulary ids of the sentences' words (one entry per distinct word of a sentence).
        passage_of_term: The reranked passage each entry of ``terms`` belongs to.
        passages: Number of reranked passages.
    """
    order = np.argsort(ids)
    hit = np.isin(terms, ids)
    slot = np.searchsorted(ids[order], terms[hit])  # position of each found word in sorted ids
    # A word counts once per passage, however many of its sentences hold it.
    seen = np.unique(passage_of_term[hit] * len(ids) + slot)
    df = np.empty(len(ids), dtype=np.int64)
    df[order] = np.bincount(seen % len(ids), minlength=len(ids))
    return np.log1p((passages - df + 0.5) / (df + 0.5))


def _sentence_overlap(
    index: LoadedIndex, queries: list[Query], rows: np.ndarray, passage: np.ndarray | None = None,
    stopwords: str = DEFAULT_QUERY_STOPWORDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: the share of the queries' word weight it contains, and of their word pairs.

    A word's weight is its corpus IDF, times its IDF among the passages (:func:`_local_idf`)
    when ``passage`` (the passage of each sentence, ``0..n-1``) is given.
    """
    overlap, pairs = np.zeros(len(rows)), np.zeros(len(rows))
    if len(rows) == 0:
        return overlap, pairs
    cache = _sentence_terms(index)
    terms, owner, codes, code_owner = cache.lookup(index, rows)
    for q in queries:
        ids, idf = index.keyword.query_weights(q.text, stopwords)
        if len(ids) and passage is not None:
            idf = idf * _local_idf(ids, terms, passage[owner], int(passage.max()) + 1)
        if len(ids) and idf.sum() > 0:
            weight = np.zeros(cache.vocab_size + 1)
            weight[ids] = idf / idf.sum()
            overlap += q.weight * np.bincount(owner, weights=weight[terms], minlength=len(rows))
        qpairs = cache.query_pairs(index, q.text, stopwords)
        if len(qpairs):
            hit = np.isin(codes, qpairs).astype(np.float64)
            pairs += q.weight * np.bincount(code_owner, weights=hit, minlength=len(rows)) / len(qpairs)
    return overlap, pairs


def _minmax(x: np.ndarray, empty: float = 1.0, spread: float = 0.0) -> np.ndarray:
    """Scaled to 0..1; a constant vector becomes ``empty`` (no information to rank by).

    With ``spread``, values closer together than that are scaled as if they spanned it (the
    best still maps to 1 when the spread is reached, below it to less): a question whose words
    the model does not know ("What is an anda?") gets cosines of 0.0-0.2 for every passage,
    and stretching those to 0..1 would let noise outweigh the one passage BM25 finds.
    """
    if len(x) == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.full_like(x, empty, dtype=np.float64)
    return (x - lo) / max(hi - lo, spread)


def _dedup(index: LoadedIndex, hits: list[Hit], top_k: int, max_cosine: float, max_merged: int = 3) -> list[Hit]:
    """Drop hits that repeat a better hit, merge those that continue it.

    A hit whose chunk shares sentences with a better hit's (consecutive chunks of a long
    paragraph overlap by design) shows the same passage: it extends the better hit, which then
    covers both chunks (at most ``max_merged`` chunks per hit), and its place in the list goes
    to another passage. A hit that cannot be merged stays a hit of its own unless more than half
    of its sentences are shared (then it is dropped). Near-identical text (chunk cosine
    ``>= max_cosine``) is dropped.
    """
    kept: list[Hit] = []
    kept_vectors: list[np.ndarray] = []
    kept_rows: list[set[int]] = []
    for hit in hits:
        if len(kept) == top_k:
            break
        own = set(hit.sentence_rows.tolist())
        shared = [i for i, rows in enumerate(kept_rows) if own & rows]
        if shared and len(hit.rows) + sum(len(kept[i].rows) for i in shared) <= max_merged:
            i = shared[0]
            kept[i] = _merge(kept[i], hit)
            kept_rows[i] |= own
            for j in reversed(shared[1:]):  # the hit bridged two kept passages: now one
                kept[i] = _merge(kept[i], kept[j])
                kept_rows[i] |= kept_rows[j]
                del kept[j], kept_rows[j], kept_vectors[j]
            continue
        if any(len(own & kept_rows[i]) * 2 > len(own) for i in shared):
            continue
        vec = np.asarray(index.chunk_vectors[hit.row])
        if kept_vectors and float(np.max(np.stack(kept_vectors) @ vec)) >= max_cosine:
            continue
        kept.append(hit)
        kept_vectors.append(vec)
        kept_rows.append(own)
    return kept


def _merge(better: Hit, other: Hit) -> Hit:
    """``better`` extended by the sentences of ``other`` (a chunk of the same document that overlaps it)."""
    rows = np.concatenate([better.sentence_rows, other.sentence_rows])
    # Sentence rows follow document order; a shared sentence has the same scores in both hits.
    rows, first = np.unique(rows, return_index=True)

    def join(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else np.concatenate([a, b])[first]

    return replace(
        better,
        sentence_rows=rows,
        sentence_scores=join(better.sentence_scores, other.sentence_scores),
        sentence_overlap=join(better.sentence_overlap, other.sentence_overlap),
        sentence_pairs=join(better.sentence_pairs, other.sentence_pairs),
        merged=(*better.merged, *other.rows),
    )


def span(index: LoadedIndex, hit: Hit) -> tuple[int, int, int, int]:
    """Character offsets and lines covered by a hit: ``(start, end, start_line, end_line)``."""
    chunks = [index.chunks[r] for r in hit.rows]
    return (min(int(c["start"]) for c in chunks), max(int(c["end"]) for c in chunks),
            min(int(c["start_line"]) for c in chunks), max(int(c["end_line"]) for c in chunks))
