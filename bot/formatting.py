"""Answers → Discord embeds (or plain messages), within every Discord limit.

The engine returns data; this module decides how it looks in Discord:

* The answer sentences, each followed by its ``[n]`` marker, then the numbered sources (file, line
  range, an excerpt with the quoted sentence in bold).
* Every limit holds: 2,000 characters per message, 4,096 per embed description, 256 per title and
  field name, 1,024 per field value, 25 fields and 6,000 characters per embed — and 6,000 across
  all embeds of one message, 10 embeds per message. Text is shortened at sentence, then word
  boundaries; when an answer does not fit in one embed it continues in the next, and a sentence
  travels together with the source its ``[n]`` points to, so a marker is never in one message
  and its source in another.
* All text from documents and questions is escaped: Markdown cannot break the layout or hide a
  link, and ``@everyone``, ``@here``, ``<@…>``, ``<@&…>``, ``<#…>`` are neutralised with a
  zero-width space (on top of ``AllowedMentions.none()``, which the bot sets on every message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from qa.answer import Answer, Citation

# Discord's limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
MESSAGE_CHARS = 2000
TITLE_CHARS = 256
DESCRIPTION_CHARS = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_CHARS = 256
FIELD_VALUE_CHARS = 1024
FOOTER_CHARS = 2048
EMBED_TOTAL_CHARS = 6000
EMBEDS_PER_MESSAGE = 10
MESSAGE_EMBED_CHARS = 6000  # the 6,000 total applies to all embeds of a message together

# Our own budgets, well inside the limits: an answer should read as an answer, not a dump.
SENTENCE_CHARS = 1800  # one quoted sentence (the full passage is behind the Sources button)
CITED_EXCERPT_CHARS = 600
OTHER_EXCERPT_CHARS = 280
FOOTER_BUDGET = 500
TEXT_SENTENCE_CHARS = 900  # plain-text mode: a sentence plus its source must fit in 2,000
MAX_SOURCE_REPLIES = 5  # Sources button: at most this many ephemeral messages

ANSWERED_COLOUR = discord.Colour(0x2E7D32)
NOT_FOUND_COLOUR = discord.Colour(0x9E9E9E)
SOURCES_COLOUR = discord.Colour(0x1565C0)
ELLIPSIS = "…"
ZWSP = "\u200b"
NOT_FOUND_TEXT = "The documents do not contain an answer to this question."

# "@everyone"/"@here" and anything Discord turns into a mention or link: <@id>, <@!id>, <@&role>,
# <#channel>, </command:id>. A zero-width space after the sigil keeps the text readable but inert.
_MENTION = re.compile(r"@(?=(?:everyone|here)\b)|<(?=[@#/])", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


# -- text helpers ---------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe to show in Discord: no Markdown effects, no mentions, no masked links."""
    return _MENTION.sub(lambda m: m.group(0) + ZWSP, discord.utils.escape_markdown(text))


def unescape(text: str) -> str:
    """Undo :func:`escape` (for text read back from a message the bot sent)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(ZWSP, "")  # any escaped ASCII punctuation


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a sentence end if one is near, else a word.

    An ellipsis marks the cut.
    """
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    head = text[:room]
    ends = [m.start() for m in _SENTENCE_END.finditer(head)]
    cut = ends[-1] if ends and ends[-1] >= room // 2 else -1
    if cut < 0:
        space = head.rfind(" ")
        cut = space if space >= room // 2 else room
    return head[:cut].rstrip() + ELLIPSIS


def shorten_start(text: str, limit: int) -> str:
    """Like :func:`shorten` but keeps the end of ``text`` (context before a quoted sentence)."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    tail = text[len(text) - room :]
    starts = [m.end() for m in _SENTENCE_END.finditer(tail)]
    cut = starts[0] if starts and starts[0] <= room // 2 else -1
    if cut < 0:
        space = tail.find(" ")
        cut = space + 1 if 0 <= space <= room // 2 else 0
    return ELLIPSIS + tail[cut:].lstrip()


def fit(text: str, limit: int, *, keep_end: bool = False) -> str:
    """Escaped ``text`` of at most ``limit`` characters (escaping adds backslashes, so shorten first)."""
    budget = limit
    cut = shorten_start if keep_end else shorten
    while True:
        out = escape(cut(text, budget))
        if len(out) <= limit:
            return out
        budget -= max(1, len(out) - limit)


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", text.replace("\r", "")).strip()


def _bold(escaped: str) -> str:
    """Bold that renders: Discord ignores ``** text**``, so whitespace stays outside the markers."""
    core = escaped.strip()
    if not core:
        return escaped
    start = escaped.index(core[0])
    return f"{escaped[:start]}**{core}**{escaped[start + len(core):]}"


def lines_label(citation: Citation) -> str:
    if citation.start_line == citation.end_line:
        return f"line {citation.start_line}"
    return f"lines {citation.start_line}–{citation.end_line}"


def source_label(citation: Citation, limit: int = FIELD_NAME_CHARS) -> str:
    """``[n] source_docs/file.txt · lines 3–13 — Section``, escaped, at most ``limit`` characters.

    The marker and the line range always survive; the path keeps its file name; the section is
    dropped first when space runs out.
    """
    head, tail = f"[{citation.n}] ", f" · {lines_label(citation)}"
    room = limit - len(head) - len(tail)
    path = fit(citation.source, max(room, 1), keep_end=True)
    label = head + path + tail
    if citation.section and len(label) + 4 < limit:
        label += " — " + fit(citation.section, limit - len(label) - 3)
    return label[:limit]


def excerpt(citation: Citation, limit: int) -> str:
    """The passage around its quoted sentences (in bold), escaped, at most ``limit`` characters."""
    text = citation.text
    spans = _merged(citation.highlights, len(text))
    if not spans:
        return fit(_tidy(text), limit)
    a, b = spans[0][0], spans[-1][1]
    quoted = _render(text, spans, a, b)
    if len(quoted) > limit - 2:  # the quote alone is too long: show its start, all in bold
        return _bold(fit(" ".join(text[a:b].split()), limit - 4))
    room = limit - len(quoted)
    before_raw, after_raw = _tidy(text[:a]), _tidy(text[b:])
    before = ""
    if before_raw:
        before = fit(before_raw, room // 3, keep_end=True) if room // 3 > 20 else (ELLIPSIS if room > 4 else "")
    after_room = room - len(before) - (1 if before else 0) - 1
    after = ""
    if after_raw and after_room > 0:
        after = fit(after_raw, after_room) if after_room > 20 else ELLIPSIS
    return before + (" " if before else "") + quoted + (" " if after else "") + after


def _merged(highlights: Iterable[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for start, end in sorted((max(0, int(s)), min(size, int(e))) for s, e in highlights):
        if end <= start:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _render(text: str, spans: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """``text[start:end]`` escaped, with the parts inside ``spans`` in bold."""
    out, pos = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        if s > pos:
            out.append(escape(text[pos:s]))
        out.append(_bold(escape(text[s:e])))
        pos = e
    if pos < end:
        out.append(escape(text[pos:end]))
    return "".join(out)


# -- embeds ---------------------------------------------------------------------------------------


@dataclass
class Field:
    """An embed field, already escaped and within its limits."""

    name: str
    value: str

    def __len__(self) -> int:
        return len(self.name) + len(self.value)


@dataclass
class Draft:
    """An embed under construction: sizes are tracked so every addition can be checked first."""

    title: str = ""
    description: str = ""
    fields: list[Field] = field(default_factory=list)
    footer: str = ""
    colour: discord.Colour = ANSWERED_COLOUR

    def size(self) -> int:
        return len(self.title) + len(self.description) + sum(len(f) for f in self.fields) + len(self.footer)

    def fits(self, text: str = "", fields: Sequence[Field] = (), reserve: int = 0) -> bool:
        """Whether ``text`` (appended to the description) and ``fields`` still fit."""
        return (
            len(self.description) + len(text) <= DESCRIPTION_CHARS
            and len(self.fields) + len(fields) <= FIELDS_PER_EMBED
            and self.size() + len(text) + sum(len(f) for f in fields) + reserve <= EMBED_TOTAL_CHARS
        )

    def to_embed(self) -> discord.Embed:
        embed = discord.Embed(title=self.title or None, description=self.description or None, colour=self.colour)
        for f in self.fields:
            embed.add_field(name=f.name, value=f.value, inline=False)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


@dataclass
class Reply:
    """One Discord message: text and/or embeds, within the per-message limits."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


@dataclass
class _Part:
    """An answer sentence with its marker, and the sources it is the first to cite."""

    text: str
    fields: list[Field]
    n: int


def _parts(answer: Answer, sentence_chars: int, excerpt_chars: int) -> list[_Part]:
    by_n = {c.n: c for c in answer.citations}
    pairs: list[tuple[str, int]] = [(s.text, s.n) for s in answer.sentences]
    if not pairs:  # an answer without sentence records: split its text at the markers
        pos = 0
        for m in re.finditer(r"(.+?)\s*\[(\d+)\](?=\s|$)", answer.answer, re.S):
            pairs.append((m.group(1).strip(), int(m.group(2))))
            pos = m.end()
        if answer.answer[pos:].strip():
            pairs.append((answer.answer[pos:].strip(), 0))
    parts, shown = [], set()
    for text, n in pairs:
        marker = f" [{n}]" if n in by_n else ""
        body = fit(" ".join(text.split()), sentence_chars)
        fields = []
        if n in by_n and n not in shown:
            shown.add(n)
            fields.append(Field(source_label(by_n[n]), excerpt(by_n[n], excerpt_chars)))
        parts.append(_Part(body + marker, fields, n))
    return parts


def _footer(answer: Answer) -> str:
    notes = []
    if answer.understood_as:
        notes.append("Understood as: " + " ".join(answer.understood_as.split()))
    notes += [f"Note: {w}" for w in answer.warnings]
    # Footers are plain text (no Markdown) but mentions are still neutralised.
    return _MENTION.sub(lambda m: m.group(0) + ZWSP, shorten("\n".join(notes), FOOTER_BUDGET)) if notes else ""


def answer_drafts(answer: Answer) -> list[Draft]:
    """The answer as embed drafts, each within the embed limits."""
    title = fit(" ".join(answer.question.split()), TITLE_CHARS)
    footer = _footer(answer)
    reserve = len(footer)
    if answer.answered:
        drafts = [Draft(title=title, colour=ANSWERED_COLOUR)]
        previous_n = None
        for part in _parts(answer, SENTENCE_CHARS, CITED_EXCERPT_CHARS):
            current = drafts[-1]
            sep = "" if not current.description else (" " if part.n == previous_n else "\n\n")
            if not current.fits(sep + part.text, part.fields, reserve):
                current = Draft(colour=ANSWERED_COLOUR)
                drafts.append(current)
                sep = ""
            current.description += sep + part.text
            current.fields += part.fields
            previous_n = part.n
        shown = {n for d in drafts for n in _field_numbers(d)}
        others = [c for c in answer.citations if c.n not in shown]
        heading = "Other sources"
    else:
        drafts = [Draft(title=title, description=f"{NOT_FOUND_TEXT} The closest passages:", colour=NOT_FOUND_COLOUR)]
        others = list(answer.citations)
        heading = "Closest passages"
    for citation in others:
        f = Field(source_label(citation), excerpt(citation, OTHER_EXCERPT_CHARS))
        if not drafts[-1].fits(fields=[f], reserve=reserve):
            drafts.append(Draft(title=heading, colour=drafts[-1].colour))
        drafts[-1].fields.append(f)
    drafts[-1].footer = footer
    return drafts


def _field_numbers(draft: Draft) -> list[int]:
    return [int(m.group(1)) for f in draft.fields if (m := re.match(r"\[(\d+)\]", f.name))]


def pack(drafts: Sequence[Draft]) -> list[Reply]:
    """Group embeds into messages: at most 10 per message and 6,000 characters across them."""
    replies: list[Reply] = []
    total = 0
    for draft in drafts:
        embed = draft.to_embed()
        size = len(embed)
        if not replies or len(replies[-1].embeds) >= EMBEDS_PER_MESSAGE or total + size > MESSAGE_EMBED_CHARS:
            replies.append(Reply())
            total = 0
        replies[-1].embeds.append(embed)
        total += size
    return replies


def format_answer(answer: Answer) -> list[Reply]:
    """The answer as one or more messages of embeds (usually one message with one embed)."""
    return pack(answer_drafts(answer))


# -- plain text (no Embed Links permission) --------------------------------------------------------


def format_answer_text(answer: Answer) -> list[Reply]:
    """The answer as plain messages of at most 2,000 characters, for channels without embeds."""
    blocks: list[str] = [f"**Q:** {fit(' '.join(answer.question.split()), 300)}"]
    if answer.answered:
        for part in _parts(answer, TEXT_SENTENCE_CHARS, CITED_EXCERPT_CHARS):
            blocks.append("\n".join([part.text] + [_quote_field(f) for f in part.fields]))
        shown = {int(m.group(1)) for b in blocks for m in re.finditer(r"^> \*\*\[(\d+)\]", b, re.M)}
        others = [c for c in answer.citations if c.n not in shown]
        if others:
            blocks.append("**Other sources**")
    else:
        blocks.append(f"{NOT_FOUND_TEXT} The closest passages:")
        others = list(answer.citations)
    for citation in others:
        blocks.append(_quote_field(Field(source_label(citation), excerpt(citation, OTHER_EXCERPT_CHARS))))
    if footer := _footer(answer):
        blocks.append(f"-# {escape(footer).replace(chr(10), ' · ')}"[: MESSAGE_CHARS // 2])
    return [Reply(content=text) for text in pack_text(blocks)]


def _quote_field(f: Field) -> str:
    return f"> **{f.name}**\n" + "\n".join("> " + line for line in f.value.splitlines())


def pack_text(blocks: Sequence[str], limit: int = MESSAGE_CHARS) -> list[str]:
    """Join blocks into messages of at most ``limit`` characters, never splitting a block.

    A block longer than a message on its own is cut at a line boundary (it never happens for the
    blocks built here, which are budgeted below the limit).
    """
    messages: list[str] = []
    for block in blocks:
        while len(block) > limit:
            cut = block.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            messages.append(block[:cut])
            block = block[cut:].lstrip("\n")
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


# -- full sources (the Sources button) -------------------------------------------------------------


def sources_drafts(citations: Sequence[Citation]) -> list[Draft]:
    """Each passage in full, its quoted sentences in bold; long passages continue in more embeds."""
    drafts: list[Draft] = []
    for citation in citations:
        title = source_label(citation, TITLE_CHARS)
        pieces = passage_pieces(citation.text, citation.highlights, DESCRIPTION_CHARS)
        for i, piece in enumerate(pieces):
            label = title if i == 0 else f"[{citation.n}] (continued {i + 1}/{len(pieces)})"
            drafts.append(Draft(title=label, description=piece, colour=SOURCES_COLOUR))
    return drafts


def format_sources(citations: Sequence[Citation]) -> list[Reply]:
    """Messages showing the full passages, at most :data:`MAX_SOURCE_REPLIES` of them."""
    replies = pack(sources_drafts(citations))
    if len(replies) > MAX_SOURCE_REPLIES:
        replies = replies[:MAX_SOURCE_REPLIES]
        replies[-1].content = "(more passages were left out; ask a narrower question to see them)"
    return replies


def passage_pieces(text: str, highlights: Iterable[tuple[int, int]], limit: int) -> list[str]:
    """``text`` rendered (escaped, quoted sentences bold) in pieces of at most ``limit`` characters.

    Pieces end at line or sentence ends when possible, else at a space, else anywhere.
    """
    spans = _merged(highlights, len(text))
    size = len(text)
    sentence_ends = sorted({m.end() for m in _SENTENCE_END.finditer(text)} | {size})
    word_ends = sorted({m.end() for m in re.finditer(r"\s+", text)} | {size})
    pieces, start = [], 0
    while start < size:
        end = _furthest(text, spans, start, sentence_ends, limit) or _furthest(text, spans, start, word_ends, limit)
        if end is None:  # not even one word fits: cut inside it
            end = _furthest(text, spans, start, list(range(start + 1, size + 1)), limit) or start + 1
        piece = _render(text, spans, start, end).strip()
        if piece:
            pieces.append(piece)
        start = end
    return pieces or [""]


def _furthest(text: str, spans, start: int, ends: list[int], limit: int) -> int | None:
    """The furthest end in ``ends`` after ``start`` whose rendering fits in ``limit`` (binary search)."""
    import bisect

    lo = bisect.bisect_right(ends, start)
    hi = len(ends) - 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if len(_render(text, spans, start, ends[mid]).strip()) <= limit:
            best, lo = ends[mid], mid + 1
        else:
            hi = mid - 1
    return best


# -- short notices ----------------------------------------------------------------------------------


def notice(text: str) -> str:
    """A one-line bot notice (already safe text) kept within the message limit."""
    return shorten(text, MESSAGE_CHARS)
