"""Keyword retrieval with bm25s: English stop words and the Snowball stemmer."""

from __future__ import annotations

import logging
import re
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


@lru_cache(maxsize=1)
def _rules() -> tuple[re.Pattern[str], frozenset[str]]:
    from bm25s.stopwords import STOPWORDS_EN

    # bm25s's own defaults: word tokens of two or more characters, NLTK's English stop words.
    return re.compile(r"(?u)\b\w\w+\b"), frozenset(STOPWORDS_EN)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text (the same for corpus and queries).

    The same tokens as ``bm25s.tokenize(texts, stopwords="en", stemmer=Snowball)``, without its
    per-call overhead (progress bars, logger set-up): a question is tokenised several times, and
    this is the hot path of a query.
    """
    split, stop = _rules()
    stem = _stemmer().stemWords
    out = []
    for text in texts:
        tokens = [t for t in split.findall(text.lower()) if t not in stop]
        out.append(stem(tokens) if tokens else [])
    return out


#: BM25 term-frequency saturation and length normalisation (chosen on SQuAD part a; see
#: benchmarks/RESULTS-quality.md). Build-time parameters: they are baked into the saved matrices.
BM25_K1 = 1.5
BM25_B = 0.75


class KeywordIndex:
    """BM25 scores over a fixed list of texts, stored as bm25s sparse matrices."""

    def __init__(self, retriever) -> None:  # a bm25s.BM25
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str], k1: float | None = None, b: float | None = None) -> KeywordIndex:
        """Index ``texts``; row ``i`` of every score vector is ``texts[i]``."""
        retriever = _bm25s().BM25(k1=BM25_K1 if k1 is None else k1, b=BM25_B if b is None else b)
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

    @property
    def vocab(self) -> dict[str, int]:
        """Token → column id of the BM25 matrices."""
        return self._retriever.vocab_dict

    def query_weights(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids of the query's distinct known tokens and their IDF."""
        tokens = [t for t in dict.fromkeys(tokenize([query])[0]) if t in self.vocab]
        ids = np.array([self.vocab[t] for t in tokens], dtype=np.int64)
        return ids, self.idf(tokens)

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
