"""Late interaction: a question's word pieces matched one by one against a passage's (MaxSim).

The embedding model's last layer gives one contextual vector per word piece, before mean pooling
folds them into the chunk vector. The index keeps them for every chunk, projected to 96
dimensions and quantised to int8 (:class:`TokenCodec`, ~102 bytes a word piece). At question
time each of the question's word pieces takes its best cosine with any word piece of a reranked
passage, and the passage scores the IDF-weighted mean of those best matches: ColBERT's MaxSim
with BERTScore's IDF weights. MiniLM was not trained for it, yet the token matches add what the
pooled vectors and BM25 both lose — which words of the question a passage answers, in context.
Measured on SQuAD part a (benchmarks/RESULTS-quality.md), held-out half: R@1 0.869 → 0.880,
R@5 0.974 → 0.981.

Cost per question: one matrix product of the question's pieces with the ~140 pieces of each of
the 30 reranked chunks, gathered from a memory map; no loop over the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qa.store import LoadedIndex


@dataclass(frozen=True)
class TokenVectors:
    """The word pieces of one text, special tokens left out.

    Attributes:
        ids: Vocabulary ids of the word pieces (int32).
        vectors: Their L2-normalised contextual vectors, one row per id (float32).
    """

    ids: np.ndarray
    vectors: np.ndarray


def word_pieces(ids: np.ndarray, mask: np.ndarray, vectors: np.ndarray, special: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One text's word pieces out of its row of a padded batch: their ids (int32) and vectors
    (float32), padding and special tokens ([CLS], [SEP]…: ``special``) left out."""
    real = mask.astype(bool) & ~np.isin(ids, special)
    return ids[real].astype(np.int32), np.ascontiguousarray(vectors[real], dtype=np.float32)


#: Dimensions token vectors are projected to (PCA): measured on SQuAD part a, 96 ranks as the
#: model's 384 do (R@1/R@5/MRR within ±0.001), at a quarter of the bytes.
TOKEN_DIMENSIONS = 96
#: Fewer sample tokens than this many per dimension and the vectors are kept whole (no projection).
_SAMPLES_PER_DIMENSION = 4


def can_fit(tokens: int, dimensions: int = TOKEN_DIMENSIONS) -> bool:
    """Whether ``tokens`` sample tokens are enough to fit a projection to ``dimensions``."""
    return tokens >= _SAMPLES_PER_DIMENSION * dimensions


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as int8 with one float16 scale each (row ≈ int8 row × scale).

    Measured on SQuAD part a: MaxSim over int8 rows ranks as over float16 ones (R@1/R@5/MRR
    equal to the fourth decimal).

    Returns:
        ``(codes, scales)``: int8 ``(n, dim)`` and float16 ``(n,)``.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / 127 if len(vectors) else np.zeros(0, np.float32)
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales.astype(np.float16)


@dataclass(frozen=True)
class TokenCodec:
    """How token vectors are stored: centred, projected on their principal axes, re-normalised
    and quantised to int8.

    The axes are fitted once, at a full build, on a sample of the corpus's tokens, and kept by
    incremental builds (the stored vectors must stay comparable). They are a property of the
    model more than of the corpus: axes fitted on the 724 tokens of six SQuAD paragraphs rank
    part a as well as the model's full vectors.

    Attributes:
        mean: The sample's mean token vector ``(dim,)``.
        components: The projection ``(dims, dim)``, rows orthonormal (the identity when the
            sample was too small to fit axes).
    """

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, sample: np.ndarray, dimensions: int = TOKEN_DIMENSIONS) -> TokenCodec:
        """Principal axes of ``sample`` (token vectors, ``(n, dim)``); the identity below
        ``4 × dimensions`` tokens."""
        sample = np.asarray(sample, dtype=np.float32)
        dim = sample.shape[1]
        if dimensions >= dim or not can_fit(len(sample), dimensions):
            return cls(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32))
        mean = sample.mean(axis=0)
        _, _, axes = np.linalg.svd(sample - mean, full_matrices=False)
        return cls(mean.astype(np.float32), np.ascontiguousarray(axes[:dimensions], dtype=np.float32))

    @property
    def dimensions(self) -> int:
        return int(self.components.shape[0])

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Unit vectors in the codec's space, float32 ``(n, dimensions)``."""
        x = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.components.T
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms > 0, norms, 1.0)

    def encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored form of token vectors: :func:`quantize` of :meth:`project`."""
        return quantize(self.project(vectors))


#: Largest vocabulary id a stored word piece may have (a damaged ids file must not allocate GBs).
_MAX_VOCABULARY = 1 << 22


def document_frequency(ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per vocabulary id, the number of chunks holding that word piece (computed at build time).

    Args:
        ids: Every chunk's word-piece ids, chunk after chunk.
        offsets: First row of each chunk in ``ids``, then ``len(ids)``.

    Raises:
        ValueError: For an id below 0 or above any real vocabulary.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int32)
    if int(ids.min()) < 0 or int(ids.max()) >= _MAX_VOCABULARY:
        raise ValueError("word-piece ids out of range")
    counts = np.diff(np.asarray(offsets, dtype=np.int64))
    chunk = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    vocab = int(ids.max()) + 1
    pairs = np.unique(chunk * vocab + ids)  # a piece counts once per chunk
    return np.bincount(pairs % vocab, minlength=vocab).astype(np.int32)


def token_idf(index: LoadedIndex, ids: np.ndarray) -> np.ndarray:
    """IDF of word pieces over the index's chunks: ``log((N + 1) / (df + 1))`` (unseen pieces: df 0)."""
    df = index.token_df
    ids = np.asarray(ids, dtype=np.int64)
    seen = np.zeros(len(ids), dtype=np.int64)
    inside = (ids >= 0) & (ids < len(df))
    seen[inside] = df[ids[inside]]
    return np.log((len(index.chunks) + 1) / (seen + 1.0))


def maxsim(index: LoadedIndex, rows: np.ndarray, query: TokenVectors) -> np.ndarray:
    """Late-interaction score of each chunk row for one query.

    Args:
        index: A loaded index with token vectors (:attr:`LoadedIndex.has_tokens`).
        rows: Chunk rows to score.
        query: The question's tokens.

    Returns:
        Per row, the IDF-weighted mean over the question's tokens of their best cosine with a
        token of the chunk (0 for a chunk without tokens or a question without any).
    """
    out = np.zeros(len(rows), dtype=np.float64)
    if len(rows) == 0 or len(query.ids) == 0:
        return out
    offsets = index.token_offsets
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(offsets[rows], dtype=np.int64)
    counts = np.asarray(offsets[rows + 1], dtype=np.int64) - starts
    bounds = np.concatenate([[0], np.cumsum(counts)])
    if bounds[-1] == 0:
        return out
    token_rows = np.repeat(starts - bounds[:-1], counts) + np.arange(bounds[-1])
    passage = np.asarray(index.token_vectors[token_rows], dtype=np.float32)
    question = index.token_codec.project(query.vectors)
    # (question tokens, passage tokens); each column scaled after the product, not before it.
    similarity = (question @ passage.T) * np.asarray(index.token_scales[token_rows], dtype=np.float32)
    # Segment maxima; an empty chunk has no segment (reduceat needs increasing starts).
    filled = counts > 0
    best = np.maximum.reduceat(similarity, bounds[:-1][filled], axis=1)
    weights = token_idf(index, query.ids)
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    out[filled] = (weights / weights.sum()) @ best
    return out
