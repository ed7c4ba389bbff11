"""Split documents into sentences and sentence-aligned chunks with provenance.

Sentences come from pysbd. A chunk is a run of whole sentences of one section, bounded in the
embedding model's word pieces so that nothing is truncated when it is embedded; consecutive chunks
share ``overlap`` whole sentences. A sentence longer than the bound on its own is split at word
boundaries into parts, so no text is ever silently cut off.

Offsets are character offsets into :attr:`qa.documents.Document.text`; ``text[start:end]`` is the
exact source text of a sentence or chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa.documents import Document

#: Counts word pieces of each text, without the [CLS]/[SEP] pair.
TokenCounter = Callable[[Sequence[str]], list[int]]

#: Word pieces reserved for [CLS], [SEP] and the section prefix of a chunk.
_SPECIAL_TOKENS = 2
_MAX_PREFIX_TOKENS = 40

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Infobox-style fields run together in scraped text ("D.C.Embassy", "DarchievAmbassador"): the
# index text gets a space there so both words are found; citations keep the original.
_RUN_TOGETHER = re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z]{2})|(?<=[A-Z]\.)(?=[A-Z][a-z]{2})")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Sentence:
    """A sentence (or a part of an over-long one) of a document.

    Attributes:
        start: Offset of its first character in the document text.
        end: Offset just past its last character.
        section: Heading path of the section it is in ("" when none).
        block: Index of the paragraph it belongs to (chunks prefer to break between paragraphs).
    """

    start: int
    end: int
    section: str
    block: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences ``sentences[first:last + 1]`` of one document."""

    first: int
    last: int
    section: str


@dataclass(frozen=True)
class ChunkedDocument:
    """A document cut into sentences and chunks, with the texts to embed."""

    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]

    def chunk_span(self, chunk: Chunk) -> tuple[int, int]:
        """Character offsets of a chunk in the document text."""
        return self.sentences[chunk.first].start, self.sentences[chunk.last].end

    def chunk_text(self, chunk: Chunk) -> str:
        start, end = self.chunk_span(chunk)
        return self.document.text[start:end]

    def chunk_index_text(self, chunk: Chunk) -> str:
        """What is embedded and keyword-indexed for a chunk: section prefix plus cleaned text."""
        return _chunk_index_text(self.document.text, self.sentences, chunk.first, chunk.last, chunk.section)

    def sentence_index_text(self, sentence: Sentence, with_section: bool = True) -> str:
        """What is embedded for a sentence: its section prefix (``with_section``) plus cleaned text."""
        text = self.document.text[sentence.start : sentence.end]
        return passage_index_text(sentence.section, text) if with_section else index_text(text)


def run_together_parts(text: str) -> list[str]:
    """A line cut where fields ran together ("… DarchievAmbassador …" → two parts)."""
    return [part.strip() for part in _RUN_TOGETHER.split(text) if part.strip()]


def index_text(text: str) -> str:
    """Text as embedded and keyword-indexed: run-together fields split, whitespace collapsed."""
    return _SPACES.sub(" ", _RUN_TOGETHER.sub(" ", text)).strip()


@lru_cache(maxsize=1)
def _segmenter():  # pysbd builds its rules once; reuse the segmenter across documents
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    section: str
    prose: bool  # True: lines are wrapped prose; False: each line stands alone (lists, infoboxes)


def _blocks(doc: Document) -> list[_Block]:
    """Paragraphs (runs of non-blank lines) with their section, headings and fences excluded."""
    text = doc.text
    blocks: list[_Block] = []
    headings: list[tuple[int, str]] = []
    section = ""
    para: list[tuple[int, int]] = []  # (start, end) of each line of the current paragraph
    in_fence = False
    first_line = True

    def flush(prose: bool = True) -> None:
        if para:
            lines = [text[s:e] for s, e in para]
            wrapped = prose and len(para) > 1 and all(len(line.strip()) >= 50 for line in lines[:-1])
            blocks.append(_Block(para[0][0], para[-1][1], section, wrapped or len(para) == 1))
            para.clear()

    pos = 0
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        end = start + len(line.rstrip("\r\n"))
        stripped = line.strip()
        if doc.is_markdown and _FENCE.match(line):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            if stripped:
                para.append((start, end))
                flush(prose=False)
            continue
        heading = _HEADING.match(stripped) if doc.is_markdown else None
        if heading:
            flush()
            level = len(heading.group(1))
            headings = [h for h in headings if h[0] < level] + [(level, heading.group(2).strip())]
            section = " > ".join(h[1] for h in headings)
            first_line = False
            continue
        if not stripped:
            flush()
            continue
        # A plain-text file whose first line is a short title followed by a blank line: the
        # title names the section of everything under it, like a Markdown heading.
        if first_line and not doc.is_markdown:
            following = text[pos:].splitlines()
            if len(stripped) <= 80 and not stripped.endswith((".", "!", "?", ":")) and (
                following and not following[0].strip()
            ):
                section = stripped
                first_line = False
                continue
        first_line = False
        para.append((start, end))
    flush()
    return blocks


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_label(line: str) -> bool:
    """A short field name on its own line ("Envoy", "Diplomatic mission")."""
    return len(line.split()) <= 3 and not line.rstrip().endswith((".", "!", "?", ":", ";", ","))


def _block_sentences(text: str, block: _Block) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if block.prose:
        # Newlines inside wrapped prose become spaces for the segmenter; offsets stay the same.
        chunk = text[block.start : block.end].replace("\r", " ").replace("\n", " ")
        cursor = 0
        for piece in _segmenter().segment(chunk):
            found = chunk.find(piece.sent, cursor) if chunk[piece.start : piece.end] != piece.sent else piece.start
            if found < 0:  # pysbd normalised something: fall back to its own span
                found = piece.start
            cursor = found + len(piece.sent)
            s, e = _trim(text, block.start + found, block.start + cursor)
            if s < e:
                spans.append((s, e))
        return spans
    # Line mode: every line is a sentence; a label line is joined to the value line after it.
    pos = block.start
    lines: list[tuple[int, int]] = []
    for line in text[block.start : block.end].splitlines(keepends=True):
        s, e = _trim(text, pos, pos + len(line))
        pos += len(line)
        if s < e:
            lines.append((s, e))
    i = 0
    while i < len(lines):
        s, e = lines[i]
        if _is_label(text[s:e]) and i + 1 < len(lines) and not _is_label(text[slice(*lines[i + 1])]):
            spans.append((s, lines[i + 1][1]))
            i += 2
        else:
            spans.append((s, e))
            i += 1
    return spans


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries into parts of at most ``budget`` word pieces."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    sizes = count([text[s:e] for s, e in words])
    parts: list[tuple[int, int]] = []
    first, used = 0, 0
    for i, size in enumerate(sizes):
        if used + size > budget and i > first:
            parts.append((words[first][0], words[i - 1][1]))
            first, used = i, 0
        if size > budget:  # a single "word" longer than the budget (a URL, a hash): cut by chars
            s, e = words[i]
            step = max(1, (e - s) * budget // (size + 1))
            for cut in range(s, e, step):
                parts.append((cut, min(e, cut + step)))
            first, used = i + 1, 0
            continue
        used += size
    if first < len(words):
        parts.append((words[first][0], words[-1][1]))
    return parts


def chunk_document(
    doc: Document, count: TokenCounter, max_tokens: int = 200, overlap: int = 1
) -> ChunkedDocument:
    """Cut a document into sentences and chunks.

    Args:
        doc: The document.
        count: Counts word pieces of texts (see :data:`TokenCounter`).
        max_tokens: Upper bound of a chunk's embedded text, in word pieces, special tokens included.
        overlap: Whole sentences shared by consecutive chunks.

    Returns:
        The chunked document.
    """
    text = doc.text
    sentences: list[Sentence] = []
    fitted: dict[str, str] = {}
    for b, block in enumerate(_blocks(doc)):
        if block.section not in fitted:
            fitted[block.section] = _fit_section(block.section, count)
        for s, e in _block_sentences(text, block):
            sentences.append(Sentence(s, e, fitted[block.section], b))

    sections = sorted({s.section for s in sentences})
    prefix_tokens = dict(zip(sections, count(sections), strict=True)) if sections else {}
    body_budget = max_tokens - _SPECIAL_TOKENS - _MAX_PREFIX_TOKENS
    # Sentences over the budget are split into parts before chunking.
    sizes = count([index_text(text[s.start : s.end]) for s in sentences])
    split: list[Sentence] = []
    split_sizes: list[int] = []
    for sentence, size in zip(sentences, sizes, strict=True):
        if size <= body_budget:
            split.append(sentence)
            split_sizes.append(size)
            continue
        parts = _split_long(text, sentence.start, sentence.end, body_budget, count)
        part_sizes = count([index_text(text[s:e]) for s, e in parts])
        for (s, e), part_size in zip(parts, part_sizes, strict=True):
            split.append(Sentence(s, e, sentence.section, sentence.block))
            split_sizes.append(part_size)
    sentences, sizes = split, split_sizes

    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        section = sentences[i].section
        budget = max_tokens - _SPECIAL_TOKENS - min(prefix_tokens.get(section, 0) + 1, _MAX_PREFIX_TOKENS)
        used = sizes[i]
        j = i
        while j + 1 < len(sentences) and sentences[j + 1].section == section:
            nxt = sentences[j + 1]
            if used + sizes[j + 1] > budget:
                break
            # Prefer to end a chunk at a paragraph break once it is reasonably full.
            if nxt.block != sentences[j].block and used >= budget // 2:
                break
            used += sizes[j + 1]
            j += 1
        # Per-sentence counts are an estimate of the joined text's count (word pieces can merge
        # across a boundary): check the real text and give back sentences while it is over.
        while j > i and count([_chunk_index_text(text, sentences, i, j, section)])[0] + _SPECIAL_TOKENS > max_tokens:
            j -= 1
        chunks.append(Chunk(i, j, section))
        if j + 1 >= len(sentences):
            break
        # Next chunk starts `overlap` sentences back, but always moves forward, and only overlaps
        # within the same paragraph and section (a repeated heading line helps nobody).
        back = j + 1
        for _ in range(overlap):
            if back - 1 > i and sentences[back - 1].block == sentences[j + 1].block:
                back -= 1
        i = back
    return ChunkedDocument(doc, sentences, chunks)


def passage_index_text(section: str, passage: str) -> str:
    """What is embedded and keyword-indexed for a passage: its section, then its cleaned text."""
    body = index_text(passage)
    return f"{section}\n{body}" if section else body


def _chunk_index_text(text: str, sentences: list[Sentence], first: int, last: int, section: str) -> str:
    return passage_index_text(section, text[sentences[first].start : sentences[last].end])


def _fit_section(section: str, count: TokenCounter) -> str:
    """Shorten a very long heading path so the prefix never crowds out the passage itself."""
    while section and count([section])[0] > _MAX_PREFIX_TOKENS:
        section = section[: len(section) * 3 // 4].rstrip()
    return section


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts; with :func:`bisect.bisect_right` they give line numbers."""
    return [0] + [m.end() for m in re.finditer(r"\n", text)]
