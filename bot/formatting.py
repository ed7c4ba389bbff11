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

import dataclasses
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
REPEAT_EXCERPT_CHARS = 200  # a source shown again next to a later sentence citing it
TEXT_QUESTION_CHARS = 300
FOOTER_BUDGET = 500
TEXT_SENTENCE_CHARS = 900  # plain-text mode: a sentence plus its source must fit in 2,000
MAX_SOURCE_REPLIES = 5  # Sources button: at most this many ephemeral messages

ANSWERED_COLOUR = discord.Colour(0x2E7D32)
NOT_FOUND_COLOUR = discord.Colour(0x9E9E9E)
SOURCES_COLOUR = discord.Colour(0x1565C0)
ELLIPSIS = "…"
ZWSP = "\u200b"
NOT_FOUND_TEXT = "The documents do not contain an answer to this question."
CONTINUED = " (continued)"
OTHER_SOURCES = "Other sources"
CLOSEST_PASSAGES = "Closest passages"
HEADING_ROOM = len(f"**{CLOSEST_PASSAGES}**\n\n")  # a heading moved into a continuation's description
UNDERSTOOD = "Understood as: "

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
    path = fit(" ".join(citation.source.split()), max(room, 1), keep_end=True)  # one line, always
    label = head + path + tail
    section = " ".join(citation.section.split())
    if section and len(label) + 4 < limit:
        label += " — " + fit(section, limit - len(label) - 3)
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
    """An answer sentence with its marker, and the source its marker points to."""

    text: str
    n: int  # 0: the sentence cites no source
    first: bool  # the first sentence citing source n


def _parts(answer: Answer, sentence_chars: int) -> list[_Part]:
    by_n = {c.n: c for c in answer.citations}
    pairs: list[tuple[str, int]] = [(s.text, s.n) for s in answer.sentences]
    if not pairs:  # an answer without sentence records: split its text at the markers
        pos = 0
        for m in re.finditer(r"(.+?)\s*\[(\d+)\](?=\s|$)", answer.answer, re.DOTALL):
            pairs.append((m.group(1).strip(), int(m.group(2))))
            pos = m.end()
        if answer.answer[pos:].strip():
            pairs.append((answer.answer[pos:].strip(), 0))
    parts, seen = [], set()
    for text, n in pairs:
        n = n if n in by_n else 0
        body = fit(" ".join(text.split()), sentence_chars)
        parts.append(_Part(body + (f" [{n}]" if n else ""), n, n not in seen))
        seen.add(n)
    return parts


def _source_field(citation: Citation, excerpt_chars: int) -> Field:
    return Field(source_label(citation), excerpt(citation, excerpt_chars))


def _repeat_field(citation: Citation) -> Field:
    """Source ``[n]`` again, shorter, for a later embed or message that also cites it."""
    name = source_label(citation, FIELD_NAME_CHARS - len(CONTINUED)) + CONTINUED
    return Field(name, excerpt(citation, REPEAT_EXCERPT_CHARS))


def _footer(answer: Answer) -> str:
    notes = []
    if answer.understood_as:
        notes.append(UNDERSTOOD + " ".join(answer.understood_as.split()))
    notes += [f"Note: {w}" for w in answer.warnings]
    # Footers are plain text (no Markdown) but mentions are still neutralised.
    return _MENTION.sub(lambda m: m.group(0) + ZWSP, shorten("\n".join(notes), FOOTER_BUDGET)) if notes else ""


def continued_title(question: str) -> str:
    """The title of the first embed of every message after an answer's first: ``question (continued)``.

    Every message of an answer names its question, so the buttons (on the last message) and
    replies work from the message alone after a restart.
    """
    return fit(" ".join(question.split()), TITLE_CHARS - len(CONTINUED)) + CONTINUED


def answer_drafts(answer: Answer) -> list[Draft]:
    """The answer as embed drafts, each within the embed limits (also once :func:`pack` retitles it)."""
    title = fit(" ".join(answer.question.split()), TITLE_CHARS)
    footer = _footer(answer)
    by_n = {c.n: c for c in answer.citations}
    # A draft after the first may open a message: it then gets the continued title, and a heading
    # title moves into its description. Room for both is kept in every such draft.
    continuation_room = len(continued_title(answer.question)) + HEADING_ROOM

    def reserve(draft: Draft) -> int:
        return len(footer) + (0 if draft is drafts[0] else continuation_room)

    if answer.answered:
        drafts = [Draft(title=title, colour=ANSWERED_COLOUR)]
        previous_n = None
        for part in _parts(answer, SENTENCE_CHARS):
            while True:
                current = drafts[-1]
                fields = []
                if part.n and part.n not in _field_numbers(current):
                    # Never a marker without its source: the first sentence citing n brings the
                    # source; a later one in another embed brings a short copy of it.
                    c = by_n[part.n]
                    fields = [_source_field(c, CITED_EXCERPT_CHARS) if part.first else _repeat_field(c)]
                sep = "" if not current.description else (" " if part.n == previous_n else "\n\n")
                if current.fits(sep + part.text, fields, reserve(current)) or not (current.description or current.fields):
                    break
                drafts.append(Draft(colour=ANSWERED_COLOUR))
            current.description += sep + part.text
            current.fields += fields
            previous_n = part.n
        shown = {n for d in drafts for n in _field_numbers(d)}
        others = [c for c in answer.citations if c.n not in shown]
        heading = OTHER_SOURCES
    else:
        # No passage at all (an empty index): the engine's text alone.
        description = f"{NOT_FOUND_TEXT} The closest passages:" if answer.citations else fit(
            escape(answer.answer), DESCRIPTION_CHARS)
        drafts = [Draft(title=title, description=description, colour=NOT_FOUND_COLOUR)]
        others = list(answer.citations)
        heading = CLOSEST_PASSAGES
    for citation in others:
        f = Field(source_label(citation), excerpt(citation, OTHER_EXCERPT_CHARS))
        if not drafts[-1].fits(fields=[f], reserve=reserve(drafts[-1])):
            drafts.append(Draft(title=heading, colour=drafts[-1].colour))
        drafts[-1].fields.append(f)
    drafts[-1].footer = footer
    return drafts


def _field_numbers(draft: Draft) -> list[int]:
    return [int(m.group(1)) for f in draft.fields if (m := re.match(r"\[(\d+)\]", f.name))]


def _continuation(draft: Draft, title: str) -> Draft:
    """``draft`` as the first embed of a continuation message: titled with the question."""
    description = draft.description
    if draft.title:  # a heading ("Other sources"): it moves into the description
        description = f"**{draft.title}**" + (f"\n\n{description}" if description else "")
    return dataclasses.replace(draft, title=title, description=description)


def pack(drafts: Sequence[Draft], continued: str = "") -> list[Reply]:
    """Group embeds into messages: at most 10 per message and 6,000 characters across them.

    Args:
        drafts: The embeds, in order.
        continued: When set, the title of the first embed of every message after the first.
    """
    replies: list[Reply] = []
    total = 0
    for draft in drafts:
        embed = draft.to_embed()
        if not replies or len(replies[-1].embeds) >= EMBEDS_PER_MESSAGE or total + len(embed) > MESSAGE_EMBED_CHARS:
            if replies and continued:
                embed = _continuation(draft, continued).to_embed()
            replies.append(Reply())
            total = 0
        replies[-1].embeds.append(embed)
        total += len(embed)
    return replies


def format_answer(answer: Answer) -> list[Reply]:
    """The answer as one or more messages of embeds (usually one message with one embed)."""
    return pack(answer_drafts(answer), continued_title(answer.question))


# -- plain text (no Embed Links permission) --------------------------------------------------------


def format_answer_text(answer: Answer) -> list[Reply]:
    """The answer as plain messages of at most 2,000 characters, for channels without embeds.

    As with embeds, each message that shows a ``[n]`` marker also quotes source ``[n]``, and every
    message after the first starts with the question, marked "(continued)".
    """
    question = fit(" ".join(answer.question.split()), TEXT_QUESTION_CHARS)
    messages: list[list[str]] = [[f"**Q:** {question}"]]
    quoted: set[int] = set()  # sources quoted in the current message

    def size(blocks: list[str]) -> int:
        return sum(len(b) for b in blocks) + 2 * (len(blocks) - 1)

    def new_message() -> None:
        messages.append([f"**Q:** {question}{CONTINUED}"])
        quoted.clear()

    def add(block: str) -> None:
        if size(messages[-1]) + 2 + len(block) > MESSAGE_CHARS:
            new_message()
        messages[-1].append(block)

    by_n = {c.n: c for c in answer.citations}
    room = MESSAGE_CHARS - len(f"**Q:** {question}{CONTINUED}") - 2  # a block on its own in a message
    if answer.answered:
        parts = _parts(answer, TEXT_SENTENCE_CHARS)
        for part in parts:
            while True:
                lines = [part.text]
                if part.n and part.n not in quoted:
                    c = by_n[part.n]
                    label = source_label(c) if part.first else source_label(c, FIELD_NAME_CHARS - len(CONTINUED)) + CONTINUED
                    chars = CITED_EXCERPT_CHARS if part.first else REPEAT_EXCERPT_CHARS
                    lines.append(_quote(c, label, chars, room - len(part.text) - 1))
                block = "\n".join(lines)
                if size(messages[-1]) + 2 + len(block) <= MESSAGE_CHARS or len(messages[-1]) == 1:
                    break
                new_message()
            messages[-1].append(block)
            quoted.add(part.n)
        others = [c for c in answer.citations if c.n not in {p.n for p in parts}]
        intro = f"**{OTHER_SOURCES}**"
    else:
        others = list(answer.citations)
        intro = f"{NOT_FOUND_TEXT} The closest passages:" if others else notice(escape(answer.answer))
    for i, citation in enumerate(others):
        block = _quote(citation, source_label(citation), OTHER_EXCERPT_CHARS, room - len(intro) - 1)
        add(f"{intro}\n{block}" if i == 0 else block)  # the heading never ends a message alone
    if not others and not answer.answered:
        add(intro)
    if footer := _footer(answer):
        add(f"-# {escape(footer).replace(chr(10), ' · ')}"[: MESSAGE_CHARS // 2])
    return [Reply(content="\n\n".join(blocks)) for blocks in messages]


def _quote_field(f: Field) -> str:
    return f"> **{f.name}**\n" + "\n".join("> " + line for line in f.value.splitlines())


def _quote(citation: Citation, label: str, excerpt_chars: int, limit: int) -> str:
    """Source ``label`` and an excerpt, as a block quote of at most ``limit`` characters.

    Each line of the quote costs its ``"> "`` prefix too: an excerpt of many short lines gets
    shorter, so the block still fits in the message with the sentence that cites it.
    """
    budget = excerpt_chars
    while True:
        block = _quote_field(Field(label, excerpt(citation, budget)))
        if len(block) <= limit or budget <= 1:
            return block
        budget -= max(1, len(block) - limit)


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


# -- reading an answer back (after a restart) -------------------------------------------------------

_LABEL = re.compile(r"\[(\d+)\] (.+?) · lines? (\d+)(?:–(\d+))?")
_MARKER = re.compile(r"(?<!\\)\[(\d+)\](?=\s|$)")


@dataclass
class ShownAnswer:
    """What one message of an answer shows, read back from the message itself.

    Attributes:
        question: The question (from the title, or the ``**Q:**`` line in plain text); "" if none.
        understood_as: The footer's "Understood as: …", if any.
        sources: ``n`` → ``(source, start_line, end_line)`` of every source the message lists.
        labels: The source labels, each once, in order.
        cited: The ``[n]`` markers of the answer text in the message, in order.
        text: The answer text shown.
        answered: False for a "not found" answer.
    """

    question: str
    understood_as: str | None
    sources: dict[int, tuple[str, int, int]]
    labels: list[str]
    cited: list[int]
    text: str
    answered: bool


def read_answer(content: str | None, embeds: Sequence[discord.Embed]) -> ShownAnswer:
    """Read back a message sent by :func:`format_answer` or :func:`format_answer_text`."""
    names: list[str] = []
    texts: list[str] = []
    question = ""
    understood = None
    answered = True
    if embeds:
        for i, embed in enumerate(embeds):
            title = embed.title or ""
            if i == 0 and title not in (OTHER_SOURCES, CLOSEST_PASSAGES):
                question = title.removesuffix(CONTINUED)
            texts.append(embed.description or "")
            names += [f.name for f in embed.fields]
            for line in (embed.footer.text or "").splitlines():
                if line.startswith(UNDERSTOOD):
                    understood = line.removeprefix(UNDERSTOOD).replace(ZWSP, "")
            if embed.colour is not None and embed.colour == NOT_FOUND_COLOUR:
                answered = False
    else:
        for line in (content or "").splitlines():
            if line.startswith("**Q:** ") and not question:
                question = line.removeprefix("**Q:** ").removesuffix(CONTINUED)
            elif m := re.match(r"> \*\*(\[\d+\] .*)\*\*$", line):
                names.append(m.group(1))
            elif line.startswith("-# "):
                note = unescape(line.removeprefix("-# ")).split(" · Note: ")[0]
                if note.startswith(UNDERSTOOD):
                    understood = note.removeprefix(UNDERSTOOD)
            elif not line.startswith("> "):
                texts.append(line)
                answered = answered and not line.startswith(NOT_FOUND_TEXT)
    sources: dict[int, tuple[str, int, int]] = {}
    labels: list[str] = []
    for name in names:
        label = unescape(name)
        if m := _LABEL.match(label):
            n = int(m.group(1))
            if n not in sources:
                sources[n] = (m.group(2), int(m.group(3)), int(m.group(4) or m.group(3)))
                labels.append(label.removesuffix(CONTINUED))
    text = "\n".join(t for t in texts if t)
    cited = list(dict.fromkeys(int(n) for n in _MARKER.findall(text)))
    return ShownAnswer(
        question=unescape(question).rstrip(ELLIPSIS).strip(),
        understood_as=understood.rstrip(ELLIPSIS).strip() if understood else None,
        sources=sources,
        labels=labels,
        cited=cited,
        text=unescape(text),
        answered=answered,
    )


# -- short notices ----------------------------------------------------------------------------------


def notice(text: str) -> str:
    """A one-line bot notice (already safe text) kept within the message limit."""
    return shorten(text, MESSAGE_CHARS)
