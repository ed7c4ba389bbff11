"""Keyword retrieval with bm25s: English stop words and the Snowball stemmer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _bm25s():
    import bm25s

    # bm25s sets its logger to DEBUG when imported; give the level back to the application.
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text (the same for corpus and queries)."""
    return _bm25s().tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


class KeywordIndex:
    """BM25 scores over a fixed list of texts, stored as bm25s sparse matrices."""

    def __init__(self, retriever) -> None:  # a bm25s.BM25
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        """Index ``texts``; row ``i`` of every score vector is ``texts[i]``."""
        retriever = _bm25s().BM25()
        # An empty token list (a text of only stop words) still needs its row: bm25s keeps it
        # when the corpus is given as token lists.
        retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Load a saved index, memory-mapping its matrices so start-up stays cheap."""
        return cls(_bm25s().BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0))

    @property
    def size(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def idf(self, tokens: list[str]) -> np.ndarray:
        """BM25 inverse document frequency of each token (unknown tokens get the highest)."""
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        n = self.size
        df = np.array([indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in tokens], dtype=np.float64)
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text for ``query`` (zeros when no query word is known)."""
        ids = self._retriever.get_tokens_ids(tokenize([query])[0])
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)
