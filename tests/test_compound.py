"""Compound questions: split into parts, each answered, joined with its citations."""

from __future__ import annotations

import pytest

from qa.answer import NOT_FOUND
from qa.compound import split_compound
from qa.conversation import Conversation


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Who expanded the sanctions on Russia, and how much in assets has been frozen?",
         ["Who expanded the sanctions on Russia?", "How much in assets has been frozen?"]),
        ("who is pete hegseth and what did he order", ["Who is pete hegseth?", "What did he order?"]),
    ],
)
def test_two_questions_in_one_are_split(question, parts):
    assert split_compound(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "What did Putin and Bush do?",  # "and" between names
        "Is it true that Russia, which was a rival, cooperated?",  # a relative clause
        "What is the difference between a treaty and what the Senate ratified?",  # no verb after "what"
        "What are members who have been baptized as an infant but who have not professed their faith?",
        "Who founded it, and why?",  # "and why?" is no question of its own
        "The sanctions, and who expanded them?",  # no question before the comma
        "Can I raise my storage limits? How can I add storage?",  # one after the other: asked whole
    ],
)
def test_one_question_is_not_split(question):
    assert split_compound(question) == [question]


def test_the_answered_part_is_cited_and_the_other_noted(seed_engine):
    question = "Who expanded the sanctions on Russia, and how much in assets has been frozen?"
    # Asked whole, the "how much" of the second part held the first to wanting a quantity.
    answer = seed_engine.ask(question)
    assert answer.answered
    assert "expanded by the U.S. and its allies" in answer.answer
    assert answer.answer.endswith("[1]")
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    cited = [c for c in answer.citations if c.cited]
    assert len(cited) == 1 and cited[0].n == 1 and cited[0].highlights
    assert any("How much in assets has been frozen?" in w for w in answer.warnings)
    assert answer.question == question


def test_both_parts_answered_quote_both_with_their_own_markers(seed_engine):
    answer = seed_engine.ask("Who did Putin work with on Afghanistan, and what did Yeltsin see as a threat?")
    assert answer.answered
    assert "George W. Bush" in answer.answer and "NATO's expansion into Eastern Europe" in answer.answer
    assert not answer.warnings
    # Every marker points to a cited source whose highlight is the quoted sentence.
    by_n = {c.n: c for c in answer.citations}
    for sentence in answer.sentences:
        citation = by_n[sentence.n]
        assert citation.cited
        assert any(" ".join(citation.text[s:e].split()) == " ".join(sentence.text.split())
                   for s, e in citation.highlights)
        assert f"{sentence.text} [{sentence.n}]" in answer.answer


def test_the_second_part_reads_the_first_and_the_history_gets_one_turn(seed_engine):
    conversation = Conversation()
    answer = seed_engine.ask("When did the Soviet Union dissolve, and who led Russia after that?", conversation)
    assert answer.answered
    assert "Boris Yeltsin" in answer.answer and "1991" in answer.answer
    assert len(conversation) == 1
    assert conversation.last.question == "When did the Soviet Union dissolve, and who led Russia after that?"
    follow = seed_engine.ask("What did he oppose in 1999?", conversation)
    assert "Kosovo" in follow.answer


def test_no_part_answered_declines_the_question_whole(seed_engine):
    answer = seed_engine.ask("What is the capital of France, and who painted the Mona Lisa?")
    assert not answer.answered
    assert answer.answer == NOT_FOUND
    assert answer.citations  # the closest passages, as for any decline
    assert not any("do not answer" in w for w in answer.warnings)
