"""Keyword retrieval with bm25s: English stop words and the Snowball stemmer."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
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

    # bm25s's own defaults: word tokens of two or more characters, its short English stop list
    # (Lucene's 33 words: articles, "is", "was", "of", ...).
    return re.compile(r"(?u)\b\w\w+\b"), frozenset(STOPWORDS_EN)


#: Stop lists a question can be tokenised with. "question" (the default) is NLTK's English list
#: (shipped with bm25s as ``STOPWORDS_EN_PLUS``) without the words of it that carry meaning in a
#: question (:data:`MEANINGFUL`); "nltk" is NLTK's whole list; "bm25s" the index's own 33 words.
QUERY_STOPWORDS = ("question", "nltk", "bm25s")
DEFAULT_QUERY_STOPWORDS = "question"
#: BM25's IDF, log(1 + (N - n + 0.5) / (n + 0.5)), is below this for a word in more than half the
#: N texts (n > N / 2): in a small corpus about Russia, "Russia" tells no passage from another.
IDF_OF_MOST = math.log(2) - 1e-9

#: Words of NLTK's stop list that a question keeps. NLTK's list is made for documents; in a
#: question, "how" asks for a procedure ("How do I update the cluster master?" is answered by
#: "To update the master, …"), "can" for a possibility, "where"/"when"/"why" for a place, a time
#: or a reason that documents state with the same words ("where to buy", "when it is due"), and
#: quantities, comparisons and directions ("only", "most", "before", "between", "off") change
#: what is asked ("no" and "not" would too, but the index drops them). "won" is there as the
#: remains of "won't", but "Who won …?" means it. Measured (benchmarks/RESULTS-conversation.md,
#: RESULTS-quality.md): on conversational questions (MTRAG) NLTK's whole list cost first-turn MRR
#: 0.921 → 0.866 and follow-ups gained less from their history; on SQuAD keeping these words
#: changes nothing beyond noise. Words a question always carries ("what", "did", "is",
#: pronouns) stay stop words, and so does "under": "How are relations under Trump?" means during
#: Trump's presidency, and the word drew "…generally warm under Russian president Boris Yeltsin"
#: ahead of the Trump sentences (SQuAD and MTRAG unchanged to the fourth decimal without it).
MEANINGFUL = frozenset(
    "how can why where when won nor only most more few all any each both other some same own too very "
    "again further once before after between during through against up down off out over".split()
)


@lru_cache(maxsize=4)
def query_stopwords(name: str = DEFAULT_QUERY_STOPWORDS) -> frozenset[str]:
    """The stop words removed from a question (``name``: one of :data:`QUERY_STOPWORDS`)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    if name not in QUERY_STOPWORDS:
        raise ValueError(f"unknown stop list {name!r}; expected one of {QUERY_STOPWORDS}")
    stop = _rules()[1]
    if name == "bm25s":
        return stop
    nltk = frozenset(STOPWORDS_EN_PLUS)
    return stop | (nltk - MEANINGFUL if name == "question" else nltk)


@lru_cache(maxsize=256)
def query_tokens(query: str, stopwords: str = DEFAULT_QUERY_STOPWORDS) -> tuple[str, ...]:
    """The tokens of a question: like :func:`tokenize`, without the fuller stop list's words.

    A question's function words ("What did ... do", "Which was ...") are no evidence that a
    passage answers it, yet the index's short stop list keeps them, so that BM25 and the word
    overlap of the rerank would reward a passage for containing "did" or "which". The index
    itself keeps them (dropping them there would need a rebuild and changes nothing else).
    """
    return tuple(tokenize([query], query_stopwords(stopwords))[0])


def nearest_word(word: str, by_length: dict[int, list[str]], max_distance: int) -> str | None:
    """The word of ``by_length`` (words grouped by their length) nearest to ``word`` within
    ``max_distance`` edits (optimal string alignment: two neighbours swapped are one edit), or
    None; only the lengths within reach are compared (rapidfuzz)."""
    from rapidfuzz import distance, process

    best: tuple[str, float] | None = None
    for length in range(len(word) - max_distance, len(word) + max_distance + 1):
        words = by_length.get(length)
        found = words and process.extractOne(word, words, scorer=distance.OSA.distance, score_cutoff=max_distance)
        if found and (best is None or found[1] < best[1]):
            best = (found[0], found[1])
    return best[0] if best else None


def split_words(text: str) -> list[str]:
    """The lower-cased words of a text as the index splits them, not stemmed: what a question or
    a document wrote ("boris", where the index holds "bori")."""
    return _rules()[0].findall(text.lower())


def tokenize(texts: Sequence[str], stop: frozenset[str] | None = None) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text (the corpus' tokens by default).

    The same tokens as ``bm25s.tokenize(texts, stopwords="en", stemmer=Snowball)``, without its
    per-call overhead (progress bars, logger set-up): a question is tokenised several times, and
    this is the hot path of a query. ``stop`` replaces the stop list (see :func:`query_tokens`).
    """
    split, index_stop = _rules()
    stop = index_stop if stop is None else stop
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
        self._by_length: dict[int, list[str]] | None = None
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], tuple[str, ...]] = {}

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

    def closest(self, token: str, max_distance: int) -> str | None:
        """The indexed word nearest to ``token`` within ``max_distance`` edits, or ``None``. An
        edit is an inserted, deleted or replaced letter, or two neighbours swapped ("exlposion":
        optimal string alignment, the usual measure of typing errors). Only words of a length
        within reach are compared (rapidfuzz; a few ms for a vocabulary of 200,000 words)."""
        if self._by_length is None:
            with self._lock:
                if self._by_length is None:
                    by_length: dict[int, list[str]] = {}
                    for word in self.vocab:
                        by_length.setdefault(len(word), []).append(word)
                    self._by_length = by_length
        return nearest_word(token, self._by_length, max_distance)

    def _postings(self, token_id: int) -> np.ndarray:
        """Rows holding the indexed word ``token_id``, in row order (a column of the CSC matrix)."""
        indptr = self._retriever.scores["indptr"]
        return self._retriever.scores["indices"][indptr[token_id] : indptr[token_id + 1]]

    def written_forms(self, token: str, text_of_row: Callable[[int], str], rows: int = 3) -> set[str]:
        """How the documents write an indexed word: the lower-cased words of the first ``rows``
        texts holding ``token`` that stem to it ("boris" for "bori"). ``text_of_row`` gives a
        row's text as indexed (:meth:`qa.store.LoadedIndex.chunk_index_text`). The index keeps
        stems only; this reads a few texts, for the rare word that needs it."""
        if token not in self.vocab:
            return set()
        found = self._postings(self.vocab[token])[:rows]
        written = sorted({w for row in found for w in split_words(text_of_row(int(row)))})
        return {w for w, stem in zip(written, _stemmer().stemWords(written), strict=True) if stem == token}

    def known_tokens(self, query: str, stopwords: str = DEFAULT_QUERY_STOPWORDS) -> tuple[str, ...]:
        """:func:`query_tokens`, with a word the documents never use replaced by the indexed word
        one edit away (two from eight letters on), if any: "Syria" finds "Syrian", "Hollwood"
        "Hollywood". Words under five letters and numbers are kept as they are ("ship" is not
        "shop", "2025" not "2024")."""
        key = (query, stopwords)
        known = self._known.get(key)
        if known is None:
            known = tuple(self._known_word(t) for t in query_tokens(query, stopwords))
            # Bounded: conversations repeat their queries. Unlocked: two threads at worst both
            # compute the same tuple.
            if len(self._known) > 4096:
                self._known.clear()
            self._known[key] = known
        return known

    def _known_word(self, token: str) -> str:
        """``token``, or the indexed word :meth:`known_tokens` puts in its place."""
        if token in self.vocab or len(token) < 5 or any(ch.isdigit() for ch in token):
            return token
        return self.closest(token, 2 if len(token) >= 8 else 1) or token

    def query_weights(self, query: str, stopwords: str = DEFAULT_QUERY_STOPWORDS) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids of the query's distinct known tokens (:func:`known_tokens`) and their IDF."""
        tokens = [t for t in dict.fromkeys(self.known_tokens(query, stopwords)) if t in self.vocab]
        ids = np.array([self.vocab[t] for t in tokens], dtype=np.int64)
        return ids, self.idf(tokens)

    def idf(self, tokens: list[str]) -> np.ndarray:
        """BM25 inverse document frequency of each token (unknown tokens get the highest)."""
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        n = self.size
        df = np.array([indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in tokens], dtype=np.float64)
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str, stopwords: str = DEFAULT_QUERY_STOPWORDS) -> np.ndarray:
        """BM25 score of every indexed text for ``query`` (zeros when no query word is known).

        The query is tokenised by :meth:`known_tokens` with the ``stopwords`` list.
        """
        ids = self._retriever.get_tokens_ids(list(self.known_tokens(query, stopwords)))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)
