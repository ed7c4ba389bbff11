"""The on-disk index: generations written atomically, and loaded with memory maps.

Layout of the index folder::

    index/
      CURRENT              name of the active generation (replaced atomically)
      gen-<time>-<id>/     one complete index
        manifest.json      format, model, dimension, chunk parameters, counts, build time
        documents.json     per file: path, hash, size, mtime, row ranges, text byte range
        sections.json      section names (chunks refer to them by number)
        texts.bin          the documents' texts, UTF-8, one after another
        chunks.npy         one row per chunk: document, sentence range, offsets, lines, section
        sentences.npy      one row per sentence: document, offsets
        chunk_vectors.npy  unit vectors of chunks (float32)
        sentence_vectors.npy
        token_*.npy        per chunk, its word pieces' contextual vectors for the late-interaction
                           rerank (qa.late_interaction): ids (int32), vectors (int8, projected
                           by the mean and components of qa.late_interaction.TokenCodec) and
                           scales (float16), each chunk's first token row (offsets,
                           n_chunks + 1), and the chunks per word piece (df, for IDF);
                           absent when Settings.token_vectors is off
        chunks.faiss       HNSW graph over chunk_vectors (FAISS), only above Settings.hnsw_threshold;
                           exact search reads chunk_vectors.npy directly
        bm25/              bm25s sparse matrices over the chunks' index texts
      .tmp-*/              a build in progress (or killed): never read, removed by the next build

A build writes a whole new generation into a temporary folder, renames it, then replaces
``CURRENT``; a reader therefore sees either the old or the new index, even after ``kill -9``.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from qa.errors import CorruptIndexError, QAError

logger = logging.getLogger(__name__)

FORMAT = "qa-index/1"
CURRENT = "CURRENT"
_KNOWN = {CURRENT, ".lock", ".gitignore", ".gitkeep", "README.md", "encoders"}

CHUNK_DTYPE = np.dtype(
    [
        ("doc", "<i4"),
        ("first", "<i4"),  # first sentence row (global)
        ("last", "<i4"),  # last sentence row (global, inclusive)
        ("start", "<i8"),  # character offsets in the document text
        ("end", "<i8"),
        ("start_line", "<i4"),  # 1-based, inclusive
        ("end_line", "<i4"),
        ("section", "<i4"),  # row in sections.json
    ]
)
SENTENCE_DTYPE = np.dtype([("doc", "<i4"), ("start", "<i8"), ("end", "<i8")])


@dataclass
class DocEntry:
    """A document as recorded in the index."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    chunks: tuple[int, int]  # [first, end) chunk rows
    sentences: tuple[int, int]  # [first, end) sentence rows
    text_bytes: tuple[int, int]  # [first, end) in texts.bin


@dataclass
class Generation:
    """Everything a build produces, in memory, ready to be written."""

    manifest: dict
    documents: list[DocEntry]
    sections: list[str]
    texts: list[bytes]
    chunks: np.ndarray
    sentences: np.ndarray
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    faiss_index: object | None  # an HNSW graph; None for exact search (over chunk_vectors)
    keyword: object  # qa.keyword.KeywordIndex
    #: Token vectors of the chunks (see the module docstring): all of them or none.
    token_ids: np.ndarray | None = None
    token_vectors: np.ndarray | None = None
    token_scales: np.ndarray | None = None
    token_offsets: np.ndarray | None = None
    token_mean: np.ndarray | None = None
    token_components: np.ndarray | None = None
    token_df: np.ndarray | None = None


class FlatSearch:
    """Exact inner-product search over memory-mapped vectors: ``faiss.IndexFlatIP.search`` in numpy.

    Cold questions need neither the FAISS import nor FAISS's in-memory copy of the vectors (146 MB
    at 100k chunks). Results are FAISS's: the ``k`` highest scores, ties broken like FAISS, rows
    ``-1`` past the end (tests/test_store.py compares the two).
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.ntotal, self.d = int(vectors.shape[0]), int(vectors.shape[1])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows of every query, best first: ``(scores, rows)``, both ``(nq, k)``."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.d)
        scores_out = np.full((len(queries), k), np.finfo(np.float32).min, dtype=np.float32)
        rows_out = np.full((len(queries), k), -1, dtype=np.int64)
        found = min(k, self.ntotal)
        if found <= 0:
            return scores_out, rows_out
        vectors = np.asarray(self.vectors)
        for q, query in enumerate(queries):
            # einsum, not BLAS: one thread (like FAISS on the question path, no contention), and
            # every row reduced alike, so identical vectors score identically and tie as in FAISS.
            scores = np.einsum("ij,j->i", vectors, query)
            kth = scores[np.argpartition(scores, self.ntotal - found)[self.ntotal - found]]
            rows = np.flatnonzero(scores >= kth)  # every row tied with the k-th one, too
            # Like FAISS's heap: of rows scoring alike the first ones are kept, and listed last first.
            rows = rows[np.lexsort((rows, -scores[rows]))[:found]]
            rows = rows[np.lexsort((-rows, -scores[rows]))]
            scores_out[q, :found], rows_out[q, :found] = scores[rows], rows
        return scores_out, rows_out


def hnsw_ef_search(ntotal: int, setting: int = 0) -> int:
    """The efSearch an HNSW index of ``ntotal`` vectors is searched with.

    FAISS's default (16) gives recall@10 of 0.90 on real MiniLM vectors at 100k, and FAISS does
    not raise it to the number of results asked for. Measured with qa's build settings (M=32,
    efConstruction=80): 256 gives 0.995 at 100k (~1.2 ms); at 1M, 256 gives 0.980 and 1,024
    gives 0.9985 (3.9 ms) — so it grows with the index (benchmarks/RESULTS-speed.md).

    Args:
        ntotal: Vectors in the index.
        setting: ``Settings.hnsw_ef_search``: a positive value is used as it is; 0 = automatic.

    Returns:
        ``setting`` when positive, else ``max(256, min(2048, ntotal // 1000))``.
    """
    if setting > 0:
        return setting
    return max(256, min(2048, ntotal // 1000))


class LoadedIndex:
    """A generation read from disk. Arrays are memory-mapped; texts are decoded on demand.

    Args:
        folder: The generation's folder.
        hnsw_ef_search: efSearch for an HNSW index (0 = automatic, see :func:`hnsw_ef_search`).
    """

    def __init__(self, folder: Path, hnsw_ef_search: int = 0) -> None:
        self.folder = folder
        self.hnsw_ef_search = hnsw_ef_search
        self._words: tuple[frozenset[str], dict[int, list[str]]] | None = None
        self._words_lock = threading.Lock()
        try:
            self.manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(folder, _unreadable("manifest.json", exc)) from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise CorruptIndexError(folder, "it was not written by this version of qa")

        def array(name: str, mapped: bool = True) -> np.ndarray:
            # numpy's own message for a damaged file advises loading it as a pickle: name the file instead.
            try:
                return np.load(folder / name, mmap_mode="r" if mapped else None)
            except (OSError, ValueError, EOFError):
                raise CorruptIndexError(folder, f"{name} is not a valid array file") from None

        self.chunks = array("chunks.npy")
        self.sentences = array("sentences.npy")
        self.chunk_vectors = array("chunk_vectors.npy")
        self.sentence_vectors = array("sentence_vectors.npy")
        self.has_tokens = self.manifest.get("tokens") is not None
        if self.has_tokens:
            self.token_ids = array("token_ids.npy")
            self.token_vectors = array("token_vectors.npy")
            self.token_scales = array("token_scales.npy")
            self.token_offsets = array("token_offsets.npy", mapped=False)
            self._token_mean = array("token_mean.npy", mapped=False)
            self._token_components = array("token_components.npy", mapped=False)
            self.token_df = array("token_df.npy", mapped=False)
        try:
            with open(folder / "texts.bin", "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                self._texts = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except (OSError, ValueError):
            raise CorruptIndexError(folder, "texts.bin is unreadable") from None
        n_chunks, n_sentences = self.manifest.get("chunks"), self.manifest.get("sentences")
        dim = self.manifest.get("dimension")
        if (
            self.chunks.dtype != CHUNK_DTYPE
            or self.sentences.dtype != SENTENCE_DTYPE
            or len(self.chunks) != n_chunks
            or len(self.sentences) != n_sentences
            or self.chunk_vectors.shape != (n_chunks, dim)
            or self.sentence_vectors.shape != (n_sentences, dim)
        ):
            raise CorruptIndexError(folder, "its files disagree with its manifest")
        if self.has_tokens:
            n_tokens = self.manifest["tokens"]
            if (
                self.token_ids.shape != (n_tokens,)
                or self._token_mean.shape != (dim,)
                or self._token_components.ndim != 2
                or self._token_components.shape[1] != dim
                or self.token_vectors.shape != (n_tokens, self._token_components.shape[0])
                or self.token_vectors.dtype != np.int8
                or self.token_ids.dtype != np.int32
                or self.token_scales.dtype != np.float16
                or self.token_offsets.dtype != np.int64
                or self.token_df.ndim != 1
                or self.token_df.dtype != np.int32
                or not np.isfinite(self._token_mean).all()
                or not np.isfinite(self._token_components).all()
                or self.token_scales.shape != (n_tokens,)
                or self.token_offsets.shape != (n_chunks + 1,)
                or (n_chunks and (int(self.token_offsets[0]) != 0 or int(self.token_offsets[-1]) != n_tokens))
                or bool(np.any(np.diff(self.token_offsets) < 0))
            ):
                raise CorruptIndexError(folder, "its token files disagree with its manifest")

    @cached_property
    def token_codec(self):
        """How the token vectors were projected (:class:`qa.late_interaction.TokenCodec`)."""
        from qa.late_interaction import TokenCodec

        if not self.has_tokens:
            return None
        return TokenCodec(self._token_mean.astype(np.float32), self._token_components.astype(np.float32))

    @cached_property
    def documents(self) -> list[DocEntry]:
        try:
            raw = json.loads((self.folder / "documents.json").read_text("utf-8"))
            return [DocEntry(**{**d, "chunks": tuple(d["chunks"]), "sentences": tuple(d["sentences"]),
                                "text_bytes": tuple(d["text_bytes"])}) for d in raw]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise CorruptIndexError(self.folder, _unreadable("documents.json", exc)) from None

    @cached_property
    def sections(self) -> list[str]:
        try:
            return json.loads((self.folder / "sections.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(self.folder, _unreadable("sections.json", exc)) from None

    @cached_property
    def faiss_index(self):
        """What dense candidates are searched with: a :class:`FlatSearch` over ``chunk_vectors``
        for exact search, else the FAISS graph from ``chunks.faiss``."""
        if self.manifest.get("index_type", "flat") == "flat":
            # Indexes written before exact search moved to numpy also hold a chunks.faiss: unused.
            return FlatSearch(self.chunk_vectors)
        import faiss

        try:
            index = faiss.read_index(str(self.folder / "chunks.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            raise CorruptIndexError(self.folder, "chunks.faiss is unreadable") from None
        if index.ntotal != len(self.chunks) or index.d != self.manifest["dimension"]:
            raise CorruptIndexError(self.folder, "chunks.faiss disagrees with the manifest")
        # One query at a time: OpenMP threads only contend on 2 cores (100k flat: 15 ms vs 55 ms
        # with 2 threads under load, benchmarks/RESULTS-speed.md); HNSW gains nothing from more.
        faiss.omp_set_num_threads(1)
        if hasattr(index, "hnsw"):
            # Set on every open, so indexes built before this rule get it too.
            index.hnsw.efSearch = hnsw_ef_search(index.ntotal, self.hnsw_ef_search)
        return index

    @cached_property
    def keyword(self):
        from qa.keyword import KeywordIndex

        try:
            keyword = KeywordIndex.load(self.folder / "bm25")
        except Exception as exc:  # bm25s raises assorted errors on damaged files
            raise CorruptIndexError(self.folder, f"bm25 is unreadable ({exc.__class__.__name__})") from None
        if keyword.size != len(self.chunks):
            raise CorruptIndexError(self.folder, "bm25 disagrees with the manifest")
        return keyword

    @property
    def words(self) -> frozenset[str]:
        """The documents' distinct words, lower-cased, as written (for :mod:`qa.spelling`): read
        once from the texts, document by document, on the first question that needs them."""
        return self._vocabulary()[0]

    @property
    def words_by_length(self) -> dict[int, list[str]]:
        """:attr:`words` grouped by length, sorted (a correction compares words of a length within reach)."""
        return self._vocabulary()[1]

    def _vocabulary(self) -> tuple[frozenset[str], dict[int, list[str]]]:
        if self._words is None:
            with self._words_lock:  # the bot's threads: one build, the others wait for it
                if self._words is None:
                    from qa.keyword import split_words

                    words: set[str] = set()
                    for doc in range(len(self.documents)):  # not document_text: its cache serves answers
                        words.update(split_words(self._read_text(doc)))
                    by_length: dict[int, list[str]] = {}
                    for word in sorted(words):
                        by_length.setdefault(len(word), []).append(word)
                    self._words = (frozenset(words), by_length)
        return self._words

    def check(self) -> None:
        """Open every part once, so corruption shows up now rather than mid-question."""
        _ = self.documents, self.sections, self.faiss_index, self.keyword
        # A cut or replaced texts.bin would quote the wrong bytes (or fail to decode) mid-answer.
        if max((d.text_bytes[1] for d in self.documents), default=0) != len(self._texts):
            raise CorruptIndexError(self.folder, "texts.bin disagrees with documents.json")
        if self.has_tokens and len(self.token_ids):
            # Ids past the vocabulary counted in token_df would make the next build's count huge.
            low, high = int(np.min(self.token_ids)), int(np.max(self.token_ids))
            if low < 0 or high >= len(self.token_df):
                raise CorruptIndexError(self.folder, "token_ids.npy holds ids outside the vocabulary")

    @lru_cache(maxsize=256)  # noqa: B019 - one LoadedIndex lives as long as its generation
    def document_text(self, doc: int) -> str:
        return self._read_text(doc)

    def _read_text(self, doc: int) -> str:
        """A document's text, decoded from the texts file (uncached: :meth:`document_text` caches)."""
        start, end = self.documents[doc].text_bytes
        return bytes(self._texts[start:end]).decode("utf-8")

    def chunk_text(self, row: int) -> str:
        chunk = self.chunks[row]
        return self.document_text(int(chunk["doc"]))[int(chunk["start"]) : int(chunk["end"])]

    def chunk_index_text(self, row: int) -> str:
        """A chunk's text as keyword-indexed: its section, then the cleaned text."""
        from qa.chunking import passage_index_text

        return passage_index_text(self.sections[int(self.chunks[row]["section"])], self.chunk_text(row))

    def sentence_text(self, row: int) -> str:
        sentence = self.sentences[row]
        return self.document_text(int(sentence["doc"]))[int(sentence["start"]) : int(sentence["end"])]


class IndexFolder:
    """The ``index/`` folder: which generation is current, atomic swaps, locking, clean-up."""

    def __init__(self, root: Path, hnsw_ef_search: int = 0) -> None:
        self.root = root
        self.hnsw_ef_search = hnsw_ef_search  # handed to every LoadedIndex

    def current_name(self) -> str | None:
        """Name of the active generation, or ``None`` when nothing was built yet."""
        try:
            name = (self.root / CURRENT).read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptIndexError(self.root, f"{CURRENT} cannot be read ({exc.strerror})") from None
        if not name.startswith("gen-") or "/" in name or not (self.root / name).is_dir():
            raise CorruptIndexError(self.root, f"{CURRENT} does not name a generation")
        return name

    def signature(self) -> tuple[int, int] | None:
        """Changes whenever a build swaps in a new generation (cheap: one ``stat``)."""
        try:
            st = (self.root / CURRENT).stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    def load(self) -> LoadedIndex | None:
        """The active generation, or ``None`` when there is none.

        Raises:
            CorruptIndexError: When the index exists but cannot be trusted.
        """
        name = self.current_name()
        return None if name is None else LoadedIndex(self.root / name, self.hnsw_ef_search)

    def foreign_entries(self) -> list[str]:
        """Top-level entries qa did not write (reported by ``qa stats``; never deleted)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir()
            if p.name not in _KNOWN and not p.name.startswith(("gen-", ".tmp-"))
        )

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock: two builds at once would waste work, not corrupt the index."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("another build is running; waiting for it")
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, gen: Generation) -> Path:
        """Write a generation and make it current, atomically.

        Returns:
            The folder of the new generation.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            offset = 0
            with open(tmp / "texts.bin", "wb") as fh:
                for doc, data in zip(gen.documents, gen.texts, strict=True):
                    doc.text_bytes = (offset, offset + len(data))
                    fh.write(data)
                    offset += len(data)
            _write_json(tmp / "documents.json", [asdict(d) for d in gen.documents])
            _write_json(tmp / "sections.json", gen.sections)
            np.save(tmp / "chunks.npy", gen.chunks)
            np.save(tmp / "sentences.npy", gen.sentences)
            np.save(tmp / "chunk_vectors.npy", gen.chunk_vectors)
            np.save(tmp / "sentence_vectors.npy", gen.sentence_vectors)
            if gen.token_vectors is not None:
                np.save(tmp / "token_ids.npy", gen.token_ids)
                np.save(tmp / "token_vectors.npy", gen.token_vectors)
                np.save(tmp / "token_scales.npy", gen.token_scales)
                np.save(tmp / "token_offsets.npy", gen.token_offsets)
                np.save(tmp / "token_mean.npy", gen.token_mean)
                np.save(tmp / "token_components.npy", gen.token_components)
                np.save(tmp / "token_df.npy", gen.token_df)
            if gen.faiss_index is not None:
                import faiss

                faiss.write_index(gen.faiss_index, str(tmp / "chunks.faiss"))
            gen.keyword.save(tmp / "bm25")
            # The manifest goes last: a generation without one is never taken for complete.
            _write_json(tmp / "manifest.json", gen.manifest)
            _fsync_tree(tmp)
            final = self.root / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.root / f"{CURRENT}.tmp"
        pointer.write_text(final.name + "\n", "utf-8")
        _fsync_file(pointer)
        os.replace(pointer, self.root / CURRENT)
        _fsync_file(self.root)
        self._clean(keep={final.name})
        return final

    def _clean(self, keep: set[str]) -> None:
        """Remove leftovers of killed builds and generations older than the previous one.

        The previous generation is kept: a reader that loaded it a moment ago may still be
        opening its files.
        """
        gens = sorted((p for p in self.root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime_ns)
        doomed = [p for p in gens[:-2] if p.name not in keep]
        doomed += [p for p in self.root.glob(".tmp-*") if not _alive(p.name)]
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)


def _alive(tmp_name: str) -> bool:
    """Whether the build that owns a ``.tmp-<pid>-…`` folder is still running."""
    try:
        pid = int(tmp_name.split("-")[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unreadable(name: str, exc: Exception) -> str:
    """What is wrong with one of the index's JSON files, named (not the parser's position in it)."""
    if isinstance(exc, OSError):
        return f"{name} cannot be read ({exc.strerror or exc.__class__.__name__})"
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return f"{name} is not valid JSON"
    return f"{name} does not hold what qa writes"


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    _fsync_file(folder)


def require(index: LoadedIndex | None, root: Path) -> LoadedIndex:
    """The index, or a one-line error telling how to build it."""
    if index is None:
        raise QAError(f"no index in {root}; run `python -m qa build`")
    return index
