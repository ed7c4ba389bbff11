"""Answers → embeds and messages: every Discord limit, markers next to their sources, escaping."""

from __future__ import annotations

import re

import pytest

from bot import formatting as fmt
from qa.answer import Answer, AnswerSentence, Citation

from .limits import (
    check_embed,
    check_message,
    markers_travel_with_sources,
    no_live_mentions,
    text_markers_travel_with_sources,
)

LONG = ("The harbour of Port Quill keeps detailed ledgers of every vessel, cargo, tide and storm. ") * 60  # ~5,000


def citation(n: int, text: str = "A short passage. It says one thing.", *, cited: bool = False,
             source: str = "source_docs/a.txt", section: str = "", highlights=None) -> Citation:
    return Citation(n=n, source=source, start_line=n, end_line=n + 3, text=text, score=0.5, section=section,
                    highlights=highlights or [], cited=cited)


def answer(sentences: list[tuple[str, int]], citations: list[Citation], answered: bool = True, **kw) -> Answer:
    text = " ".join(f"{s} [{n}]" for s, n in sentences) if answered else "The documents do not contain an answer."
    return Answer(question=kw.pop("question", "What does it say?"), answer=text, answered=answered,
                  citations=citations, sentences=[AnswerSentence(s, n, 1) for s, n in sentences], **kw)


def all_checks(replies: list[fmt.Reply]) -> None:
    for reply in replies:
        check_message(reply.content, reply.embeds)
        markers_travel_with_sources(reply.embeds)
        if not reply.embeds:
            text_markers_travel_with_sources(reply.content)


def test_a_plain_answer_is_one_embed_with_markers_and_numbered_sources():
    text = "Intro line. The ambassador is Lynne M. Tracy. More text follows here."
    start = text.index("The ambassador")
    c1 = citation(1, text, cited=True, source="source_docs/russia.txt", section="Relations",
                  highlights=[(start, start + len("The ambassador is Lynne M. Tracy."))])
    replies = fmt.format_answer(answer([("The ambassador is Lynne M. Tracy.", 1)], [c1, citation(2)]))
    assert len(replies) == 1 and len(replies[0].embeds) == 1
    embed = replies[0].embeds[0]
    assert embed.title == "What does it say?"
    assert embed.description == "The ambassador is Lynne M. Tracy. [1]"
    assert embed.fields[0].name == "[1] source\\_docs/russia.txt · lines 1–4 — Relations"
    assert "**The ambassador is Lynne M. Tracy.**" in embed.fields[0].value
    assert embed.fields[1].name.startswith("[2] source\\_docs/a.txt")
    all_checks(replies)


def test_a_5000_character_passage_and_sentence_stay_within_every_limit():
    c1 = citation(1, LONG, cited=True, highlights=[(0, len(LONG))])
    a = answer([(LONG, 1)], [c1])
    replies = fmt.format_answer(a)
    all_checks(replies)
    embed = replies[0].embeds[0]
    assert embed.description.endswith("… [1]")  # the sentence is shortened, its marker kept
    # plain text and the Sources view hold too
    all_checks(fmt.format_answer_text(a))
    sources = fmt.format_sources([c1])
    all_checks(sources)
    shown = "".join(e.description for r in sources for e in r.embeds)
    assert shown.replace("*", "").replace(" ", "") == LONG.replace(" ", "")  # the full passage, nothing lost


def test_many_long_sources_are_split_and_every_marker_travels_with_its_source():
    long_source = "source_docs/" + "deeply/nested/" * 30 + "file_name.txt"
    cites = [citation(n, LONG, cited=n <= 12, source=long_source, section="S" * 400,
                      highlights=[(100, 2600)] if n <= 12 else []) for n in range(1, 51)]
    sentences = [(LONG[:2500] + f" sentence {n}", n) for n in range(1, 13)]
    replies = fmt.format_answer(answer(sentences, cites, understood_as="x" * 3000, warnings=["w" * 3000]))
    assert len(replies) > 1
    all_checks(replies)
    # every sentence and every source is shown exactly once, in order
    descriptions = "\n".join(e.description or "" for r in replies for e in r.embeds)
    assert [int(n) for n in re.findall(r"\[(\d+)\]$", descriptions, re.MULTILINE)] == list(range(1, 13))
    names = [f.name for r in replies for e in r.embeds for f in e.fields]
    assert [int(re.match(r"\[(\d+)\]", n).group(1)) for n in names] == list(range(1, 51))
    assert all(n.endswith("file\\_name.txt · lines " + n.split("lines ")[1].split(" —")[0]) or "—" in n for n in names)
    for reply in fmt.format_answer_text(answer(sentences, cites)):
        check_message(reply.content, [])


def test_limits_hold_at_the_edges():
    for size in (0, 1, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 6000, 12000):
        text = ("word " * size)[:size] or "x"
        c = citation(1, text, cited=True, highlights=[(0, len(text))], source="s" * size or "s", section="t" * size)
        a = answer([(text, 1)], [c, citation(2, text, source="u" * size or "u")], question="q" * max(size, 1))
        all_checks(fmt.format_answer(a))
        all_checks(fmt.format_answer_text(a))
        all_checks(fmt.format_sources(a.citations))


def test_not_found_says_so_and_lists_the_closest_passages():
    a = answer([], [citation(1, "Nearby text."), citation(2, "Other text.")], answered=False)
    embed = fmt.format_answer(a)[0].embeds[0]
    assert embed.description.startswith(fmt.NOT_FOUND_TEXT)
    assert [f.name[:3] for f in embed.fields] == ["[1]", "[2]"]
    assert embed.colour == fmt.NOT_FOUND_COLOUR


def test_a_decline_without_passages_says_the_engines_text():
    a = Answer("Thanks!", "Ask me a question about the documents.", False, [])
    embed = fmt.format_answer(a)[0].embeds[0]
    assert embed.description == "Ask me a question about the documents."
    assert not embed.fields
    assert "Ask me a question about the documents." in fmt.format_answer_text(a)[0].content


@pytest.mark.parametrize("hostile", [
    "@everyone look", "@here now", "<@&123>", "<@123456789012345678>", "<@!123456789012345678>",
    "<#123456789012345678>",
])
def test_mentions_in_documents_and_questions_are_neutralised(hostile):
    c = citation(1, f"Before. {hostile} is in the text. After.", cited=True, source=f"source_docs/{hostile}.txt",
                 highlights=[(8, 8 + len(hostile) + 16)])
    a = answer([(f"{hostile} is in the text.", 1)], [c], question=f"What about {hostile}?", understood_as=hostile)
    for reply in fmt.format_answer(a) + fmt.format_answer_text(a) + fmt.format_sources([c]):
        from .harness import message_text

        no_live_mentions(message_text(reply.content, reply.embeds))


def test_markdown_cannot_break_the_layout_or_hide_a_link():
    hostile = "**bold** [a hidden link](https://evil.example) ||spoiler|| `code` _it_ ~~s~~\n# Heading\n> quote"
    out = fmt.escape(hostile)
    assert "\\*\\*bold\\*\\*" in out
    assert "\\[a hidden link](https://evil.example)" in out  # no masked link: the URL shows as text
    assert "\\|\\|spoiler\\|\\|" in out and "\\`code\\`" in out and "\\_it\\_" in out
    assert "\n\\# Heading" in out and "\n\\> quote" in out


def test_shorten_cuts_at_sentence_then_word_boundaries():
    text = "First sentence here. Second sentence is much longer than the first one."
    assert fmt.shorten(text, 40) == "First sentence here.…"
    assert fmt.shorten("alpha beta gamma delta", 14) == "alpha beta…"
    assert fmt.shorten("abcdefghij", 5) == "abcd…"
    assert fmt.shorten_start("alpha beta gamma delta", 14) == "…gamma delta"
    assert len(fmt.fit("*" * 100, 50)) <= 50


def test_embed_sizes_are_counted_like_discord():
    embed = fmt.Draft(title="t" * 10, description="d" * 20, fields=[fmt.Field("n" * 5, "v" * 7)], footer="f" * 3)
    assert len(embed.to_embed()) == embed.size() == 45
    check_embed(embed.to_embed())


@pytest.mark.parametrize("text", [
    "source_docs/russia_us.txt", "**b** [x](https://e.x) @everyone <@&1> back\\slash\n# h\n> q", "~~s~~ ||p|| `c`",
])
def test_unescape_reads_back_what_escape_wrote(text):
    assert fmt.unescape(fmt.escape(text)) == text


def _three_long_sentences() -> Answer:
    """Sentences citing [1], [2], then [1] again, each long enough that they cannot share an embed."""
    sentence = "The harbour ledgers record every vessel, cargo, tide and storm of the northern coast. " * 25
    texts = [f"First {sentence}", f"Second {sentence}", f"Third, again from the first source: {sentence}"]
    c1 = citation(1, LONG, cited=True, highlights=[(0, 600)])
    c2 = citation(2, LONG, cited=True, source="source_docs/b.txt", highlights=[(700, 1300)])
    return answer([(texts[0], 1), (texts[1], 2), (texts[2], 1)], [c1, c2, citation(3)])


def test_a_repeated_marker_in_a_later_embed_or_message_brings_its_source_along():
    a = _three_long_sentences()
    replies = fmt.format_answer(a)
    embeds = [e for r in replies for e in r.embeds]
    assert len(embeds) > 1  # the third sentence does not fit next to the first two
    all_checks(replies)
    third = next(e for e in embeds if "Third, again from the first source" in (e.description or ""))
    assert third is not embeds[0]
    [repeat] = [f for f in third.fields if f.name.startswith("[1] ")]
    assert repeat.name.endswith(" (continued)") and repeat.value
    # the full source [1] is still listed once, with the first sentence
    assert [f.name for f in embeds[0].fields][:1] == ["[1] source\\_docs/a.txt · lines 1–4"]
    # plain text: each message showing [1] quotes source [1]
    text = fmt.format_answer_text(a)
    assert len(text) == 3
    all_checks(text)
    assert "> **[1] source\\_docs/a.txt · lines 1–4 (continued)**" in text[2].content


def test_every_message_of_a_long_answer_names_its_question():
    a = _three_long_sentences()
    a.question = "What do the harbour ledgers record?"
    for replies in (fmt.format_answer(a), fmt.format_answer_text(a)):
        assert len(replies) > 1 or len(replies[0].embeds) > 1
        for i, reply in enumerate(replies):
            shown = fmt.read_answer(reply.content, reply.embeds)
            assert shown.question == "What do the harbour ledgers record?"
            first = reply.embeds[0].title if reply.embeds else reply.content.splitlines()[0]
            assert first.endswith("(continued)") == (i > 0)


def test_plain_text_counts_the_quote_prefixes_of_a_passage_of_many_short_lines():
    fact = "The chief warden is Marguerite Oyelaran-Vasquez."
    lines = ["x"] * 500 + [fact] + ["y"] * 500
    text = "\n".join(lines)
    start = text.index(fact)
    c1 = citation(1, text, cited=True, source="source_docs/" + "very-long-folder-name/" * 10 + "ledger.txt",
                  highlights=[(start, start + len(fact))])
    a = answer([("Marguerite Oyelaran-Vasquez keeps the ledgers of the harbour. " * 14, 1)], [c1])
    replies = fmt.format_answer_text(a)
    all_checks(replies)  # every quoted line stays under its source's label, in the sentence's message
    [first] = [r.content for r in replies if "[1]" in r.content]
    assert "Oyelaran-Vasquez" in first and first.count("\n> ") > 50
