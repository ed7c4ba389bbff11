"""Prototypes of proposed src changes, applied by monkeypatching (benchmarks only; src is untouched).

Each ``apply_<name>()`` patches the running process so a benchmark can measure the effect of a
change before anyone edits ``src/``. ``apply(names)`` applies several, by name:

* ``reuse-index``   Engine.status() keeps the index it just loaded and checked, so the Engine.index()
                    that follows in ``qa ask`` does not load and check it a second time.
* ``light-bm25``    Query-time BM25 without importing bm25s (which imports scipy.sparse): the
                    saved CSC arrays are memory-mapped with numpy, the vocabulary read from
                    vocab.index.json, queries tokenised exactly like bm25s.tokenize (same regex,
                    lower-casing, the same 33 English stop words, PyStemmer; the spelling match of
                    KeywordIndex.known_tokens), and scores summed with one np.bincount instead of
                    np.add.at per query token.
* ``bincount``      Only the scoring change of ``light-bm25`` (bm25s still loads the index).
* ``numpy-dense``   Exact search with numpy over the memory-mapped chunk_vectors.npy instead of
                    faiss for a flat index (no faiss import or read on the ask path).
* ``faiss-1thread`` faiss.omp_set_num_threads(1) before the first search.
* ``ort-nospin``    the ONNX query session with session.intra_op.allow_spinning=0: its 2 intra-op
                    threads sleep instead of spinning between ops (spinning costs a lot when other
                    processes compete for the 2 cores).
* ``ort-1thread``   the ONNX query session with intra_op_num_threads=1.
* ``madvise-random`` madvise(MADV_RANDOM) on the memory-mapped vector files and texts.bin: a query
                    reads a few hundred scattered sentence vectors; without the hint each page fault
                    reads ahead / maps around neighbouring pages, inflating RSS (page cache) and I/O.
* ``fast-exit``     (CLI only) flush stdout/stderr and os._exit() after answering, skipping the
                    interpreter's teardown of numpy/faiss/onnxruntime modules.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import threading
from functools import cached_property
from pathlib import Path

from qa.keyword import KeywordIndex

ALL = ("reuse-index", "light-bm25", "numpy-dense", "faiss-1thread", "fast-exit", "bincount", "ort-nospin",
       "ort-1thread", "madvise-random")


def apply(names) -> None:
    for name in names:
        if not name:
            continue
        if name not in ALL:
            raise ValueError(f"unknown prototype {name!r}; known: {', '.join(ALL)}")
        if name != "fast-exit":  # handled by the caller
            globals()[f"apply_{name.replace('-', '_')}"]()


# -- reuse-index ---------------------------------------------------------------------------------


def apply_reuse_index() -> None:
    import qa.engine as eng
    from qa import indexing
    from qa.errors import CorruptIndexError

    def status(self) -> str:
        try:
            signature = self.folder.signature()
            loaded = self.folder.load()
            if loaded is None:
                return "missing"
            loaded.check()
        except CorruptIndexError as exc:
            return f"corrupt: {exc}"
        if indexing.is_stale(self.settings, loaded):
            return "stale"
        if self._index is None:  # proposed: hand it on to Engine.index()
            self._index, self._signature = loaded, signature
        return "ok"

    eng.Engine.status = status


# -- light-bm25 ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


#: bm25s.stopwords.STOPWORDS_EN (bm25s 0.3.16), copied so the ask path need not import bm25s;
#: check_stopwords() verifies the copy against the installed bm25s.
STOPWORDS_EN = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
    "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "will", "with",
))


def check_stopwords() -> None:
    """Raise when the copy above differs from bm25s's list (parsed from its source, not imported)."""
    if _bm25s_list("STOPWORDS_EN") != STOPWORDS_EN:
        raise RuntimeError("bm25s STOPWORDS_EN changed; update benchmarks/_proto.py")


def _bm25s_list(name: str) -> frozenset[str]:
    """A stop list of bm25s's stopwords.py, parsed from its source (importing bm25s imports scipy)."""
    spec = importlib.util.find_spec("bm25s")
    path = Path(next(iter(spec.submodule_search_locations))) / "stopwords.py"
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == name:
            return frozenset(ast.literal_eval(node.value))
    raise RuntimeError(f"{name} not found in bm25s")


_QUERY_STOP: dict[str, frozenset[str]] = {}


def query_stop(name: str) -> frozenset[str]:
    """The same lists as qa.keyword.query_stopwords, without importing bm25s."""
    if name not in _QUERY_STOP:
        from qa.keyword import MEANINGFUL

        if name == "bm25s":
            _QUERY_STOP[name] = STOPWORDS_EN
        else:
            nltk = _bm25s_list("STOPWORDS_EN_PLUS")
            _QUERY_STOP[name] = STOPWORDS_EN | (nltk - MEANINGFUL if name == "question" else nltk)
    return _QUERY_STOP[name]


def light_tokenize(texts, stop: frozenset[str] = STOPWORDS_EN) -> list[list[str]]:
    """Same tokens as qa.keyword.tokenize (bm25s.tokenize, stopwords='en', Snowball stemmer)."""
    from qa.keyword import _stemmer

    stem = _stemmer().stemWords
    return [stem([t for t in _TOKEN.findall(text.lower()) if t not in stop]) for text in texts]


class LightKeywordIndex:
    """The query side of qa.keyword.KeywordIndex, on numpy alone."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        params = json.loads((folder / "params.index.json").read_text("utf-8"))
        if params.get("method") not in ("lucene", "robertson", "atire") or params.get("backend", "numpy") != "numpy":
            raise ValueError("unsupported bm25s index")
        self._n = int(params["num_docs"])
        self.data = np.load(folder / "data.csc.index.npy", mmap_mode="r")
        self.indices = np.load(folder / "indices.csc.index.npy", mmap_mode="r")
        self.indptr = np.load(folder / "indptr.csc.index.npy", mmap_mode="r")
        self.vocab = json.loads((folder / "vocab.index.json").read_text("utf-8"))
        self._by_length = None  # for the borrowed KeywordIndex.closest
        self._lock = threading.Lock()

    # The spelling match of KeywordIndex itself (it imports nothing heavy).
    closest = KeywordIndex.closest
    _known_word = KeywordIndex._known_word
    written_forms = KeywordIndex.written_forms

    def _postings(self, token_id: int):
        return self.indices[self.indptr[token_id] : self.indptr[token_id + 1]]

    @property
    def size(self) -> int:
        return self._n

    def known_tokens(self, query: str, stopwords: str = "question") -> tuple[str, ...]:
        """As KeywordIndex.known_tokens (uncached)."""
        return tuple(self._known_word(t) for t in light_tokenize([query], query_stop(stopwords))[0])

    def query_weights(self, query: str, stopwords: str = "question"):
        """Vocabulary ids of the query's distinct known tokens and their IDF (as KeywordIndex)."""
        import numpy as np

        tokens = [t for t in dict.fromkeys(self.known_tokens(query, stopwords)) if t in self.vocab]
        return np.array([self.vocab[t] for t in tokens], dtype=np.int64), self.idf(tokens)

    def idf(self, tokens):
        import numpy as np

        n, ind = self._n, self.indptr
        df = np.array([ind[self.vocab[t] + 1] - ind[self.vocab[t]] if t in self.vocab else 0 for t in tokens],
                      dtype=np.float64)
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str, stopwords: str = "question"):
        import numpy as np

        ids = [self.vocab[t] for t in self.known_tokens(query, stopwords) if t in self.vocab]
        if not ids:
            return np.zeros(self._n, dtype=np.float32)
        ind = self.indptr
        spans = [(int(ind[i]), int(ind[i + 1])) for i in ids]
        rows = np.concatenate([self.indices[a:b] for a, b in spans])
        vals = np.concatenate([self.data[a:b] for a, b in spans])
        return np.bincount(rows, weights=vals, minlength=self._n).astype(np.float32)


def apply_light_bm25() -> None:
    import qa.answer
    import qa.conversation
    import qa.keyword
    from qa import store
    from qa.errors import CorruptIndexError

    def keyword(self):
        try:
            kw = LightKeywordIndex(self.folder / "bm25")
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptIndexError(f"index at {self.folder} is corrupt: bm25 ({exc.__class__.__name__})") from None
        if kw.size != len(self.chunks):
            raise CorruptIndexError(f"index at {self.folder} is corrupt: bm25 disagrees with the manifest")
        return kw

    prop = cached_property(keyword)
    prop.__set_name__(store.LoadedIndex, "keyword")
    store.LoadedIndex.keyword = prop
    # Every qa module that imported qa.keyword.tokenize by name (answer, conversation, …).
    original = qa.keyword.tokenize
    for name, module in list(sys.modules.items()):
        if (name == "qa" or name.startswith("qa.")) and getattr(module, "tokenize", None) is original:
            module.tokenize = light_tokenize


def apply_bincount() -> None:
    """Keep bm25s for loading and tokenising; replace only its per-token np.add.at scoring."""
    import numpy as np

    import qa.keyword

    def scores(self, query: str, stopwords: str = qa.keyword.DEFAULT_QUERY_STOPWORDS):
        r = self._retriever
        ids = r.get_tokens_ids(list(qa.keyword.query_tokens(query, stopwords)))
        n = self.size
        if not ids:
            return np.zeros(n, dtype=np.float32)
        s = r.scores
        ind, data, indices = s["indptr"], s["data"], s["indices"]
        spans = [(int(ind[i]), int(ind[i + 1])) for i in ids]
        rows = np.concatenate([indices[a:b] for a, b in spans])
        vals = np.concatenate([data[a:b] for a, b in spans])
        return np.bincount(rows, weights=vals, minlength=n).astype(np.float32)

    qa.keyword.KeywordIndex.scores = scores


# -- numpy-dense ---------------------------------------------------------------------------------


class NumpyFlat:
    """faiss.IndexFlatIP's search(), computed with numpy over the memory-mapped vectors."""

    def __init__(self, vectors) -> None:
        self.vectors = vectors
        self.ntotal = len(vectors)
        self.d = vectors.shape[1]

    def search(self, queries, k):
        import numpy as np

        scores = queries @ self.vectors.T  # (nq, n)
        k = min(k, self.ntotal)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-part, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)


def apply_numpy_dense() -> None:
    from qa import store

    original = store.LoadedIndex.__dict__["faiss_index"].func

    def faiss_index(self):
        if self.manifest.get("index_type", "flat") == "flat":
            return NumpyFlat(self.chunk_vectors)
        return original(self)

    prop = cached_property(faiss_index)
    prop.__set_name__(store.LoadedIndex, "faiss_index")
    store.LoadedIndex.faiss_index = prop


# -- faiss threads -------------------------------------------------------------------------------


def apply_faiss_1thread() -> None:
    import faiss

    faiss.omp_set_num_threads(1)


# -- ONNX Runtime threads ------------------------------------------------------------------------


def _patch_session(configure) -> None:
    import onnxruntime as ort

    original = ort.InferenceSession
    if getattr(original, "_qa_bench_patched", False):
        original = original._qa_bench_original

    def session(path, sess_options=None, *a, **k):
        sess_options = sess_options or ort.SessionOptions()
        configure(sess_options)
        return original(path, sess_options, *a, **k)

    session._qa_bench_patched = True
    session._qa_bench_original = original
    ort.InferenceSession = session


def apply_ort_nospin() -> None:
    _patch_session(lambda o: o.add_session_config_entry("session.intra_op.allow_spinning", "0"))


def apply_ort_1thread() -> None:
    def configure(o):
        o.intra_op_num_threads = 1

    _patch_session(configure)


# -- madvise -------------------------------------------------------------------------------------


def apply_madvise_random() -> None:
    import mmap

    from qa import store

    original = store.LoadedIndex.__init__

    def init(self, folder):
        original(self, folder)
        for name in ("chunks", "sentences", "chunk_vectors", "sentence_vectors"):
            m = getattr(getattr(self, name, None), "_mmap", None)
            if m is not None:
                m.madvise(mmap.MADV_RANDOM)
        texts = getattr(self, "_texts", None)
        if isinstance(texts, mmap.mmap):
            texts.madvise(mmap.MADV_RANDOM)

    store.LoadedIndex.__init__ = init
