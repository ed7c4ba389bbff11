"""Find the passages that answer a query: dense + BM25 fusion, sentence-level rerank, dedup.

All per-query work is vectorised over candidate rows (FAISS, numpy, bm25s sparse scores); the
only Python loops run over the few dozen candidates, never over the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.store import LoadedIndex


@dataclass(frozen=True)
class Query:
    """One retrieval query: its text (for BM25), its unit vector, and its weight in the fusion."""

    text: str
    vector: np.ndarray
    weight: float = 1.0


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
    """

    row: int
    score: float
    dense: float
    keyword: float
    sentence_rows: np.ndarray
    sentence_scores: np.ndarray

    @property
    def best_sentence(self) -> float:
        return float(self.sentence_scores.max()) if len(self.sentence_scores) else 0.0


@dataclass(frozen=True)
class RetrievalParams:
    candidates: int = 50
    dense_weight: float = 0.5
    sentence_weight: float = 0.5
    rerank_depth: int = 30
    #: Below this cosine of chunk vectors two hits from the same document count as distinct.
    duplicate_cosine: float = 0.97


def _keyword_scores(index: LoadedIndex, queries: list[Query]) -> np.ndarray:
    total = np.zeros(len(index.chunks), dtype=np.float32)
    for q in queries:
        scores = index.keyword.scores(q.text)
        best = float(scores.max()) if len(scores) else 0.0
        if best > 0:
            total += q.weight * scores / best
    return total


def retrieve(index: LoadedIndex, queries: list[Query], top_k: int, params: RetrievalParams) -> list[Hit]:
    """The ``top_k`` best distinct chunks for the queries.

    Args:
        index: The loaded index.
        queries: One or more weighted queries (follow-ups add the expanded question).
        top_k: How many hits to return.
        params: Fusion and rerank settings.

    Returns:
        Hits, best first.
    """
    n = len(index.chunks)
    if n == 0 or not queries:
        return []
    weights = np.array([q.weight for q in queries], dtype=np.float32)
    weights /= weights.sum()
    queries = [Query(q.text, q.vector, float(w)) for q, w in zip(queries, weights, strict=True)]
    qmat = np.stack([q.vector for q in queries]).astype(np.float32)
    depth = min(params.candidates, n)

    _, dense_ids = index.faiss_index.search(qmat, depth)
    keyword = _keyword_scores(index, queries)
    keyword_ids = np.argpartition(-keyword, depth - 1)[:depth] if depth < n else np.arange(n)
    keyword_ids = keyword_ids[keyword[keyword_ids] > 0]
    candidates = np.unique(np.concatenate([dense_ids[dense_ids >= 0].ravel(), keyword_ids]))

    # Exact cosines for every candidate (FAISS may be approximate, BM25-only ones have none).
    dense = (np.asarray(index.chunk_vectors[candidates]) @ qmat.T) @ weights
    kw = keyword[candidates]
    fused = params.dense_weight * _minmax(dense) + (1 - params.dense_weight) * kw

    order = np.argsort(-fused)[: max(params.rerank_depth, top_k)]
    hits: list[Hit] = []
    for i in order:
        row = int(candidates[i])
        chunk = index.chunks[row]
        sent_rows = np.arange(int(chunk["first"]), int(chunk["last"]) + 1)
        sent_scores = (np.asarray(index.sentence_vectors[sent_rows]) @ qmat.T) @ weights
        hits.append(Hit(row, float(fused[i]), float(dense[i]), float(kw[i]), sent_rows, sent_scores))
    if hits:
        best = np.array([h.best_sentence for h in hits])
        best_norm = _minmax(best)
        for h, b in zip(hits, best_norm, strict=True):
            h.score = (1 - params.sentence_weight) * h.score + params.sentence_weight * float(b)
    hits.sort(key=lambda h: -h.score)
    return _dedup(index, hits, top_k, params.duplicate_cosine)


def _minmax(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def _dedup(index: LoadedIndex, hits: list[Hit], top_k: int, max_cosine: float) -> list[Hit]:
    """Drop hits that repeat a better hit: same sentences (overlapping chunks) or near-identical text."""
    kept: list[Hit] = []
    kept_vectors: list[np.ndarray] = []
    for hit in hits:
        if len(kept) == top_k:
            break
        vec = np.asarray(index.chunk_vectors[hit.row])
        own = set(hit.sentence_rows.tolist())
        # Overlap of one sentence is the designed chunk overlap; more than half means the same passage.
        if any(len(own & set(k.sentence_rows.tolist())) * 2 > len(own) for k in kept):
            continue
        if kept_vectors and float(np.max(np.stack(kept_vectors) @ vec)) >= max_cosine:
            continue
        kept.append(hit)
        kept_vectors.append(vec)
    return kept
