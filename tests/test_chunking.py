"""Chunking invariants, on the bundled document and on generated text (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunking import chunk_document, index_text
from qa.documents import Document
from qa.embedding import resolve_model, token_counter

from .conftest import SEED


@pytest.fixture(scope="module")
def count():
    return token_counter(resolve_model("all-MiniLM-L6-v2"))


def doc(text: str, name: str = "doc.txt") -> Document:
    return Document(name, text, "x")


def check_invariants(cd, count, max_tokens: int, overlap: int) -> None:
    text = cd.document.text
    sentences = cd.sentences
    # Offsets reproduce the source; sentences are trimmed, non-empty, ordered, disjoint.
    for s in sentences:
        piece = text[s.start : s.end]
        assert piece and piece == piece.strip()
    for a, b in zip(sentences, sentences[1:]):
        assert a.end <= b.start
    # Every chunk is a run of whole sentences within the token bound, and chunks cover everything.
    covered = set()
    for c in cd.chunks:
        start, end = cd.chunk_span(c)
        assert cd.chunk_text(c) == text[start:end]
        assert start == sentences[c.first].start and end == sentences[c.last].end
        assert count([cd.chunk_index_text(c)])[0] + 2 <= max_tokens
        covered.update(range(c.first, c.last + 1))
    assert covered == set(range(len(sentences)))
    for a, b in zip(cd.chunks, cd.chunks[1:]):
        assert a.first < b.first and b.first <= a.last + 1  # moves forward, no gap
        assert a.last - b.first + 1 <= overlap  # overlap is at most `overlap` whole sentences


def test_seed_abbreviations_do_not_split(count):
    cd = chunk_document(doc(SEED.read_text("utf-8"), SEED.name), count)
    texts = [cd.document.text[s.start : s.end] for s in cd.sentences]
    for phrase in ("George W. Bush", "Lynne M. Tracy", "by the U.S. and its allies", "Washington, D.C.Embassy"):
        assert any(phrase in t for t in texts), phrase
    assert any(t.startswith("International sanctions imposed since 2014") for t in texts)
    check_invariants(cd, count, 200, 1)


def test_seed_title_becomes_section_and_infobox_fields_are_separated(count):
    cd = chunk_document(doc(SEED.read_text("utf-8"), SEED.name), count)
    assert {c.section for c in cd.chunks} == {"Russia–United States relations"}
    envoy = next(s for s in cd.sentences if "Tracy" in cd.document.text[s.start : s.end])
    assert cd.document.text[envoy.start : envoy.end] == "Envoy\nAmbassador Alexander DarchievAmbassador Lynne M. Tracy"
    assert cd.sentence_index_text(envoy, with_section=False) == "Envoy Ambassador Alexander Darchiev Ambassador Lynne M. Tracy"
    # Embedded like a chunk: the section first ("Tracy" is an ambassador of these relations).
    assert cd.sentence_index_text(envoy) == (
        "Russia–United States relations\nEnvoy Ambassador Alexander Darchiev Ambassador Lynne M. Tracy")
    assert index_text("Washington, D.C.Embassy of") == "Washington, D.C. Embassy of"


def test_markdown_headings_are_sections(count):
    text = "# Guide\n\nIntro sentence here.\n\n## Install\n\nRun the tool. It works.\n\n```\ncode line\n```\n"
    cd = chunk_document(doc(text, "g.md"), count)
    sections = [c.section for c in cd.chunks]
    assert "Guide" in sections and "Guide > Install" in sections
    assert all("#" not in cd.chunk_text(c) for c in cd.chunks)
    check_invariants(cd, count, 200, 1)


def test_overlong_sentence_is_split_not_truncated(count):
    words = " ".join(f"word{i} alpha-beta" for i in range(400))
    text = f"Short start. {words} end. Final sentence."
    cd = chunk_document(doc(text), count, max_tokens=64)
    check_invariants(cd, count, 64, 1)
    joined = " ".join(cd.document.text[s.start : s.end] for s in cd.sentences)
    assert re.sub(r"\s+", " ", joined) == re.sub(r"\s+", " ", text)


token = st.one_of(
    st.text(alphabet="abcdefghijklmnopXYZé–", min_size=1, max_size=12),
    st.sampled_from(["U.S.", "Dr.", "e.g.", "1999", ",", ";", "'s", "D.C.Embassy", "DarchievAmbassador"]),
)
sentence = st.lists(token, min_size=1, max_size=25).map(lambda ws: " ".join(ws).capitalize() + ".")
paragraph = st.lists(sentence, min_size=1, max_size=8).map(" ".join)
document = st.lists(
    st.one_of(paragraph, st.sampled_from(["# Title", "## Part two", "Envoy", "- item one", "\t", "",
                                          "# " + "長い見出し" * 20, "## " + "very long heading " * 15])),
    min_size=1,
    max_size=12,
).map(lambda ps: "\n\n".join(ps) if ps else "x")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=document, max_tokens=st.sampled_from([48, 96, 200]), overlap=st.integers(0, 2),
       markdown=st.booleans(), crlf=st.booleans())
def test_chunking_invariants_hold_for_any_text(count, text, max_tokens, overlap, markdown, crlf):
    if crlf:
        text = text.replace("\n", "\r\n")
    cd = chunk_document(doc(text, "d.md" if markdown else "d.txt"), count, max_tokens, overlap)
    check_invariants(cd, count, max_tokens, overlap)
    # Every word of the text is in some sentence, except Markdown headings and a plain-text title.
    covered = [False] * len(text)
    for s in cd.sentences:
        covered[s.start : s.end] = [True] * (s.end - s.start)
    # A plain-text title is the first non-blank line; it names the section instead.
    first = re.search(r"\S[^\r\n]*", text)
    for m in re.finditer(r"\S+", text):
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start() + 1]
        if markdown and line.lstrip().startswith("#"):
            continue
        if not markdown and first and first.start() <= m.start() < first.end():
            if all(s.section == first.group().strip() for s in cd.sentences):
                continue
        assert all(covered[m.start() : m.end()]), m.group()
