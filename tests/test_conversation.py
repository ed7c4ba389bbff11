"""Conversations: follow-ups resolved from earlier turns, memory bounds, topic switches, chat loops.

The dialogues run on the bundled article with the real model; every turn must quote and cite its
evidence. The unit tests of resolution and memory need no model.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from qa.answer import NOT_FOUND, Answer, AnswerSentence
from qa.cli import _chat_interactive, _chat_json, main, render_answer
from qa.conversation import (
    Conversation,
    PlanParams,
    QueryPlan,
    Turn,
    as_asked,
    at_that_time,
    content_words,
    entities,
    fuse,
    is_follow_up,
    lead_with_new,
    plan,
    rarity_of,
    repeats_itself,
    resolve_one,
    says_nothing_new,
    sentence_adjustment,
    substitute_subject,
    weigh,
)
from qa.retrieval import Hit

from .conftest import ENCODERS

# Each dialogue: (question, evidence the answer must quote and cite) per turn.
DIALOGUES = {
    "pronouns, why, what else": [
        ("Who led Russia after the dissolution of the Soviet Union?", "Boris Yeltsin"),
        ("What did he oppose in 1999?", "1999 NATO intervention in Kosovo"),
        ("Why?", "infringement on Russia's latter-day sphere of influence"),
        ("What else did he criticize?", "NATO's expansion into Eastern Europe"),
    ],
    "ellipsis: and Russia's ambassador": [
        ("Who is the US ambassador to Russia?", "Lynne M. Tracy"),
        ("And Russia's ambassador?", "Alexander Darchiev"),
        ("Where is the American embassy?", "Moscow"),
    ],
    "the American one": [
        ("Who is Russia's ambassador to the United States?", "Alexander Darchiev"),
        ("And the American one?", "Lynne M. Tracy"),
    ],
    # "who's" is no noun to ask about, and "the other one" may be in the field already quoted.
    "the other country's, typed in chat": [
        ("who's the us ambassador in moscow", "Lynne M. Tracy"),
        # "Russia's [ambassador] in DC": the infobox writes "Washington, D.C.", no word "DC".
        ("and russia's in DC?", "Ambassador Alexander Darchiev"),
    ],
    "the other one, typed in chat": [
        ("who's the us ambassador to russia", "Lynne M. Tracy"),
        ("and the other one?", "Ambassador Alexander Darchiev"),
    ],
    "how things were under him: what the last answer said, again": [
        ("Who led Russia right after the Soviet collapse?", "Boris Yeltsin"),
        # "relations" is stemmed "relat", "relationship" stays whole: one word all the same.
        ("How were relations with the US under him?", "the relationship was generally warm under Russian president"),
    ],
    "a person carried over turns": [
        ("When did Putin become President of Russia?", "2000"),
        ("Which American president did he work with?", "George W. Bush"),
        ("On what?", "war in Afghanistan"),
        ("What happened after his re-election?", "annexation of Crimea"),
    ],
    "since when": [
        ("What happened to relations under Joe Biden?", "Russian invasion of Ukraine in 2022"),
        ("Which sanctions were expanded?", "state-owned banks and oligarchs"),
        ("Since when had they been imposed?", "since 2014"),
    ],
    "since when in place": [
        ("what about sanctions?", "state-owned banks and oligarchs"),
        ("since when had they been in place?", "since 2014"),
        # "target" is no word of the article: the sentence says it as "including …".
        ("who did they target?", "state-owned banks and oligarchs"),
    ],
    "yes or no about the last answer": [
        ("When did Putin take over as president?", "in 2000"),
        # The sentence just quoted answers it: it is not demoted as a repeat.
        ("did he want to get along with the US at first?", "initially sought to improve relations"),
    ],
    "who got hit": [
        ("when did sanctions on russia start", "since 2014"),
        ("who got hit", "state-owned banks and oligarchs"),
    ],
    "since when, same sentence": [
        ("Have international sanctions been imposed on Russia?", "sanctions imposed since 2014"),
        ("Since when?", "since 2014"),
    ],
    "what about": [
        ("Who was the Russian president in the 1990s?", "Boris Yeltsin"),
        ("What about in 2000?", "Vladimir Putin"),
        ("Which war did he work on with the United States?", "war in Afghanistan"),
    ],
    "and under": [
        ("Which issues did the countries cooperate on after 2000?", "counterterrorism and arms control"),
        ("And under Yeltsin?", "Bosnia and Herzegovina"),
    ],
    "topic switch and back": [
        ("What did Yeltsin see as a threat to Russia's security?", "NATO's expansion into Eastern Europe"),
        ("Who ordered the suspension of offensive cyber operations against Russia?", "Pete Hegseth"),
        ("What is his position?", "Defense Secretary"),
    ],
    "when was that": [
        ("How did relations change during Trump's second presidency?", "normalize relations with Russia"),
        ("How did the US vote at the United Nations?", "voting against a resolution"),
        ("When was that?", "February 2025"),
    ],
    "why, one sentence": [
        ("How were relations after Putin's re-election in 2012?", "significantly strained"),
        ("Why?", "annexation of Crimea"),
    ],
    "what about, a new person": [
        ("What happened during the presidency of Joe Biden?", "Russian invasion of Ukraine in 2022"),
        ("What about under Trump?", "normalize relations with Russia"),
    ],
    "what about, a new year": [
        ("How were relations in 2012?", "significantly strained"),
        ("What about in 2022?", "Russian invasion of Ukraine in 2022"),
    ],
    "a bare year, then others": [
        ("What happened in 2022?", "Russian invasion of Ukraine in 2022"),
        ("And in 2014?", "sanctions imposed since 2014"),
        ("And in 2000?", "became President of Russia in 2000"),
    ],
    "who did he work with": [
        ("When did Putin become President of Russia?", "2000"),
        ("Who did he work with on the war in Afghanistan?", "George W. Bush"),
        ("What happened after his re-election in 2012?", "annexation of Crimea"),
    ],
    "what else, not the same again": [
        ("What did the two countries cooperate on after 2000?", "counterterrorism and arms control"),
        ("On what else?", "the conflict in Bosnia and Herzegovina"),
    ],
    "follow-ups about what the article never says": [
        ("Who was Russia's president in the 1990s?", "Boris Yeltsin"),
        ("What was his favourite food?", None),  # the person is known, the topic is not
        ("What did he oppose in 1999?", "1999 NATO intervention in Kosovo"),
        ("What about the economy?", None),
    ],
    "a person the documents say nothing more about": [
        ("Who is the US ambassador to Russia?", "Lynne M. Tracy"),
        ("When was she born?", None),  # "born" is no misspelling of "Boris"
        ("Where is her embassy?", "Moscow"),
    ],
    "on what, with whom": [
        ("Did Putin cooperate with the United States?", "improve relations with the United States"),
        ("On what?", "war in Afghanistan"),
        # "American" qualifies the president asked about; it is no new subject.
        ("With which American president?", "George W. Bush"),
    ],
    "and X: an item for the last question's frame": [
        ("What are the shared interests?", "nuclear safety and security"),
        ("What about trade?", None),  # no shared interest the article names
        # "space" alone could be anything; with "shared interests" one sentence holds it all.
        ("And space?", "space exploration"),
    ],
    "after that, then: the time the last answers named": [
        ("When did the Soviet Union dissolve?", "dissolution of the Soviet Union in 1991"),
        ("Who led Russia after that?", "Boris Yeltsin"),
        ("How were relations then?", "generally warm"),
    ],
    "a successor, then he": [
        ("Who succeeded Yeltsin?", "Vladimir Putin became President of Russia in 2000"),
        ("When?", "in 2000"),
        ("What did he do after 9/11?", "war in Afghanistan"),  # he: Putin, not Yeltsin
    ],
    "before that: the time before the last answer's": [
        ("How were relations under Yeltsin?", "generally warm"),
        ("And before that?", "various Russian governments since 1803"),
    ],
    "what came next, until nothing is later": [
        ("What happened in 2012?", "re-election to the Russian presidency in 2012"),
        # The story's next step: the sentence after it, which states no time of its own.
        ("What came next?", "Deterioration continued with the Russian military intervention in the Syrian Civil War"),
        ("And after that?", "invasion of Ukraine in 2022"),  # on from 2012: the years decide again
        ("And after that?", None),  # February 2025 is the article's last time
    ],
    "did that last: the story goes on in the next sentence": [
        ("In the early Yeltsin years, which issues did Washington and Moscow work on together?",
         "arms control, counterterrorism, and the conflict in Bosnia and Herzegovina"),
        # No word of it is the answer's ("last" is none): the sentence after the last answer's is.
        ("Did that cooperation last?", "During Yeltsin's second term, United States–Russia relations became more strained."),
    ],
    "did it stay that way: the same, in other words": [
        ("How were relations right after the USSR fell apart?", "generally warm under Russian president Boris Yeltsin"),
        ("what did they work on together?", "arms control, counterterrorism"),
        ("did it stay that way?", "During Yeltsin's second term, United States–Russia relations became more strained."),
    ],
    "what made it worse: after the sentence the last answer led with": [
        ("What happened to relations after Putin's 2012 re-election?", "significantly strained due to Russia's annexation of Crimea"),
        ("What caused that?", "due to Russia's annexation of Crimea"),
        ("Did anything else make it worse?", "Deterioration continued with the Russian military intervention in the Syrian Civil War"),
    ],
    "when: the time the passage gives before it": [
        ("What did Pete Hegseth order?", "suspension of offensive cyber operations"),
        # The sentence says no time; the one before it in its passage does, and both are quoted.
        ("When?", "in February 2025"),
    ],
    "when, and the documents give no time": [
        ("Who is the US ambassador to Russia?", "Lynne M. Tracy"),
        ("When?", None),  # neither the infobox line nor anything before it says when
    ],
    "when: a date that is no year": [
        ("Who did Putin work with on the war in Afghanistan?", "George W. Bush"),
        ("When?", "following the 9/11 attacks"),
    ],
    "and then, and then: a timeline": [
        ("What happened in 1991?", "dissolution of the Soviet Union in 1991"),
        ("And then?", "became President of Russia in 2000"),
        ("And then?", "re-election to the Russian presidency in 2012"),
    ],
    "before that, the nearest earlier time": [
        ("What happened in 2022?", "Russian invasion of Ukraine in 2022"),
        ("And before that?", "re-election to the Russian presidency in 2012"),
    ],
    # Before the time the sentence is about (1991), not before every time it names (1803).
    "before that, when the answer names two times": [
        ("Since when do the US and Russia have diplomatic relations?", "since the establishment of the latter country in 1991"),
        ("And before that?", "various Russian governments since 1803"),
    ],
    "when did they start: the time of what the last answer said": [
        ("What sanctions does the article mention?", "sanctions imposed since 2014"),
        # Its own evidence is low; it asks about the last answer, whose sentence says when.
        ("When did they start?", "sanctions imposed since 2014"),
    ],
    "why is that significant: no more than why": [
        ("What did the US do at the UN in February 2025?", "voting against a resolution"),
        ("Why is that significant?", "dramatic departure from the long-standing American position"),
    ],
    "his predecessor: the full name from the last answer": [
        ("Did relations get worse under Putin?", "re-election to the Russian presidency in 2012"),
        ("Who was president before him?", "Boris Yeltsin (1991–99)"),
    ],
    # "then": the time the last answer stated ("…in 1991…" → "Who was Russia's president in 1991?").
    "then": [
        ("When did the Soviet Union dissolve?", "After the dissolution of the Soviet Union in 1991"),
        ("Who was Russia's president then?", "Boris Yeltsin (1991–99)"),
    ],
    # "What triggered it?" asks for a cause: a frame, no word the article must use.
    "a cause asked for": [
        ("What did Bush and Putin cooperate on?", "war in Afghanistan"),
        ("What triggered it?", "following the 9/11 attacks"),
    ],
    # "Anything else?" asks what "What else?" does: something the last answer did not say.
    "anything else": [
        ("What did Yeltsin oppose?", "1999 NATO intervention in Kosovo"),
        ("anything else?", "NATO's expansion into Eastern Europe"),
    ],
    # The reason may stand in the sentence the last answer quoted ("…strained due to …"), or be
    # missing from it: then the documents do not say why.
    "what caused that: the reason in the sentence said": [
        ("What happened to relations after Putin's 2012 re-election?", "significantly strained"),
        ("What caused that?", "due to Russia's annexation of Crimea"),
    ],
    "what event triggered it: a noun before the cause verb": [
        ("Under which US president did relations deteriorate further?", "presidency of Joe Biden"),
        ("What event triggered it?", "following the Russian invasion of Ukraine in 2022"),
    ],
    "why did he do it: the documents say what, not why": [
        ("What did Hegseth order?", "suspension of offensive cyber operations"),
        ("Why did he do it?", None),
        ("Who is Russia's ambassador to the United States?", "Alexander Darchiev"),
    ],
    # "How long has …?" asks since when: a field that names her says no time.
    "how long has she been ambassador": [
        ("Who is the US ambassador to Russia?", "Lynne M. Tracy"),
        ("How long has she been in the job?", None),
    ],
    # "What else …?" after a topic switch: another cause of the same thing, near the last answer.
    "what else, around then": [
        ("why did yeltsin oppose the kosovo intervention", "infringement on Russia's latter-day sphere of influence"),
        ("what else did he criticize?", "NATO's expansion into Eastern Europe"),
        ("unrelated but what happened with syria?", "Russian military intervention in the Syrian Civil War"),
        ("what else strained things around then?", "annexation of Crimea"),
    ],
    # "In the early years of Yeltsin's presidency…" follows "(1991–99)" in its passage: no answer
    # to the early 2000s, nor are its issues those of Putin's first years.
    "the early 2000s, on what issues": [
        ("how were things in the early 2000s", "he initially sought to improve relations with the United States"),
        ("on what issues?", "The two countries cooperated on issues such as counterterrorism and arms control"),
    ],
    "after a declined question": [
        ("What is the capital of France?", None),
        ("Who led Russia after the dissolution of the Soviet Union?", "Boris Yeltsin"),
        ("What did he oppose in 1999?", "1999 NATO intervention in Kosovo"),
    ],
}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _cites(answer, evidence: str) -> bool:
    """The evidence is quoted in the answer and highlighted in a source the answer cites."""
    cited = [c for c in answer.citations if c.cited]
    return evidence in answer.answer and any(
        evidence in _normalise(c.text[s:e]) for c in cited for s, e in c.highlights
    )


@pytest.mark.parametrize("name", list(DIALOGUES))
def test_every_turn_of_a_dialogue_cites_its_evidence(seed_engine, name):
    conversation = Conversation()
    for question, evidence in DIALOGUES[name]:
        answer = seed_engine.ask(question, conversation)
        if evidence is None:  # the documents do not say
            assert not answer.answered, (name, question, answer.answer)
            continue
        assert answer.answered, (name, question)
        assert _cites(answer, evidence), (name, question, answer.answer)
        numbers = {c.n for c in answer.citations}
        assert {int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)} <= numbers
    assert len(conversation) == len(DIALOGUES[name])


def test_a_follow_up_quotes_the_new_information_first(seed_engine):
    conversation = Conversation()
    first = seed_engine.ask("Who led Russia after the dissolution of the Soviet Union?", conversation)
    assert "Boris Yeltsin" in first.answer
    answer = seed_engine.ask("What did he oppose in 1999?", conversation)
    assert "Kosovo" in answer.sentences[0].text
    assert "generally warm" not in answer.answer  # the last answer's sentence is not repeated
    assert answer.understood_as.startswith("What did Yeltsin oppose in 1999?")
    # Without the year too: "he" becomes the surname the article goes on to use ("…was strongly
    # opposed by Yeltsin"), not the full name of the one sentence that introduced him.
    conversation = Conversation()
    seed_engine.ask("Who was Russia's president in the 1990s?", conversation)
    answer = seed_engine.ask("What did he oppose?", conversation)
    assert answer.understood_as.startswith("What did Yeltsin oppose?")
    assert "generally warm" not in answer.answer and "opposed by Yeltsin" in answer.answer


def test_understood_as_is_shown_for_a_rewritten_question(seed_engine):
    conversation = Conversation()
    first = seed_engine.ask("When did Putin become President of Russia?", conversation)
    assert first.understood_as is None
    answer = seed_engine.ask("Which American president did he work with?", conversation)
    assert answer.understood_as.startswith("Which American president did Putin work with?")
    assert answer.to_json()["understood_as"] == answer.understood_as
    assert render_answer(answer).startswith(f"Understood as: {answer.understood_as}\n")


def test_understood_as_names_the_context_that_tells_something(seed_engine):
    conversation = Conversation()
    seed_engine.ask("What did Trump do at the UN?", conversation)
    answer = seed_engine.ask("was that new?", conversation)
    # The answer's rare names; "Russia", in every passage of the article, is left out.
    assert answer.understood_as == "was that new? (context: Donald Trump, United Nations)"
    conversation.reset()
    seed_engine.ask("Do the US and Russia consider each other adversaries?", conversation)
    answer = seed_engine.ask("Despite that, how do they view each other?", conversation)
    # No name that tells something: the answer's two rarest words.
    assert answer.understood_as.endswith("(context: adversaries, foreign)")


def test_a_self_contained_new_question_is_not_dragged_back(seed_engine):
    conversation = Conversation()
    seed_engine.ask("Who led Russia after the dissolution of the Soviet Union?", conversation)
    seed_engine.ask("What did he oppose in 1999?", conversation)
    alone = seed_engine.ask("Who ordered the suspension of offensive cyber operations against Russia?")
    switched = seed_engine.ask("Who ordered the suspension of offensive cyber operations against Russia?", conversation)
    assert switched.understood_as is None
    assert switched.answer == alone.answer and "Pete Hegseth" in switched.answer
    assert [c.text for c in switched.citations] == [c.text for c in alone.citations]
    # The conversation now is about Hegseth: "he" follows the switch.
    answer = seed_engine.ask("What did he order?", conversation)
    assert "Pete Hegseth" in answer.understood_as and "cyber operations" in answer.answer


def test_a_declined_question_does_not_sink_the_next_one(seed_engine):
    conversation = Conversation()
    declined = seed_engine.ask("What is the capital of France?", conversation)
    assert not declined.answered
    alone = seed_engine.ask("What did he oppose in 1999?")
    answer = seed_engine.ask("What did he oppose in 1999?", conversation)
    # The declined turn's words must not drag an answerable question below the threshold.
    assert answer.answered and _cites(answer, "1999 NATO intervention in Kosovo")
    assert answer.answer == alone.answer
    # Nobody for "he" to be, and a declined turn is no context: the question is taken as asked.
    assert answer.understood_as is None
    assert len(conversation) == 2


def test_a_filler_word_is_no_word_the_documents_must_use(seed_engine):
    cited = []
    for follow_up in ("Did they actually cooperate on any of those?", "Did they cooperate on any of those?"):
        conversation = Conversation()
        seed_engine.ask("What interests do the US and Russia share?", conversation)
        answer = seed_engine.ask(follow_up, conversation)
        # "actually" is no word of the article, but no topic either: it must not raise the bar.
        assert answer.answered, follow_up
        assert _cites(answer, "cooperative relationship") or _cites(answer, "cooperated on issues such as")
        cited.append([c.start_line for c in answer.citations if c.cited])
    assert cited[0] == cited[1]


def test_a_self_contained_question_answered_alone_is_taken_as_asked(seed_engine):
    conversation = Conversation()
    seed_engine.ask("Who led Russia after the dissolution of the Soviet Union?", conversation)
    # It shares "Russia" with the last turn and points back at nothing; it is answered on its own,
    # so the last turn's words ("led", "dissolution") are not added to it.
    alone = seed_engine.ask("When did Russia annex Crimea?")
    answer = seed_engine.ask("When did Russia annex Crimea?", conversation)
    assert answer.understood_as is None
    assert _cites(answer, "annexation of Crimea") and answer.answer == alone.answer
    assert [c.text for c in answer.citations] == [c.text for c in alone.citations]


def test_reset_forgets_the_history(seed_engine):
    conversation = Conversation()
    seed_engine.ask("Who led Russia after the dissolution of the Soviet Union?", conversation)
    conversation.reset()
    assert len(conversation) == 0
    answer = seed_engine.ask("What did he oppose in 1999?", conversation)
    assert answer.understood_as is None  # nothing to resolve "he" from


def test_without_a_conversation_nothing_is_resolved(seed_engine):
    answer = seed_engine.ask("What did he oppose in 1999?")
    assert answer.understood_as is None


# -- memory -----------------------------------------------------------------------------------


def _turn(question: str, answer: str = "", at: float | None = None, focus: str = "") -> Turn:
    return Turn(question, question, answer, at=time.time() if at is None else at, focus=focus)


def test_memory_is_bounded_in_turns():
    conversation = Conversation(max_turns=3)
    for i in range(5):
        conversation.add(_turn(f"question {i}"))
    assert [t.question for t in conversation.turns] == ["question 2", "question 3", "question 4"]
    assert len(conversation) == 3


def test_memory_is_bounded_in_age():
    conversation = Conversation(max_turns=8, max_age_s=60)
    conversation.add(_turn("old", at=time.time() - 120))
    conversation.add(_turn("recent", at=time.time() - 30))
    assert [t.question for t in conversation.turns] == ["recent"]
    conversation.add(_turn("new"))
    assert conversation.last.question == "new" and len(conversation) == 2


@pytest.mark.parametrize(("question", "resolved"), [
    ("What did he oppose?", "What did Yeltsin oppose?"),
    ("What was his role?", "What was Yeltsin's role?"),
    ("And her Russian counterpart?", "And Yeltsin's Russian counterpart?"),
    ("Who did Bush meet with her?", "Who did Bush meet with Yeltsin?"),
    ("Did Putin call her in 1999?", "Did Putin call Yeltsin in 1999?"),
    ("Did they appoint her US ambassador?", "Did they appoint Yeltsin US ambassador?"),  # her: the object
    ("Did Lavrov meet her In Moscow?", "Did Lavrov meet Yeltsin In Moscow?"),
    # A pronoun is not the person its own question names.
    ("what did yeltsin think of him?", "what did yeltsin think of him?"),
    ("Did he meet Boris in yeltsin Park?", "Did Yeltsin meet Boris in yeltsin Park?"),  # not named: lower case
])
def test_a_pronoun_becomes_the_persons_surname(question, resolved):
    from qa.conversation import resolve

    assert resolve(question, "Boris Yeltsin") == resolved


def test_expired_turns_are_not_used_to_resolve():
    conversation = Conversation(max_age_s=60)
    conversation.add(_turn("Who led Russia in the 1990s?", "Russian president Boris Yeltsin", at=time.time() - 600))
    assert plan("What did he oppose?", conversation).understood_as is None


def test_reset_clears_the_memory():
    conversation = Conversation()
    conversation.add(_turn("a"))
    conversation.add(_turn("b"))
    conversation.reset()
    assert conversation.turns == [] and conversation.last is None


# -- resolution (no model) ------------------------------------------------------------------------


YELTSIN = ("After the dissolution of the Soviet Union in 1991, the relationship was generally warm under "
           "Russian president Boris Yeltsin (1991–99).")


def _after(question: str, answer: str) -> Conversation:
    conversation = Conversation()
    conversation.add(Turn(question, question, f"{answer} [1]", focus=answer, quoted=[answer]))
    return conversation


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did he oppose in 1999?", True),
        ("And Russia's ambassador?", True),
        ("What about in 2000?", True),
        ("Why?", True),
        ("Since when?", True),
        ("On what?", True),
        ("Which sanctions did the United States impose in response?", True),
        # The same words with an object are no reference to an earlier turn.
        ("What did the United States do in response to the invasion of Ukraine?", False),
        ("What happened as a result of the 2014 annexation of Crimea?", False),
        ("Who was president at the time of the dissolution of the Soviet Union?", False),
        ("What did Ukraine get in return for giving up nuclear weapons?", False),
        ("Who ordered the suspension of offensive cyber operations against Russia?", False),
        ("Is there a fee for filing an appeal in California?", False),
    ],
)
def test_is_follow_up(question, expected):
    assert is_follow_up(question) is expected


@pytest.mark.parametrize(
    ("question", "times"),
    [
        ("What happened after that?", ((2000, 2014), (2000, 9999))),
        ("And after?", ((2000, 2014), (2000, 9999))),
        ("What came next?", ((2000, 2014), (2000, 9999))),
        ("What followed?", ((2000, 2014), (2000, 9999))),
        ("And before that?", ((1976, 1990), (0, 1990))),
        ("What happened after the invasion?", ()),  # a time of its own, not the last answer's
        ("And then?", ((2000, 2014), (2000, 9999))),
        ("What happened then?", ()),  # at that time, not after it
        ("Then what?", ((2000, 2014), (2000, 9999))),
        ("What followed that?", ((2000, 2014), (2000, 9999))),
        ("And later?", ((2000, 2014), (2000, 9999))),
        ("Who was next?", ((2000, 2014), (2000, 9999))),
        ("What preceded that?", ((1976, 1990), (0, 1990))),
        ("And earlier?", ((1976, 1990), (0, 1990))),
    ],
)
def test_after_that_is_the_time_after_the_last_answers(question, times):
    answer = "The relationship was warm under Russian president Boris Yeltsin (1991–99)."
    query_plan = plan(question, _after("Who was president in the 1990s?", answer))
    assert query_plan.times == times
    if times:  # shown with the question as understood
        assert query_plan.understood_as.endswith("(before 1991)" if times[0][0] == 1976 else "(after 1999)")


@pytest.mark.parametrize(
    ("question", "understood"),
    [
        ("Who was Russia's president then?", "Who was Russia's president in 1991?"),
        ("What did the US do at that time?", "What did the US do in 1991?"),
        ("What happened then?", "What happened in 1991?"),
        ("And then?", "And then?"),  # what came next (the times after the answer's)
        ("Who was president in 2000 then?", "Who was president in 2000 then?"),  # a time of its own
        ("What was then decided?", "What was then decided?"),  # "then" mid-question: "next"
        ("How have relations changed since then?", "How have relations changed since then?"),
        ("What happened before then?", "What happened before then?"),
        ("What then?", "What then?"),
        ("Who is the current ambassador then?", "Who is the current ambassador then?"),
        ("At that time, who led Russia?", "In 1991, who led Russia?"),
    ],
)
def test_then_is_the_time_the_last_answer_stated(question, understood):
    last = Turn("When did the Soviet Union dissolve?", "When did the Soviet Union dissolve?", "…",
                focus="After the dissolution of the Soviet Union in 1991, the relationship was generally warm "
                      "under Russian president Boris Yeltsin (1991–99).")
    assert at_that_time(question, last) == understood


def test_then_without_a_time_in_the_last_answer_stays():
    last = Turn("What did Hegseth order?", "What did Hegseth order?", "…",
                focus="Defense Secretary Pete Hegseth has also ordered the suspension of offensive cyber operations.")
    assert at_that_time("Who was president then?", last) == "Who was president then?"


def test_after_that_twice_follows_the_time_the_last_answer_was_held_to():
    # The last answer quoted a sentence without a year of its own ("Putin worked closely with …
    # Bush", after "…in 2000"): the next "And then?" goes on from the time that answer was about.
    conversation = _after("And then?", "Putin worked closely with United States president George W. Bush.")
    conversation.replace_last(replace(conversation.last, times=((2000, 2014), (2000, 9999))))
    assert plan("And then?", conversation).times == ((2015, 2029), (2015, 9999))


def test_an_elliptical_question_keeps_the_frame_it_was_given():
    # "And energy?" after "And space?" after "What are the shared interests?": still shared interests.
    conversation = _after("And space?", "…nonproliferation, counterterrorism, and space exploration…")
    conversation.replace_last(replace(conversation.last, frame="What are the shared interests?"))
    assert plan("And energy?", conversation).frame == "What are the shared interests?"
    assert plan("What about trade?", conversation).frame == "What are the shared interests?"
    assert plan("Why?", conversation).frame == ""


def test_a_nationality_before_a_noun_is_no_new_subject():
    from qa.conversation import _new_subjects

    history = "Who is Putin? Putin is president."
    assert _new_subjects("With which American president?", history) == []
    assert _new_subjects("What did Reagan do?", history) == ["Reagan"]  # a name, though it ends in "-an"
    assert _new_subjects("How did Iran respond?", history) == ["Iran"]
    assert _new_subjects("And the American one?", history) == ["American"]  # resolve_one's case


def test_names_are_whole_and_sentence_starts_are_not_names():
    names = entities(YELTSIN + " Putin worked closely with United States president George W. Bush.")
    assert "Boris Yeltsin" in names and "George W. Bush" in names and "Soviet Union" in names
    assert "After" not in names and "1991" in names
    assert "Bosnia and Herzegovina" in entities("the conflict in Bosnia and Herzegovina.")


def test_he_is_the_person_a_who_question_was_answered_with():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("What did he oppose in 1999?", conversation)
    assert p.resolved == "What did Yeltsin oppose in 1999?"
    assert p.understood_as.startswith(p.resolved) and p.follow_up
    # The expansion carries the names of the last answer's top sentence.
    assert any("Soviet Union" in text for text, _ in p.queries[1:])


def test_he_stays_the_subject_when_a_who_question_asked_for_an_object():
    bush = "Putin worked closely with United States president George W. Bush on the war in Afghanistan."
    conversation = _after("Who did Vladimir Putin work with on the war in Afghanistan?", bush)
    p = plan("What happened after his re-election in 2012?", conversation)
    assert p.resolved == "What happened after Putin's re-election in 2012?"
    # "Who could defeat Putin?": "who" is the subject, so the answer's person is the topic now.
    conversation = _after("Who could defeat Vladimir Putin in 2012?", "Alexei Navalny could defeat Vladimir Putin.")
    assert plan("What did he do next?", conversation).resolved == "What did Navalny do next?"
    # "Who is …?" asks for the subject: the answer's person is who the conversation is about now.
    conversation = _after("Who is the US ambassador to Russia?", "The US ambassador is Lynne M. Tracy.")
    assert plan("What did she say in 2023?", conversation).resolved == "What did Tracy say in 2023?"


def test_what_about_a_new_subject_asks_the_last_question_about_it(seed_engine):
    conversation = Conversation()
    seed_engine.ask("What happened during the presidency of Joe Biden?", conversation)
    answer = seed_engine.ask("What about under Trump?", conversation)
    assert answer.understood_as == "What happened during the presidency of Trump?"
    conversation = Conversation()
    seed_engine.ask("How were relations in 2012?", conversation)
    assert seed_engine.ask("What about in 2022?", conversation).understood_as == "How were relations in 2022?"


@pytest.mark.parametrize(
    ("question", "last", "expected"),
    [
        ("What about under Trump?", "What happened during the presidency of Joe Biden?",
         "What happened during the presidency of Trump?"),
        ("And Vladimir Putin?", "What did Boris Yeltsin oppose?", "What did Vladimir Putin oppose?"),
        ("How about in 2014?", "How were relations in 2012?", "How were relations in 2014?"),
        ("What about Yeltsin?", "What was Vladimir Putin's position?", "What was Yeltsin's position?"),
        # Not an ellipsis, or unclear what the new name replaces: left to the expansion.
        ("What did Trump do?", "What happened during the presidency of Joe Biden?", None),
        ("What about Putin?", "Who is the US ambassador to Russia?", None),  # a person for a place
        ("What about NATO?", "What did Boris Yeltsin oppose?", None),
        ("What about Yeltsin?", "How did Vladimir Putin and George W. Bush cooperate?", None),  # which one?
        ("What about the President?", "What did Joe Biden do in 2021?", None),  # a title, no name
        ("What about 3?", "What was the H100 price after 100 days?", "What was the H100 price after 3 days?"),
        # A decade is replaced whole; a question that would come back unchanged is no rewrite.
        ("What about in 2000?", "Who was the Russian president in the 1990s?", "Who was the Russian president in the 2000?"),
        ("What about the 2010s?", "Who led Russia in the 1990s?", "Who led Russia in the 2010s?"),
        ("What about 3?", "What gave a 2.5x speedup?", None),  # "2.5" is not a whole word there
    ],
)
def test_substitute_subject(question, last, expected):
    assert substitute_subject(question, last) == expected


def test_he_is_the_person_the_last_question_named():
    answer = "After Vladimir Putin became President of Russia in 2000, he initially sought to improve relations."
    conversation = _after("When did Putin become President of Russia?", answer)
    assert plan("Who did he work with?", conversation).resolved == "Who did Putin work with?"
    assert plan("What was his goal?", conversation).resolved == "What was Putin's goal?"


def test_who_someone_worked_with_keeps_the_conversation_about_them():
    conversation = _after("When did Putin become President of Russia?",
                          "After Vladimir Putin became President of Russia in 2000, he initially sought to improve relations.")
    conversation.add(Turn("who did he work with on afghanistan?", "who did Putin work with on afghanistan?",
                          "Putin worked closely with United States president George W. Bush. [1]",
                          focus="Putin worked closely with United States president George W. Bush.",
                          person="Vladimir Putin"))
    # The answer names Bush, but the question asked whom Putin worked with: "him" is still Putin.
    assert plan("what did bush think of him?", conversation).resolved == "what did bush think of Putin?"


def test_the_person_is_carried_through_turns_without_pronouns():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    conversation.add(Turn("Why?", "Why?", "Yeltsin saw it as an infringement. [1]", person="Boris Yeltsin"))
    assert plan("What else did he criticize?", conversation).resolved == "What else did Yeltsin criticize?"


def test_the_one_takes_the_noun_of_the_last_question():
    conversation = _after("Who is Russia's ambassador to the United States?", "Ambassador Alexander Darchiev.")
    assert plan("And the American one?", conversation).resolved == "And the American ambassador?"


def test_a_new_subject_keeps_the_frame_but_not_the_old_names():
    conversation = _after("What did the two countries cooperate on under Putin?",
                          "Putin worked closely with United States president George W. Bush.")
    p = plan("And under Yeltsin?", conversation)
    expansion = p.queries[1][0]
    assert "cooperate" in expansion and "Putin" not in expansion and "Bush" not in expansion
    assert p.person is None


def test_the_frame_of_the_last_question_is_no_context():
    conversation = _after("What happened under Biden?", "Relations further deteriorated during the presidency of Joe Biden.")
    p = plan("And the economy?", conversation)
    assert p.follow_up and len(p.queries) > 1
    assert "Biden" in p.queries[1][0]  # what the last turn was about
    assert all("happened" not in text for text, _ in p.queries)  # not how it was asked


def test_a_question_sharing_nothing_with_the_history_is_a_topic_switch():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("Who ordered the suspension of offensive cyber operations?", conversation)
    assert p.queries == [("Who ordered the suspension of offensive cyber operations?", 1.0)]
    assert p.understood_as is None and not p.follow_up


def test_the_history_weighs_less_the_better_the_question_does_alone():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("What did he oppose in 1999?", conversation)
    shares = [1.0 - weigh(p, c).queries[0][1] for c in (0.1, 0.35, 0.5, 0.65, 0.9)]
    assert shares == sorted(shares, reverse=True)
    assert shares[0] == pytest.approx(0.6) and shares[-1] == pytest.approx(0.15)
    assert sum(w for _, w in weigh(p, 0.5).queries) == pytest.approx(1.0)


def test_a_self_contained_question_that_retrieves_well_alone_drops_the_history():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("Which NATO intervention did Russia oppose in 1999?", conversation)  # shares "Russia"
    assert p.follow_up and len(p.queries) > 1
    confident = weigh(p, 0.9)
    assert confident.queries == [("Which NATO intervention did Russia oppose in 1999?", 1.0)]
    assert confident.understood_as is None and not confident.follow_up
    assert len(weigh(p, 0.2).queries) > 1


def test_context_words_the_documents_never_use_are_left_out(seed_engine):
    rarity = rarity_of(seed_engine.index().keyword)
    conversation = _after("Of course I knew it, just teasing. What did Yeltsin oppose in 1999?", YELTSIN)
    p = plan("Why?", conversation, rarity=rarity)
    expansion = p.queries[1][0]
    assert "oppose" in expansion and "Yeltsin" in expansion and "1999" in expansion
    assert "teasing" not in expansion and "knew" not in expansion
    # Without the corpus' words nothing can be told apart: every content word stays.
    assert "teasing" in plan("Why?", conversation).queries[1][0]


def test_a_question_for_something_else_leans_less_on_the_history():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)

    def history_share(question: str) -> float:
        p = weigh(plan(question, conversation), 0.2)
        assert p.follow_up and len(p.queries) > 1
        return 1.0 - p.queries[0][1]

    same = history_share("What did he oppose?")
    assert history_share("Which other leaders did he oppose?") == pytest.approx(same * 0.5)
    # "What else …?" asks for another object of the same thing: the history is its topic.
    assert history_share("What else did he oppose?") == pytest.approx(same)
    # More of the same, and "each other", are no other thing.
    assert history_share("Tell me more about what he opposed") == pytest.approx(same)
    assert history_share("Did he and Clinton oppose each other?") == pytest.approx(same)


def test_another_thing_of_a_kind_the_documents_never_name_leans_in_full():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    rarity = {"leaders": 1.0, "games": 0.0}

    def history_share(question: str) -> float:
        p = weigh(plan(question, conversation, rarity=lambda ws: [rarity.get(w, 0.0) for w in ws]), 0.2)
        return 1.0 - p.queries[0][1]

    # "leaders" is a word of the documents, "games" is not: only "other leaders" is a kind of thing.
    assert history_share("Which other games?") == pytest.approx(2 * history_share("Which other leaders?"))


def test_a_question_without_words_of_its_own_leans_on_its_context():
    conversation = _after("What did Boris Yeltsin oppose in 1999?", "The 1999 NATO intervention in Kosovo.")
    p = weigh(plan("Why?", conversation), 0.2)
    assert p.queries[0][1] < 0.2 and "Kosovo" in p.queries[1][0]


def test_a_follow_up_demotes_what_was_said_and_bare_labels():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("What did he oppose in 1999?", conversation)
    assert sentence_adjustment(p, YELTSIN) < 0
    assert sentence_adjustment(p, "Russian–American relations") < 0
    assert sentence_adjustment(p, "The 1999 NATO intervention in Kosovo was strongly opposed by Yeltsin.") == 0
    # A word of the new question keeps a repeated sentence in play — unless it asks for something else.
    assert sentence_adjustment(plan("Who was the president then?", conversation), YELTSIN) == 0
    assert sentence_adjustment(plan("Who else was president?", conversation), YELTSIN) < 0
    assert sentence_adjustment(plan("Why?", conversation), "He did so because of the war.") > 0


def _hit(row: int, score: float = 0.5) -> Hit:
    return Hit(row, score, 0.5, 0.5, np.array([row]), np.array([0.5]))


def _answer(*quoted: tuple[str, float]) -> Answer:
    if not quoted:
        return Answer("q", NOT_FOUND, False, [])
    return Answer("q", " ".join(f"{t} [1]" for t, _ in quoted), True, [],
                  [AnswerSentence(t, 1, 1, v) for t, v in quoted])


KOSOVO = "The 1999 NATO intervention in Kosovo was strongly opposed by Yeltsin."


def test_an_answer_that_only_repeats_the_last_one_says_nothing_new():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("Any reason for the warmth?", conversation)
    assert says_nothing_new(p, _answer((YELTSIN, 1.0)))  # the old sentence alone: nothing new
    assert not says_nothing_new(p, _answer((YELTSIN, 1.0), (KOSOVO, 0.8)))  # something new beside it
    assert says_nothing_new(p, _answer())  # declined: the caller tries the question alone
    # The same sentence may answer a question about something it holds, or one without words.
    assert not says_nothing_new(plan("In which years was Yeltsin president?", conversation), _answer((YELTSIN, 1.0)))
    assert not says_nothing_new(plan("Since when?", conversation), _answer((YELTSIN, 1.0)))
    # A question taken as asked (no history) is never second-guessed.
    assert not says_nothing_new(QueryPlan([("q", 1.0)], None, "q"), _answer((YELTSIN, 1.0)))


def test_the_sentence_a_resolved_question_names_is_not_a_repeat():
    hegseth = "Defense Secretary Pete Hegseth has also ordered the suspension of offensive cyber operations."
    conversation = _after("Who ordered the suspension of offensive cyber operations?", hegseth)
    p = plan("What is his position?", conversation)
    assert p.resolved == "What is Hegseth's position?"
    assert not says_nothing_new(p, _answer((hegseth, 1.0)))


def test_a_follow_up_leads_with_the_passage_of_its_new_sentence():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("Any reason for the warmth?", conversation)
    hits = [_hit(1, 0.9), _hit(2, 0.8), _hit(3, 0.7)]
    sentences = {1: YELTSIN, 2: "Unrelated.", 3: KOSOVO}
    reordered = lead_with_new(p, hits, _answer((YELTSIN, 1.0), (KOSOVO, 0.8)), sentences)
    assert [h.row for h in reordered] == [3, 1, 2]
    assert [h.score for h in reordered] == [0.9, 0.8, 0.7]  # the scores stay in order
    # Nothing to do when the answer already leads with something new, or has nothing new.
    assert lead_with_new(p, hits, _answer((KOSOVO, 1.0), (YELTSIN, 0.8)), sentences) is None
    assert lead_with_new(p, hits, _answer((YELTSIN, 1.0)), sentences) is None
    assert lead_with_new(plan("Why?", conversation), hits, _answer((YELTSIN, 1.0), (KOSOVO, 0.8)), sentences) is None


def test_what_else_must_not_repeat_what_was_quoted():
    conversation = _after("What did Yeltsin criticize?", "Yeltsin criticized NATO's expansion.")
    p = plan("What else did he criticize?", conversation)
    assert p.wants_new and "Yeltsin criticized NATO's expansion." in p.quoted_before
    assert repeats_itself(p, _answer(("Yeltsin criticized NATO's expansion.", 0.9)))
    # Beside something new it is still said again: "what else" quotes the new alone.
    assert repeats_itself(p, _answer(("Yeltsin criticized NATO's expansion.", 0.9), ("He opposed Kosovo.", 0.8)))
    assert not repeats_itself(p, _answer(("He opposed Kosovo.", 0.8)))
    assert not repeats_itself(plan("Why did he criticize it?", conversation), _answer(("Yeltsin criticized NATO's expansion.", 0.9)))


def test_a_follow_up_taken_as_asked_keeps_its_resolution():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = as_asked(plan("What did he oppose in 1999?", conversation), "What did he oppose in 1999?")
    assert p.queries == [("What did Yeltsin oppose in 1999?", 1.0)] and not p.follow_up
    assert p.understood_as == "What did Yeltsin oppose in 1999?" and p.person == "Boris Yeltsin"
    unchanged = as_asked(plan("Any reason for the warmth?", conversation), "Any reason for the warmth?")
    assert unchanged.understood_as is None and unchanged.queries == [("Any reason for the warmth?", 1.0)]


def test_a_self_contained_question_keeps_history_only_while_it_would_be_declined():
    conversation = _after("Who led Russia after the dissolution of the Soviet Union?", YELTSIN)
    p = plan("Which NATO intervention did Russia oppose in 1999?", conversation)  # shares "Russia"
    assert len(weigh(p, 0.3).queries) > 1  # below the answer threshold: the history helps
    assert weigh(p, 0.4).queries == [("Which NATO intervention did Russia oppose in 1999?", 1.0)]
    leaning = plan("What did he oppose in 1999?", conversation)
    assert len(weigh(leaning, 0.4).queries) > 1  # a question pointing back keeps its history


def test_rank_fusion_weighs_the_two_rankings():
    alone = [_hit(1), _hit(2), _hit(3)]
    history = [_hit(3), _hit(4), _hit(1)]
    assert [h.row for h in fuse(alone, history, 0.9, 3)][0] == 1
    assert [h.row for h in fuse(alone, history, 0.1, 3)][0] == 3
    fused = fuse(alone, history, 0.5, 10)
    assert sorted(h.row for h in fused) == [1, 2, 3, 4]
    assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)
    assert fuse([_hit(7)], [_hit(7)], 0.5, 1)[0].score == pytest.approx(1.0)


def _chunk(row: int, *sentences: int, merged: tuple[int, ...] = ()) -> Hit:
    return Hit(row, 0.5, 0.5, 0.5, np.array(sentences), np.full(len(sentences), 0.5), merged=merged)


def test_rank_fusion_lists_a_passage_once_whichever_chunk_leads_it():
    # Retrieval merged chunks 5 and 6 of one paragraph in one ranking; the other leads with 6.
    merged = _chunk(5, 50, 51, 52, merged=(6,))
    fused = fuse([merged, _hit(1)], [_chunk(6, 51, 52), _hit(2)], 0.5, 10)
    assert [h.rows for h in fused] == [(5, 6), (1,), (2,)]  # once, first, the whole passage shown
    # Two chunks that only share a sentence (consecutive chunks overlap by one) are one passage.
    a, b = _chunk(8, 20, 21), _chunk(9, 21, 22)
    assert [h.row for h in fuse([a, _hit(1)], [b, _hit(2)], 0.5, 10)] == [9, 1, 2]
    # The same chunk is matched before a neighbour that merely overlaps it.
    c12, c13 = _chunk(12, 30, 31), _chunk(13, 31, 32)
    assert [h.row for h in fuse([c12, c13], [_chunk(13, 31, 32)], 0.5, 10)] == [13, 12]
    # A merged history-aware hit stands for both chunks the question's own ranking listed apart.
    both = _chunk(12, 30, 31, 32, merged=(13,))
    fused = fuse([c12, c13, _hit(1)], [both], 0.5, 10)
    assert [h.rows for h in fused] == [(12, 13), (1,)]
    # Within one ranking retrieval has already decided: overlapping hits of one list stay apart.
    assert [h.row for h in fuse([_hit(1)], [a, b], 0.5, 10)] == [1, 8, 9]


def test_a_plan_without_history_is_the_question():
    p = plan("What did he oppose?", None)
    assert p == QueryPlan([("What did he oppose?", 1.0)], None, "What did he oppose?")
    assert weigh(p, 0.1) is p
    assert PlanParams().history_share(None, 1.0) == pytest.approx(0.375)


# -- the chat loops ---------------------------------------------------------------------------------


@pytest.fixture
def seed_project(seed_engine, monkeypatch):
    """Run the CLI in the seed engine's folder: its index is built and up to date."""
    monkeypatch.chdir(seed_engine.settings.docs_dir.parent)
    monkeypatch.setenv("QA_ENCODER_DIR", str(ENCODERS[0]))
    return seed_engine.settings.docs_dir.parent


def test_chat_json_through_main(seed_project, capsys, monkeypatch):
    lines = [
        "Who led Russia after the dissolution of the Soviet Union?",
        "What did he oppose in 1999?",
        "",
        "/reset",
        "What did he oppose in 1999?",
        "Who is the US ambassador to Russia?",
        "And Russia's ambassador?",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code = main(["chat", "--json"])
    out, err = capsys.readouterr()
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    assert len(objects) == 7  # one a line: the blank one gets an error object, the history stays
    assert "Boris Yeltsin" in objects[0]["answer"] and objects[0]["understood_as"] is None
    assert objects[1]["understood_as"].startswith("What did Yeltsin oppose in 1999?")
    assert "Kosovo" in objects[1]["answer"]
    assert objects[2] == {"question": "", "error": "the question is empty"}
    assert objects[3] == {"reset": True}
    assert objects[4]["understood_as"] is None  # forgotten: "he" is nobody now
    assert "Lynne M. Tracy" in objects[5]["answer"]
    # the answer is the sentence naming both envoys, already quoted: it may be taken as asked
    assert "Alexander Darchiev" in objects[6]["answer"]
    for obj in objects[:2] + objects[5:]:
        cited = {c["n"] for c in obj["citations"]}
        assert {int(m) for m in re.findall(r"\[(\d+)\]", obj["answer"])} <= cited
        assert all(c["source"] == "source_docs/russia-united-states-relations.txt" for c in obj["citations"])


def test_chat_json_reports_a_bad_line_and_goes_on(seed_engine):
    out = io.StringIO()
    code = _chat_json(seed_engine, Conversation(), io.StringIO("\x07\nWho is the US ambassador to Russia?\n"), out)
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 0
    assert objects[0] == {"question": "\x07", "error": "the question is empty"}
    assert "Lynne M. Tracy" in objects[1]["answer"]


def test_interactive_chat_commands(seed_engine):
    stdin = io.StringIO(
        "/sources 1\n"
        "Who led Russia after the dissolution of the Soviet Union?\n"
        "What did he oppose in 1999?\n"
        "/sources 1\n"
        "/sources 9\n"
        "/sources x\n"
        "/frobnicate\n"
        "/reset\n"
        "What did he oppose in 1999?\n"
        "/quit\n"
        "Who is the US ambassador to Russia?\n"  # never read: /quit ended the loop
    )
    stdout = io.StringIO()
    conversation = Conversation()
    assert _chat_interactive(seed_engine, conversation, stdin, stdout) == 0
    out = stdout.getvalue()
    assert out.startswith("Ask about the documents.")
    assert "no answer yet" in out
    assert "Boris Yeltsin" in out and "Kosovo" in out
    assert "Understood as: What did Yeltsin oppose in 1999?" in out
    assert re.search(r"\[1\] source_docs/russia-united-states-relations\.txt, lines? \d+", out)
    assert "no source [9]; the last answer has" in out
    assert "usage: /sources N" in out
    assert "unknown command" in out
    assert "(conversation forgotten)" in out
    assert out.count("Understood as:") == 1  # after /reset "he" is not resolved
    assert len(conversation) == 1
    assert stdin.read() == "Who is the US ambassador to Russia?\n"  # left unread after /quit


def test_interactive_chat_ends_cleanly_at_end_of_input(seed_engine):
    stdin = io.StringIO("Who is the US ambassador to Russia?\nAnd Russia's ambassador?")  # no final newline
    stdout = io.StringIO()
    conversation = Conversation()
    assert _chat_interactive(seed_engine, conversation, stdin, stdout) == 0
    out = stdout.getvalue()
    assert "Lynne M. Tracy" in out and "Alexander Darchiev" in out
    assert out.endswith("\n") and len(conversation) == 2


# -- the multi-turn evaluation ------------------------------------------------------------------------


def _task(dialogue: str, turn: int, questions: list[str], references: list[dict], collection: str = "toy") -> dict:
    return {
        "dialogue_id": dialogue, "task_id": f"{dialogue}<::>{turn}", "collection": collection, "eval_turn": turn,
        "answerability": ["ANSWERABLE"], "question_type": ["Factoid"],
        "multi_turn": [] if turn == 1 else ["Follow-up"], "context": references,
        "turns": [{"question": q, "answer": f"answer {i}", "is_eval_turn": i == turn - 1}
                  for i, q in enumerate(questions[:turn])],
    }


@pytest.mark.parametrize(("passage_id", "document"), [
    ("798401030_10436-10772-0-336", "798401030"),  # ClapNQ: the Wikipedia page, not the passage
    ("798401030_10773-11534-0-761", "798401030"),
    ("ibmcld_00491-1283-3050", "ibmcld_00491"),
    ("87fdc8101cee16b1-1441-3295", "87fdc8101cee16b1"),
    ("114303-0-2100", "114303"),
])
def test_a_passage_belongs_to_the_document_its_id_names(passage_id, document):
    from qa.conversation_eval import document_of

    assert document_of(passage_id) == document


def test_conversation_eval_on_a_toy_set(tmp_path, embedder):
    from qa.conversation_eval import evaluate, format_table
    from qa.settings import Settings

    p = {
        "yeltsin-0-1": "Boris Yeltsin was president of Russia from 1991 to 1999. He strongly opposed the NATO "
                       "intervention in Kosovo in 1999.",
        "putin-0-1": "Vladimir Putin became president of Russia in 2000. He worked with George W. Bush on the "
                     "war in Afghanistan.",
        "bread-0-1": "Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria.",
        "starter-0-1": "A sourdough starter is fed with flour and water every day.",
    }
    ref = {k: {"passage_id": k, "title": "", "text": v} for k, v in p.items()}
    q1 = ["Who was president of Russia in the 1990s?", "What did he oppose?"]
    q2 = ["How is sourdough bread leavened?", "How often is it fed?"]
    rows = [_task("d1", 1, q1, [ref["yeltsin-0-1"]]), _task("d1", 2, q1, [ref["yeltsin-0-1"]]),
            _task("d2", 1, q2, [ref["bread-0-1"]]), _task("d2", 2, q2, [ref["starter-0-1"], ref["putin-0-1"]])]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "unused", encoder_dir=ENCODERS[0])

    report = evaluate(path, settings)
    groups = report["groups"]
    assert report["turns_scored"] == 4 and groups["first turn"]["n"] == 2 and groups["follow-up"]["n"] == 2
    assert groups["follow-up, same topic"]["n"] == 1 and groups["follow-up, topic switch"]["n"] == 1
    for row in (r for r in groups.values() if r["n"]):
        for method in ("question_only", "history_aware", "history_aware_ref"):
            assert 0.0 <= row[method]["recall@5"] <= 1.0 and 0.0 <= row[method]["mrr"] <= 1.0
    first = groups["first turn"]
    assert first["question_only"] == first["history_aware"] == first["history_aware_ref"]
    follow = {t["task_id"]: t for t in report["per_turn"]}["d1<::>2"]
    assert follow["history_aware"]["rr"] == 1.0 and follow["used_history"]
    assert "| follow-up | 2 |" in format_table(report)
    assert evaluate(path, settings, limit=2)["turns_scored"] == 2  # one whole dialogue


@pytest.mark.parametrize(("person", "expected"), [
    ("Boris Yeltsin", "Yeltsin"), ("Lynne M. Tracy", "Tracy"), ("Martin Luther King Jr.", "King"),
    ("Henry VIII", "Henry"), ("Putin", "Putin"),
])
def test_a_person_is_called_by_the_surname(person, expected):
    from qa.conversation import surname

    assert surname(person) == expected


def test_the_surname_is_the_name_word_the_documents_use_most(seed_engine):
    from qa.conversation import rarity_of, surname

    rarity = rarity_of(seed_engine.index().keyword)
    assert surname("Boris Yeltsin", rarity) == "Yeltsin"  # the same passages: the last word
    assert surname("Vladimir Putin", rarity) == "Putin"
    # Family name first: the word the documents use alone is the one they use most.
    idf = {"Xi": 1.0, "Jinping": 2.5}
    assert surname("Xi Jinping", lambda words: [idf.get(w, 0.0) for w in words]) == "Xi"


def test_a_contracted_stop_word_is_no_content_word():
    assert content_words("who's the ambassador to russia") == ["ambassador", "russia"]
    assert content_words("It’s Russia's ambassador") == ["Russia's", "ambassador"]
    assert resolve_one("and the other one?", "who's the us ambassador to russia") == "and the other ambassador?"


@pytest.mark.parametrize(("question", "last", "resolved"), [
    ("And Russia's?", "Who is the US ambassador to Russia?", "And Russia's ambassador?"),
    ("and russia's in DC?", "who's the us ambassador in moscow", "and russia's ambassador in DC?"),
    ("What about Yeltsin's?", "What was Putin's position on NATO?", "What about Yeltsin's position?"),
    # A noun of its own, or a contraction ("what's", "it's"): nothing left out.
    ("And Russia's envoy?", "Who is the US ambassador to Russia?", "And Russia's envoy?"),
    ("what's?", "Who is the US ambassador?", "what's?"),
    ("And it's?", "What is the ambassador's name?", "And it's?"),
    ("who's in charge?", "Who is the US ambassador?", "who's in charge?"),
])
def test_a_possessive_left_without_its_noun_takes_the_last_questions(question, last, resolved):
    assert resolve_one(question, last) == resolved


def test_a_word_the_stemmer_cut_shorter_still_matches_its_longer_form():
    from qa.conversation import _shares_term, _terms

    relationship = _terms("the relationship was generally warm under Boris Yeltsin")
    assert _shares_term(_terms("How were relations with him?"), relationship)
    assert _shares_term(_terms("the relationships"), _terms("relations were warm"))
    assert not _shares_term(_terms("How was the economy?"), relationship)
    # Short stems are no prefix of anything: "war" is not "warm".
    assert not _shares_term(_terms("Was there a war?"), relationship)


def test_the_other_one_is_no_new_thing_but_other_ones_are():
    conversation = _after("Who is the US ambassador to Russia?", "Ambassador Lynne M. Tracy")
    assert not plan("And the other one?", conversation).wants_new
    assert plan("Any other ambassadors?", conversation).wants_new
    assert plan("What else?", conversation).wants_new


@pytest.mark.parametrize(("question", "continues"), [
    ("did that last?", True), ("Did that cooperation last?", True), ("Did anything else make it worse?", True),
    ("What made it worse after that?", True), ("Did things get better over time?", True), ("and did it continue?", True),
    ("did it stay that way?", True), ("Did things stay so?", True), ("Did it stay in Moscow?", False),
    # A question of its own: its words decide, not the story's order.
    ("Did relations get worse under Putin?", False), ("How long did the Cold War last?", False),
    ("What made Yeltsin angry?", False),
])
def test_a_follow_up_asking_how_the_story_went_on(question, continues):
    from qa.conversation import asks_continuation

    assert asks_continuation(question) is continues
