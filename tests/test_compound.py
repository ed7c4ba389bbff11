"""Compound questions: split into parts, each answered, joined with its citations."""

from __future__ import annotations

import pytest

from qa.answer import NOT_FOUND, Answer, AnswerSentence, Citation
from qa.compound import join_answers, split_compound
from qa.conversation import Conversation


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Who expanded the sanctions on Russia, and how much in assets has been frozen?",
         ["Who expanded the sanctions on Russia?", "How much in assets has been frozen?"]),
        ("who is pete hegseth and what did he order", ["Who is pete hegseth?", "What did he order?"]),
        # A preposition before the first question word.
        ("since when have there been sanctions and how much money was frozen",
         ["Since when have there been sanctions?", "How much money was frozen?"]),
        ("In what year did it start, and who led it?", ["In what year did it start?", "Who led it?"]),
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
        "What's the difference between what Yeltsin wanted and what Putin did?",
        "In Moscow and what was then Leningrad?",  # no question word first, a preposition aside
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


def _citation(n: int, text: str, line: int = 5) -> Citation:
    return Citation(n, "source_docs/a.txt", line, line, text, 0.5, highlights=[(0, len(text))], cited=True)


def test_joined_sources_are_numbered_as_cited_and_a_sentence_is_quoted_once():
    # Part 2 quotes part 1's sentence again from another chunk of the same line (chunks split a
    # long line): that chunk is no source of the answer; the two chunks are not one source.
    first = Answer("Q1?", "B two. [1]", True, [_citation(1, "B two.")], [AnswerSentence("B two.", 1, 5)])
    second_citations = [_citation(1, "B two. C three."), _citation(2, "D four.", line=9)]
    second_citations[0].highlights = [(0, 6)]
    second = Answer("Q2?", "B two. [1] D four. [2]", True, second_citations,
                    [AnswerSentence("B two.", 1, 5), AnswerSentence("D four.", 2, 9)])
    joined = join_answers("Q1, and q2?", ["Q1?", "Q2?"], [first, second], top_k=5)
    assert joined.answer == "B two. [1] D four. [2]"
    assert [(c.n, c.text, c.cited) for c in joined.citations] == [
        (1, "B two.", True), (2, "D four.", True), (3, "B two. C three.", False)]
    for sentence in joined.sentences:  # each marker's source highlights the sentence it quotes
        citation = joined.citations[sentence.n - 1]
        assert any(citation.text[a:b] == sentence.text for a, b in citation.highlights)


@pytest.mark.parametrize("max_turns", [8, 1])  # a full history keeps its length
def test_the_history_keeps_the_question_as_typed(seed_engine, max_turns):
    conversation = Conversation(max_turns=max_turns)
    seed_engine.ask("Who is Pete Hegseth?", conversation)
    seed_engine.ask("hey bot, who is the US ambassador to Russia?", conversation)
    assert conversation.last.question == "hey bot, who is the US ambassador to Russia?"
