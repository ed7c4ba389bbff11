"""End to end on the bundled article: real model, real index, questions written for this test."""

from __future__ import annotations

import re

import pytest

from qa.conversation import Conversation

# (question, evidence the answer text must quote)
QUESTIONS = [
    ("Who is the US ambassador to Russia?", "Lynne M. Tracy"),
    ("Who is Russia's ambassador to the United States?", "Alexander Darchiev"),
    ("Where is the Russian embassy in the United States?", "Washington, D.C."),
    ("In which city is the American embassy?", "Moscow"),
    ("Since when have the United States and Russia had diplomatic relations?", "since the establishment of the latter country in 1991"),
    ("How long has the US had relations with Russian governments?", "1803"),
    ("Who was the Russian president in the 1990s?", "Boris Yeltsin"),
    # Two words the article never uses ("approach", "toward"), but "Putin", "initial" and
    # "Washington" are words of few passages: on topic.
    ("What was Putin's initial approach toward Washington?", "initially sought to improve relations"),
    # "After Vladimir Putin became President of Russia in 2000" began after the span.
    ("who was russia's president between 1991 and 2000", "Boris Yeltsin"),
    ("Which 1999 intervention did Yeltsin strongly oppose?", "Kosovo"),
    ("What did Yeltsin see as a threat to Russia's security?", "NATO's expansion into Eastern Europe"),
    ("When did Putin become President of Russia?", "2000"),
    ("Which American president did Putin work with on the war in Afghanistan?", "George W. Bush"),
    ("Why were relations strained after Putin's re-election in 2012?", "annexation of Crimea"),
    ("What happened to relations under Joe Biden?", "Russian invasion of Ukraine in 2022"),
    # "like" is the question's frame, not a word the article must use.
    ("What is the relationship like under Biden?", "presidency of Joe Biden"),
    ("Who ordered the suspension of offensive cyber operations against Russia?", "Pete Hegseth"),
    ("Whom did the expanded sanctions target?", "state-owned banks and oligarchs"),
    ("How did the United States vote on the UN resolution condemning Russia's invasion of Ukraine?", "voting against a resolution"),
    ("What interests do both nations share?", "nuclear safety"),
    ("In which civil war did Russia intervene militarily?", "Syrian Civil War"),
    # Short questions about a name: dense similarity is low, every content word is in one sentence.
    ("What did Pete Hegseth order?", "suspension of offensive cyber operations"),
    ("Who is Lynne M. Tracy?", "Ambassador Lynne M. Tracy"),
    # "UN" is spelled out in the passage ("United Nations"): not a word the documents never use.
    ("How did the United States vote at the UN in February 2025?", "voting against a resolution"),
    # A lone year the article mentions: its sentence holds every word of the question's topic.
    ("What happened in 2022?", "Russian invasion of Ukraine in 2022"),
    # A lone name the article mentions, likewise.
    ("What happened in Afghanistan?", "war in Afghanistan"),
    ("What happened in Bosnia?", "the conflict in Bosnia and Herzegovina"),
    # "month" asks when, as "year" does: no word the article must use.
    ("In which month and year did the US vote against the UN resolution condemning the invasion?",
     "in February 2025"),
    # "came back" is a return, no topic the article must name (it never writes "back").
    ("whats been happening since trump came back", "normalize relations with Russia"),
    # "change" is the question's frame: the article says "strained", "improve", never "changed".
    ("How did relations change after 2012?", "relations between the two countries were significantly strained"),
    ("How did relations change after 2000?", "he initially sought to improve relations with the United States"),
    # A decade, or a part of one, in a sentence stating a time within it ("1991–99").
    ("Who was president in the 1990s?", "Boris Yeltsin (1991–99)"),
    ("Who was president in the mid-1990s?", "Boris Yeltsin (1991–99)"),
    ("What happened in the early 1990s?", "Boris Yeltsin (1991–99)"),
    # After a person's term ("Boris Yeltsin (1991–99)"): the sentences about Yeltsin are not it.
    ("Who succeeded Yeltsin?", "Vladimir Putin became President of Russia in 2000"),
    ("Who was Russia's president after Yeltsin?", "Vladimir Putin became President of Russia in 2000"),
    # Before Putin's start ("became President of Russia in 2000"): Yeltsin's years.
    ("Who was president before Putin?", "Boris Yeltsin (1991–99)"),
    # "today": the latest times the article states, not its first sentence ("since 1803").
    ("How are relations today?", "presidency of Joe Biden"),
    ("What are relations like now?", "presidency of Joe Biden"),
    ("Who is the current ambassador?", "Lynne M. Tracy"),  # a field that states no time
    # A short decade, a month abbreviated, a frame word or question word misspelt.
    ("Who was president in the 90s?", "Boris Yeltsin (1991–99)"),
    ("What happened in Feb 2025?", "February 2025"),
    ("what happend with crimea", "annexation of Crimea"),
    ("wat happened with crimea", "annexation of Crimea"),
    # "does the article mention", "Unrelated, but": the question's frame, no topic.
    ("Unrelated, but which Defense Secretary does the article mention?", "Pete Hegseth"),
    # Misspelt words are searched as the article writes them.
    ("who was rusia's presidnet in the 90s", "Boris Yeltsin (1991–99)"),
    # A keyword search: the query stands as written in a sentence, whatever its cosine.
    ("9/11", "following the 9/11 attacks"),
    ("state-owned banks", "several state-owned banks"),
    ("Titovian flavour", "Titovian flavour of independence"),
    # "Why": the sentence saying he objected, then the one with his reason ("saw it as …").
    ("why did yeltsin object to nato intervening in yugoslavia", "saw it as an infringement"),
    # The time asked last: the sentence that states Yeltsin's years leads.
    ("yeltsin was president from when to when", "Boris Yeltsin (1991–99)"),
    ("Who is Pete Hegseth according to the article?", "Defense Secretary Pete Hegseth"),
    # The chat around a question: no word the article must use.
    ("hey bot, who's the ambassador?", "Lynne M. Tracy"),
    ("Who ordered the suspension of offensive cyber operations, please?", "Pete Hegseth"),
    ("what's the deal with syria", "Syrian Civil War"),
    ("how far back does the US relationship with russian govts go?", "various Russian governments since 1803"),
    # A topic of one name, typed in lower case: the article writes it as a name.
    ("what did hegseth do", "suspension of offensive cyber operations"),
    ("who got sanctioned", "state-owned banks and oligarchs"),
]

OUT_OF_SCOPE = [
    "What is the capital of France?",
    "How do I bake sourdough bread at home?",
    "Who won the 2018 FIFA World Cup?",
    "What is the boiling point of water in Fahrenheit?",
    "How do I install Python packages with pip?",
    # About the article's subject, but asking what it never says: a name or a word it never uses.
    "What did Obama do about Russia?",
    "What were relations like during the Cold War?",
    "Did Putin meet Trump in Alaska?",
    "What is the population of Russia?",
    "What happened in 2019?",  # a year the article never mentions
    "What happened in France?",  # a name it never mentions
    # Every word is the article's, but no sentence states a number of dead ("1999" is a year).
    "How many people died in the NATO intervention in Kosovo?",
    "How many soldiers did Russia send to Syria?",
    # "several banks" is no number of banks, and no amount.
    "How many state-owned banks did the sanctions include?",
    "How much did the sanctions cost Russia?",
    # Nor are "one another", "the two countries" and "the 9/11 attacks".
    "How much is annual trade between the US and Russia worth?",
    # "born" is not "Boris" misspelt (their stems, "born" and "bori", are one edit apart).
    "When was Boris Yeltsin born?",
    # Its words are the article's, but every sentence that would answer is about another time.
    "What did Putin do in 1995?",
    "What did Russia do in Georgia in 2008?",  # "Georgia" is not "George" misspelt
    "What did Comey say about Russia?",  # a name the article never uses, not a misspelt "come"
    "start treaty",  # keywords the article does not hold together
    "what is it",  # stands in sentences, but asks nothing of its own
    # The infobox field names her, but states no time.
    "When was Lynne M. Tracy appointed ambassador to Russia?",
    # The sentence about him states no time, nor any word of one ("after", "during", "early").
    "When did Hegseth become Defense Secretary?",
    "On what date did Hegseth issue the order suspending cyber operations?",
    # No sentence names a US president then: only Yeltsin, "Russian president Boris Yeltsin".
    "Who was the US president during the 1999 Kosovo intervention?",
    "who was the us president during the yeltsin years",
    # "…including several state-owned banks and oligarchs" says that some were, not which.
    "Which state-owned banks were sanctioned by name?",
    "which specific state-owned russian banks were sanctioned",
    # The field names him, but nothing in it says who came before him.
    "Who was Russia's ambassador to the US before Alexander Darchiev?",
    "who was russia's ambassador before darchiev",
    # "…with various Russian governments since 1803" says relations went on from then, not how
    # they began.
    "What treaty did the US and Russia sign in 1803?",
    "who was the first us minister to russia back in 1803",
    # "Following Putin's re-election … in 2012" says who came after the span, not who held it.
    "Who was Russia's president between 2008 and 2012?",
    "who ran russia between 2008 and 2012",
    # Every word the article knows ("Russia", "United States") is in most of its passages: the
    # rest ("annual", "trade", "volume") is what is asked, and the article never uses it.
    "What is the annual trade volume between Russia and the US?",
    "What is the annual value of trade between Russia and the United States?",
]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(("question", "evidence"), QUESTIONS)
def test_answer_quotes_and_cites_the_evidence(seed_engine, question, evidence):
    answer = seed_engine.ask(question)
    assert answer.answered, question
    assert evidence in answer.answer
    # The evidence is in a source the answer cites, at the highlighted sentence.
    cited = [c for c in answer.citations if c.cited]
    assert any(evidence in _normalise(c.text[s:e]) for c in cited for s, e in c.highlights)


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_questions_are_declined_with_closest_passages(seed_engine, question):
    answer = seed_engine.ask(question)
    assert not answer.answered
    assert "do not contain" in answer.answer
    assert answer.citations and not any(c.cited for c in answer.citations)


@pytest.mark.parametrize("question", [q for q, _ in QUESTIONS[:8]] + OUT_OF_SCOPE[:2])
def test_every_marker_points_to_a_listed_source(seed_engine, question):
    answer = seed_engine.ask(question)
    numbers = {c.n for c in answer.citations}
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers <= numbers
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert {c.n for c in answer.citations if c.cited} == markers
    for c in answer.citations:
        source_text = (seed_engine.settings.docs_dir.parent / c.source).read_text("utf-8")
        lines = source_text.splitlines()
        # The passage is the file's own text at the stated lines.
        assert c.text.splitlines()[0] in lines[c.start_line - 1]
        assert c.text.splitlines()[-1] in lines[c.end_line - 1]
        assert c.text in source_text


def test_sources_are_distinct_passages(seed_engine):
    answer = seed_engine.ask("What happened between Russia and the United States?", top_k=5)
    texts = [c.text for c in answer.citations]
    assert len(texts) == len(set(texts))


def test_quoted_sentences_of_one_document_keep_its_order(seed_engine):
    # The Putin passage ranks first for this question, but the Yeltsin sentence is the answer
    # and stands earlier in the article: it is quoted first, as [1].
    answer = seed_engine.ask("Who was the Russian president in the 1990s?")
    assert "Boris Yeltsin" in answer.sentences[0].text
    assert answer.citations[0].text.startswith("After the dissolution")  # its passage is [1]
    for question, _ in QUESTIONS:  # one document: every answer reads in its line order
        quoted = seed_engine.ask(question).sentences
        assert [s.line for s in quoted] == sorted(s.line for s in quoted), question


def test_a_follow_up_can_lead_with_its_first_source(seed_engine):
    from qa.answer import AnswerParams, compose
    from qa.retrieval import Query, RetrievalParams, retrieve

    index = seed_engine.index()
    question = "Who was the Russian president in the 1990s?"
    # Without the late-interaction rerank, which ranks the Yeltsin passage first: this test needs
    # a first hit whose sentence comes later in reading order (the Putin passage).
    hits = retrieve(index, [Query(question, seed_engine.encode_queries([question])[0])], 5,
                    RetrievalParams(token_weight=0.0))
    assert "Putin" in index.chunk_text(hits[0].row)
    first = set(hits[0].sentence_rows.tolist())
    # Without the year rule, which would keep the Putin sentence (its passage says 2000) out.
    params = AnswerParams(year_weight=0.0)
    in_order = compose(index, question, question, hits, "docs", params)
    leading = compose(index, question, question, hits, "docs", params, lead_first=True)
    assert len(in_order.sentences) == len(leading.sentences) == 2
    assert {s.text for s in in_order.sentences} == {s.text for s in leading.sentences}
    # The first hit is the Putin passage: in reading order its sentence comes second, with
    # lead_first (what lead_with_new asks for) first.
    assert "Putin" in leading.sentences[0].text and "Yeltsin" in in_order.sentences[0].text
    assert any(index.sentence_text(int(r)).startswith(leading.sentences[0].text[:40]) for r in first)


@pytest.mark.parametrize("question", ["How are relations under Trump?", "What is the relationship like under Trump?"])
def test_under_a_president_is_about_that_presidency(seed_engine, question):
    # "under" is no topic word: the Yeltsin sentence "…generally warm under Russian president
    # Boris Yeltsin" shares it (and "relationship") but is not about Trump.
    answer = seed_engine.ask(question)
    assert answer.answered and answer.sentences
    assert all("Trump" in s.text for s in answer.sentences), answer.answer


def test_a_sentence_of_another_time_by_its_passage_stays_out(seed_engine):
    # "In the early years of Yeltsin's presidency" states no year; its passage's last is 1991–99.
    answer = seed_engine.ask("how were things in the early 2000s")
    assert answer.answered and "became President of Russia in 2000" in answer.answer
    assert "Yeltsin" not in answer.answer, answer.answer


def test_a_possessive_name_is_not_someone_elses(seed_engine):
    # "During Yeltsin's second term, …" holds "second term" as written; Trump's is "the second
    # presidency of Donald Trump", "the second Trump administration".
    conversation = Conversation()
    seed_engine.ask("How were relations under Biden?", conversation)
    for asked in ("And under Trump's second term?", "What were relations like in Trump's second term?"):
        answer = seed_engine.ask(asked, conversation if asked.startswith("And") else None)
        assert answer.answered and answer.sentences, asked
        assert "Yeltsin" not in answer.answer and "Trump" in answer.answer, answer.answer


@pytest.mark.parametrize("question", ["Who was the president of Russia in 1995?", "Who was Russia's president in the 1990s?"])
def test_a_question_about_a_year_is_answered_by_a_sentence_of_that_time(seed_engine, question):
    # Neither sentence holds "1995": "Boris Yeltsin (1991–99)" spans it, "Putin … in 2000" (the
    # better match for "president of Russia") and the Putin sentences after it do not.
    answer = seed_engine.ask(question)
    assert [s.text for s in answer.sentences if "Boris Yeltsin (1991–99)" in s.text]
    assert not [s.text for s in answer.sentences if "Putin" in s.text], answer.answer
    without = seed_engine.settings.replace(answer_year_weight=0.0)
    from qa.answer import AnswerParams, compose
    from qa.retrieval import Query, RetrievalParams, retrieve

    index = seed_engine.index()
    [(vector, tokens)] = seed_engine.encode_for(index, [question])
    hits = retrieve(index, [Query(question, vector, 1.0, tokens)], 5, RetrievalParams.from_settings(without))
    plain = compose(index, question, question, hits, "docs", AnswerParams.from_settings(without))
    assert any("Putin" in s.text for s in plain.sentences)  # what the rule changes


def test_an_answer_names_the_names_the_documents_never_mention(seed_engine):
    from qa.cli import render_answer

    # Answered with what comes closest (the article's own "improve" and "normalize relations"),
    # and the reader is told the article never speaks of Obama.
    answer = seed_engine.ask("Did Obama reset relations with Russia?")
    assert answer.warnings == ["the documents never mention “Obama”"]
    assert "Note: the documents never mention “Obama”" in render_answer(answer).splitlines()
    both = seed_engine.ask("What did Medvedev and Obama agree on?")
    assert both.warnings == ["the documents never mention “Medvedev” or “Obama”"]
    # A name of several words is named whole, though "War" alone is the article's.
    assert seed_engine.ask("What happened after the Cold War?").warnings == ["the documents never mention “Cold War”"]
    assert seed_engine.ask("Tell me about Barack Obama").warnings == ["the documents never mention “Barack Obama”"]
    # Named without the possessive the question gave it.
    assert seed_engine.ask("What was Barack Obama's policy?").warnings == ["the documents never mention “Barack Obama”"]
    # Names the article uses, misspelt ones and acronyms its passages spell out are not absent.
    for question in ("What did Yeltsin oppose?", "What did Yeltsn think of NATO?",
                     "How did the US vote at the UN?"):
        assert seed_engine.ask(question).warnings == [], question


def test_an_infobox_field_does_not_join_a_real_sentence(seed_engine):
    answer = seed_engine.ask("When did the US and Russia establish diplomatic relations?")
    assert "since the establishment of the latter country in 1991" in answer.answer
    assert "Diplomatic mission" not in answer.answer  # the field above it, close but no answer
    # Beside another field it may be the answer: both fields of the infobox are quoted.
    answer = seed_engine.ask("Who is the current US ambassador in Moscow?")
    assert "Lynne M. Tracy" in answer.answer


@pytest.mark.parametrize("question", [
    "What is this document about?", "What are these documents about?", "Summarize the article.",
    "What do the documents cover?", "What can you tell me about?", "Give me an overview of the documents",
    "What's this document about?", "Thanks, what is the document about?", "What can you tell me?",
])
def test_what_the_documents_are_about_is_their_opening(seed_engine, question):
    answer = seed_engine.ask(question)
    assert answer.answered
    # The article's lead paragraph, not its title or infobox lines, each sentence cited.
    assert answer.answer.startswith("The United States and the Russia have had diplomatic relations")
    assert "space exploration" in answer.answer and "Ambassador" not in answer.answer
    assert _normalise_markers(answer.answer) == {1}
    cited = answer.citations[0]
    assert cited.cited and len(cited.highlights) == 3
    assert all(cited.text[s:e] in answer.answer for s, e in cited.highlights)


@pytest.mark.parametrize("question", [
    "What do you know about Putin?",  # a topic: retrieval answers it
    "What do the sources say?",  # after an answer: about those sources
    "Summarize the relationship between Russia and the United States.",
    "What is the document's date?",
])
def test_a_question_about_a_topic_is_no_overview(question):
    from qa.answer import is_overview

    assert not is_overview(question)


def _normalise_markers(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"\[(\d+)\]", text)}


@pytest.mark.parametrize(("message", "small_talk"), [
    ("Hello!", True), ("thanks", True), ("Thank you so much!", True), ("ok", True), ("Hi there", True),
    ("Good morning, bot", True), ("How are you?", True), ("ok thanks", True), ("Great, thanks!", True),
    ("Hello, who is the US ambassador?", False), ("Thanks. Who is Putin?", False), ("What is good?", False),
    ("OK who is Putin?", False), ("Nice?", False),  # "Nice?" may ask about the city
])
def test_greetings_and_thanks_are_no_questions(message, small_talk):
    from qa.answer import is_small_talk

    assert is_small_talk(message) is small_talk


def test_thanks_gets_a_hint_what_to_ask(seed_engine):
    from qa.answer import SMALL_TALK_REPLY

    conversation = Conversation()
    answer = seed_engine.ask("Thanks!", conversation)
    assert not answer.answered and answer.answer == SMALL_TALK_REPLY and not answer.citations
    assert len(conversation) == 0  # nothing to resolve a follow-up with


def test_a_title_does_not_answer_a_question_that_asks_no_name(seed_engine):
    # The late-interaction rerank puts the opening passage first (its "Russian–American
    # relations" matches "Russians … America"); that other title says nothing of feelings.
    answer = seed_engine.ask("How do Russians feel about America?")
    assert answer.sentences
    assert all(len(s.text.split()) > 4 for s in answer.sentences), answer.answer


def test_the_answer_keeps_the_question_as_asked(seed_engine):
    answer = seed_engine.ask("hey bot, who's the ambassador?")
    assert answer.question == "hey bot, who's the ambassador?"
    assert answer.understood_as is None  # the chat around it is dropped, not "understood"
