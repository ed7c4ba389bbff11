"""Build the index from the documents, incrementally.

Files whose content hash is unchanged keep their chunks, sentences and vectors from the
previous generation; only new or edited files are chunked and embedded. A change of model or
chunking parameters, a corrupt previous index, or ``full=True`` re-embeds everything.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import store
from qa.chunking import ChunkedDocument, chunk_document, line_starts, passage_index_text
from qa.documents import Document, SkippedFile, decode
from qa.embedding import Embedder, token_counter
from qa.errors import CorruptIndexError
from qa.late_interaction import TOKEN_DIMENSIONS, TokenCodec, can_fit, document_frequency
from qa.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    full: bool = False
    reason: str = ""  # why a full rebuild happened
    chunks: int = 0
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    seconds: float = 0.0
    written: bool = False

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def manifest_for(settings: Settings, embedder: Embedder) -> dict:
    return {
        "format": store.FORMAT,
        "model": settings.model,
        "dimension": embedder.dimension,
        "params": settings.chunk_params,
    }


def settings_changed(settings: Settings, index: store.LoadedIndex) -> bool:
    """Whether the index was built with other chunking or embedding settings (the next build
    re-embeds everything; until then its vectors are not those the settings ask for) — or with
    token vectors the next build will redo: missing, or kept whole by a first build too small to
    fit their projection on, now that the corpus has grown enough (:func:`_projection_due`)."""
    if index.manifest.get("params") != settings.chunk_params:
        return True
    return settings.token_vectors and (not index.has_tokens or _projection_due(index))


def is_stale(settings: Settings, index: store.LoadedIndex) -> bool:
    """Whether the next build would change the index: other settings, or other documents."""
    return settings_changed(settings, index) or docs_changed(settings, index)


def _compatible(old: store.LoadedIndex, manifest: dict) -> str:
    """Why the old index cannot be reused ("" when it can)."""
    if old.manifest.get("params") != manifest["params"] or old.manifest.get("dimension") != manifest["dimension"]:
        return "model, chunking or token-vector settings changed"
    if manifest["params"].get("token_vectors") and not old.has_tokens:  # its token vectors are needed
        return "the previous index has no token vectors"
    if old.has_tokens and _projection_due(old):
        return "the token vectors can now be projected (enough of them)"
    return ""


def _projection_due(index: store.LoadedIndex) -> bool:
    """Whether an index whose first build was too small to fit the token projection (whole 384-dim
    vectors) has grown enough to fit it: one full rebuild then shrinks its token vectors 4×."""
    return index.token_codec.dimensions > TOKEN_DIMENSIONS and can_fit(index.manifest["tokens"])


def _faiss_index(vectors: np.ndarray, hnsw_threshold: int):
    """An HNSW graph over ``vectors`` when there are more than ``hnsw_threshold``, else ``None``.

    Up to the threshold questions are answered by exact search over the saved vectors
    (:class:`qa.store.FlatSearch`, ~0.1 µs per vector per question: ~5 ms at the default 50k).
    """
    if len(vectors) <= hnsw_threshold:
        return None
    import faiss

    # Beyond, a graph (efSearch is set when it is opened: qa.store.hnsw_ef_search).
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    # Questions run FAISS on one thread (qa.store.LoadedIndex.faiss_index); building the graph
    # is worth every core. The setting is process-wide (the bot builds and answers in one
    # process), so it goes back to one thread afterwards.
    faiss.omp_set_num_threads(_cores())
    try:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(1)
    return index


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def build(
    settings: Settings,
    documents: list[Document],
    skipped: list[SkippedFile],
    embedder: Embedder,
    folder: store.IndexFolder,
    full: bool = False,
    progress: bool = False,
) -> BuildReport:
    """Bring the index in ``folder`` up to date with ``documents``.

    Args:
        settings: Chunking and index settings.
        documents: Every document to index (from :func:`qa.documents.scan`).
        skipped: Files the scan skipped, passed through to the report.
        embedder: Encodes new chunks and sentences.
        folder: Where the index lives.
        full: Re-embed everything even when the old index could be reused.
        progress: Show a progress bar while embedding.

    Returns:
        What changed. When nothing changed, no new generation is written.
    """
    began = time.perf_counter()
    report = BuildReport(skipped=skipped)
    manifest = manifest_for(settings, embedder)
    loaded: store.LoadedIndex | None = None
    try:
        candidate = folder.load()
        if candidate is not None:
            candidate.check()
        loaded = candidate
    except CorruptIndexError as exc:
        # The report says it (one line for whoever runs the build), with what was wrong.
        logger.info("%s; rebuilding it from scratch", exc)
        report.reason = f"the previous index was unreadable ({exc.detail})"
    old = loaded
    if full:
        report.reason, old = "--full", None
    elif old is not None:
        report.reason = _compatible(old, manifest)
        if report.reason:
            old = None
    report.full = old is None
    reuse = {} if old is None else {d.path: (i, d) for i, d in enumerate(old.documents)}
    before = {} if loaded is None else {d.path: d.sha256 for d in loaded.documents}

    report.removed = sorted(set(before) - {d.path for d in documents})
    to_chunk: list[Document] = []
    for doc in documents:
        if doc.path in reuse and reuse[doc.path][1].sha256 == doc.sha256:
            report.unchanged += 1
            continue
        to_chunk.append(doc)
        if doc.path not in before:
            report.added.append(doc.path)
        elif before[doc.path] != doc.sha256:
            report.changed.append(doc.path)
        else:  # same content, re-embedded by a full rebuild
            report.unchanged += 1

    if old is not None and not report.changes:
        report.chunks = len(old.chunks)
        report.seconds = time.perf_counter() - began
        return report

    # Chunk and embed only what is new; sentences and chunks in one length-sorted pass.
    count = token_counter(embedder.model_dir)
    chunked = {
        doc.path: chunk_document(doc, count, settings.chunk_tokens, settings.overlap_sentences)
        for doc in to_chunk
    }
    texts: list[str] = []
    is_chunk: list[bool] = []
    for cd in chunked.values():
        texts += [cd.chunk_index_text(c) for c in cd.chunks]
        texts += [cd.sentence_index_text(s, settings.sentence_context) for s in cd.sentences]
        is_chunk += [True] * len(cd.chunks) + [False] * len(cd.sentences)
    show = progress and len(texts) > 16
    codec = None
    if settings.token_vectors:  # chunks' token vectors come out of the same forward pass
        codec = old.token_codec if old is not None else _fit_codec(embedder, [t for t, c in zip(texts, is_chunk, strict=True) if c])
        vectors, tokens = embedder.encode_with_tokens(texts, is_chunk, progress=show, codec=codec)
    else:
        vectors, tokens = embedder.encode(texts, progress=show), None
    report.embedded_chunks = sum(len(cd.chunks) for cd in chunked.values())
    report.embedded_sentences = sum(len(cd.sentences) for cd in chunked.values())

    gen = _assemble(settings, documents, chunked, vectors, tokens, codec, old, reuse, manifest)
    report.chunks = len(gen.chunks)
    folder.write(gen)
    report.written = True
    report.seconds = time.perf_counter() - began
    return report


def _assemble(settings, documents, chunked, vectors, tokens, codec, old, reuse, manifest) -> store.Generation:
    sections: dict[str, int] = {}
    entries: list[store.DocEntry] = []
    texts: list[bytes] = []
    chunk_rows: list[np.ndarray] = []
    sentence_rows: list[np.ndarray] = []
    chunk_vecs: list[np.ndarray] = []
    sent_vecs: list[np.ndarray] = []
    keyword_texts: list[str] = []
    # Per document (in row order): its chunks' token ids, int8 vectors, scales, and pieces per
    # chunk (settings.token_vectors).
    doc_tokens: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    n_chunks = n_sentences = 0
    cursor = 0  # position in `vectors` of the next new document's chunk vectors

    for doc_id, doc in enumerate(documents):
        cd: ChunkedDocument | None = chunked.get(doc.path)
        if cd is None:  # unchanged: copy rows and vectors from the old generation
            old_id, entry = reuse[doc.path]
            c0, c1 = entry.chunks
            s0, s1 = entry.sentences
            crows = np.array(old.chunks[c0:c1])
            crows["section"] = [sections.setdefault(old.sections[k], len(sections)) for k in crows["section"]]
            srows = np.array(old.sentences[s0:s1])
            crows["first"] += n_sentences - s0
            crows["last"] += n_sentences - s0
            chunk_vecs.append(np.asarray(old.chunk_vectors[c0:c1]))
            sent_vecs.append(np.asarray(old.sentence_vectors[s0:s1]))
            if settings.token_vectors:  # same params, so the old index has them (_compatible)
                t0, t1 = int(old.token_offsets[c0]), int(old.token_offsets[c1])
                doc_tokens.append((np.asarray(old.token_ids[t0:t1]), np.asarray(old.token_vectors[t0:t1]),
                                   np.asarray(old.token_scales[t0:t1]), np.diff(old.token_offsets[c0 : c1 + 1])))
            text = old.document_text(old_id)
            keyword_texts += [_keyword_text(old.sections[int(old.chunks[r]["section"])], text, old.chunks[r])
                              for r in range(c0, c1)]
        else:
            text = doc.text
            starts = line_starts(text)
            nc, ns = len(cd.chunks), len(cd.sentences)
            crows = np.zeros(nc, dtype=store.CHUNK_DTYPE)
            for r, chunk in enumerate(cd.chunks):
                start, end = cd.chunk_span(chunk)
                crows[r] = (doc_id, n_sentences + chunk.first, n_sentences + chunk.last, start, end,
                            bisect.bisect_right(starts, start), bisect.bisect_right(starts, max(start, end - 1)),
                            sections.setdefault(chunk.section, len(sections)))
            srows = np.zeros(ns, dtype=store.SENTENCE_DTYPE)
            srows["start"] = [s.start for s in cd.sentences]
            srows["end"] = [s.end for s in cd.sentences]
            chunk_vecs.append(vectors[cursor : cursor + nc])
            if tokens is not None:
                own = tokens[cursor : cursor + nc]
                doc_tokens.append((*(np.concatenate([t[k] for t in own]) if own else None for k in range(3)),
                                   np.array([len(t[0]) for t in own], dtype=np.int64)))
            sent_vecs.append(vectors[cursor + nc : cursor + nc + ns])
            cursor += nc + ns
            keyword_texts += [cd.chunk_index_text(c) for c in cd.chunks]
        crows["doc"] = doc_id
        srows["doc"] = doc_id
        path = settings.docs_dir / doc.path
        try:
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        entries.append(store.DocEntry(
            doc.path, doc.sha256, size, mtime,
            (n_chunks, n_chunks + len(crows)), (n_sentences, n_sentences + len(srows)), (0, 0),
        ))
        texts.append(text.encode("utf-8"))
        chunk_rows.append(crows)
        sentence_rows.append(srows)
        n_chunks += len(crows)
        n_sentences += len(srows)

    dim = manifest["dimension"]
    chunk_vectors = np.concatenate(chunk_vecs) if chunk_vecs else np.zeros((0, dim), np.float32)
    from qa.keyword import KeywordIndex

    token_parts: dict[str, np.ndarray | None] = {}
    extra: dict[str, int] = {}
    if settings.token_vectors:
        doc_tokens = [d for d in doc_tokens if len(d[3])]  # a document without chunks holds none
        counts = np.concatenate([d[3] for d in doc_tokens] or [np.zeros(0, np.int64)])
        token_parts = {
            "token_ids": np.concatenate([d[0] for d in doc_tokens] or [np.zeros(0, np.int32)]).astype(np.int32),
            "token_vectors": np.concatenate([d[1] for d in doc_tokens] or [np.zeros((0, codec.dimensions), np.int8)]),
            "token_scales": np.concatenate([d[2] for d in doc_tokens] or [np.zeros(0, np.float16)]),
            "token_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "token_mean": codec.mean,
            "token_components": codec.components,
        }
        # Chunks per word piece, for the IDF weights: counted here, not on the first question.
        token_parts["token_df"] = document_frequency(token_parts["token_ids"], token_parts["token_offsets"])
        extra["tokens"] = int(sum(counts))
    return store.Generation(
        manifest={**manifest, "chunks": n_chunks, "sentences": n_sentences, "documents": len(entries),
                  "built_at": time.time(), "index_type": "hnsw" if n_chunks > settings.hnsw_threshold else "flat",
                  **extra},
        documents=entries,
        sections=sorted(sections, key=sections.__getitem__),
        texts=texts,
        chunks=np.concatenate(chunk_rows),
        sentences=np.concatenate(sentence_rows),
        chunk_vectors=chunk_vectors.astype(np.float32, copy=False),
        sentence_vectors=np.concatenate(sent_vecs).astype(np.float32, copy=False),
        faiss_index=_faiss_index(chunk_vectors, settings.hnsw_threshold),
        keyword=KeywordIndex.build(keyword_texts),
        **token_parts,
    )


#: Chunks whose token vectors fit the projection of a full build (spread over the corpus).
_CODEC_SAMPLE_CHUNKS = 64


def _fit_codec(embedder: Embedder, chunk_texts: list[str]) -> TokenCodec:
    """The token projection of a full build, fitted on up to 64 chunks spread over the corpus
    (~9,000 tokens; one more pass over them, ~1.5 s, instead of holding every token as float32)."""
    picks = np.unique(np.linspace(0, len(chunk_texts) - 1, min(_CODEC_SAMPLE_CHUNKS, len(chunk_texts))).astype(int))
    _, sample = embedder.encode_with_tokens([chunk_texts[i] for i in picks]) if len(chunk_texts) else (None, [])
    vectors = [v for _, v in sample if len(v)]
    return TokenCodec.fit(np.concatenate(vectors) if vectors else np.zeros((0, embedder.dimension), np.float32))


def _keyword_text(section: str, text: str, row) -> str:
    return passage_index_text(section, text[int(row["start"]) : int(row["end"])])


def docs_changed(settings: Settings, index: store.LoadedIndex) -> bool:
    """Whether the documents folder differs from what the index was built from.

    Cheap: compares the file list, sizes and modification times; hashes a file only when its
    size or time changed (an editor may rewrite a file with the same content).
    """
    from qa.documents import SUPPORTED_SUFFIXES, file_hash

    docs_dir = settings.docs_dir
    if not docs_dir.is_dir():
        return True
    indexed = {d.path: d for d in index.documents}
    seen = 0
    for root, dirs, files in os.walk(docs_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(SUPPORTED_SUFFIXES):
                continue
            full = Path(root) / name
            rel = full.relative_to(docs_dir).as_posix()
            entry = indexed.get(rel)
            try:
                st = full.stat()
            except OSError:
                continue
            if entry is None:
                # A new file counts unless it is one the build skips (empty or not UTF-8).
                if st.st_size and _readable(full):
                    return True
                continue
            seen += 1
            if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns:
                if file_hash(full.read_bytes()) != entry.sha256:
                    return True
    return seen != len(indexed)


def _readable(path: Path) -> bool:
    """Whether the file is a document :func:`qa.documents.scan` would index (the same checks)."""
    try:
        return decode(path.read_bytes())[0] is not None
    except OSError:
        return False
