"""Checks of Discord's limits on what the bot sends (shared by the bot tests)."""

from __future__ import annotations

import re

import discord

from bot import formatting as fmt


def check_embed(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= fmt.TITLE_CHARS
    assert len(embed.description or "") <= fmt.DESCRIPTION_CHARS
    assert len(embed.fields) <= fmt.FIELDS_PER_EMBED
    for f in embed.fields:
        assert 0 < len(f.name) <= fmt.FIELD_NAME_CHARS, f.name
        assert 0 < len(f.value) <= fmt.FIELD_VALUE_CHARS
    assert len(embed.footer.text or "") <= fmt.FOOTER_CHARS
    assert len(embed) <= fmt.EMBED_TOTAL_CHARS


def check_message(content: str | None, embeds: list[discord.Embed]) -> None:
    """Every limit of one message: content, each embed, the embeds together."""
    assert content or embeds, "an empty message"
    assert len(content or "") <= fmt.MESSAGE_CHARS
    assert len(embeds) <= fmt.EMBEDS_PER_MESSAGE
    for embed in embeds:
        check_embed(embed)
    assert sum(len(e) for e in embeds) <= fmt.MESSAGE_EMBED_CHARS


_MARKER = re.compile(r"(?<!\\)\[(\d+)\](?=\s|$)")
_LABEL = re.compile(r"\[(\d+)\] .+ · lines? \d+")


def markers_travel_with_sources(embeds: list[discord.Embed]) -> None:
    """Each ``[n]`` in an embed's description has its source ``[n] … · line(s) …`` among that
    embed's own fields — not merely somewhere in the message or the answer."""
    for embed in embeds:
        used = {int(n) for n in _MARKER.findall(embed.description or "")}
        listed = {int(m.group(1)) for f in embed.fields if (m := _LABEL.match(f.name.replace("\\", "")))}
        assert used <= listed, (used, listed, embed.description)


def text_markers_travel_with_sources(content: str) -> None:
    """The same for a plain-text message: each ``[n]`` outside the quotes has the quoted source
    ``> **[n] …**`` in this message, and every quoted line sits under its source's label here
    (no quote cut away into another message)."""
    listed: set[int] = set()
    used: set[int] = set()
    in_quote = False
    for line in content.splitlines():
        if m := re.match(r"> \*\*\[(\d+)\] .+\*\*$", line):
            listed.add(int(m.group(1)))
            in_quote = True
        elif line.startswith("> "):
            assert in_quote, f"a quoted line without its source label in this message: {line!r}"
        else:
            in_quote = False
            used |= {int(n) for n in _MARKER.findall(line)}
    assert used <= listed, (used, listed, content)


def no_live_mentions(text: str) -> None:
    """Nothing in ``text`` that Discord would turn into a ping."""
    assert not re.search(r"@(everyone|here)\b", text), text
    assert not re.search(r"<@[!&]?\d+>", text), text
