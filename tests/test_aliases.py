"""A name the documents never use is read as the documents' name the model takes for the same."""

from __future__ import annotations

import pytest

from qa.aliases import document_names, read_aliases
from qa.answer import _spelled_out
from qa.settings import Settings

SOVIET = "After the dissolution of the Soviet Union in 1991, relations were warm under Boris Yeltsin's rule."
STATES = "The United States voted against the resolution at the UN in Moscow's favour."


def test_document_names_are_whole_runs_and_their_parts():
    names = document_names([SOVIET, "Union of Soviet Socialist Republics"])
    assert names[:3] == ["Soviet Union", "Soviet", "Union"] and "After" not in names
    assert "Boris Yeltsin" in names and "Yeltsin" in names and "Yeltsin's" not in names
    assert "Union of Soviet Socialist Republics" in names and "Soviet Socialist Republics" in names
    assert not any(n.split()[0] in ("of", "After") or n.endswith(" of") for n in names)
    # A sentence-initial word or "the" does not swallow the name; a sentence end stops it.
    starts = document_names(["After the Soviet Union collapsed, relations warmed.",
                             "The United States voted. Washington D.C. hosts the Embassy of Russia."])
    assert "Soviet Union" in starts and "United States" in starts and "Washington D.C" in starts
    assert "Embassy of Russia" in starts and not any("voted" in n or ". " in n for n in starts)
    assert "Élysée Palace" in document_names(["Macron spoke at the Élysée Palace."])
    assert len(document_names([SOVIET] * 3, limit=3)) == 3


def test_an_absent_name_becomes_the_documents_name_for_it(embedder):
    encode, bar = embedder.encode, Settings().alias_similarity
    question, aliases = read_aliases("When did the USSR break up?", ["USSR"], [SOVIET, STATES], encode, bar)
    assert question == "When did the Soviet Union break up?"  # the whole name, not "Soviet"
    assert aliases == {"USSR": "Soviet Union"}
    # As absent_names reports it ("USA's"); every occurrence, each once.
    question, aliases = read_aliases("Did the USA's envoy speak for the USA?", ["USA's"], [SOVIET, STATES], encode, bar)
    assert question == "Did the United States's envoy speak for the United States?"
    assert aliases == {"USA": "United States"}
    # A sentence-initial word before the name does not keep the whole name out.
    question, _ = read_aliases("When did the USSR break up?", ["USSR"], ["After the Soviet Union fell, talks began."],
                               encode, bar)
    assert question == "When did the Soviet Union break up?"


def test_a_number_the_name_states_must_match(embedder):
    texts = ["Elizabeth II visited Moscow.", "Super Bowl 50 was played in 2016."]
    bar = Settings().alias_similarity
    assert read_aliases("What did Elizabeth I say?", ["Elizabeth I"], texts, embedder.encode, bar)[1] == {}
    assert read_aliases("Who won Super Bowl 49?", ["Super Bowl 49"], texts, embedder.encode, bar)[1] == {}
    assert read_aliases("Who won the Superbowl?", ["Superbowl"], texts, embedder.encode, bar)[1] == \
        {"Superbowl": "Super Bowl"}


@pytest.mark.parametrize(("question", "absent"), [
    ("Did Obama reset relations?", ["Obama"]),  # a person the documents never name
    ("What did China do?", ["China"]),  # another country (0.75 to Russia)
    ("What did the Kremlin say?", ["Kremlin"]),
])
def test_a_name_that_is_something_else_stays(embedder, question, absent):
    texts = [SOVIET, STATES, "Donald Trump and Vladimir Putin met in Russia."]
    assert read_aliases(question, absent, texts, embedder.encode, Settings().alias_similarity) == (question, {})


def test_a_bar_above_one_reads_no_alias(embedder):
    assert read_aliases("When did the USSR end?", ["USSR"], [SOVIET], embedder.encode, 1.5)[1] == {}


def test_the_engine_answers_a_question_naming_the_article_s_thing_by_another_name(seed_engine):
    answer = seed_engine.ask("When did the USSR break up?")
    assert answer.answered and "1991" in answer.answer
    assert answer.understood_as == "When did the Soviet Union break up?"
    assert answer.question == "When did the USSR break up?" and answer.warnings == []
    usa = seed_engine.ask("What did the USA do at the UN in February 2025?")
    assert usa.answered and "February 2025" in usa.answer
    assert usa.understood_as == "What did the United States do at the UN in February 2025?"
    # Switched off, the same question names a country the article never mentions.
    off = type(seed_engine)(seed_engine.settings.replace(alias_similarity=1.5))
    plain = off.ask("When did the USSR break up?")
    assert plain.understood_as is None and plain.warnings == ["the documents never mention “USSR”"]


def test_names_are_encoded_once_and_the_cache_is_bounded(seed_engine, monkeypatch):
    import numpy as np

    import qa.engine

    engine = type(seed_engine)(seed_engine.settings)
    encoded: list[list[str]] = []
    plain = engine.encode_queries
    monkeypatch.setattr(engine, "encode_queries", lambda texts: (encoded.append(list(texts)), plain(texts))[1])
    names = ["Soviet Union", "USSR", "Soviet Union", "United States"]
    vectors = engine.encode_names(names)
    np.testing.assert_allclose(vectors, plain(names), atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert encoded == [["Soviet Union", "USSR", "United States"]]
    engine.encode_names(["USSR", "Boris Yeltsin"])
    assert encoded[-1] == ["Boris Yeltsin"]  # only what is new
    monkeypatch.setattr(qa.engine, "NAME_CACHE", 2)
    engine.encode_names(["Vladimir Putin", "Lynne M. Tracy"])
    assert list(engine._name_vectors) == ["Vladimir Putin", "Lynne M. Tracy"]
    assert engine.encode_names([]).shape == (0, 384)


def test_an_acronym_the_passages_spell_out_is_looked_up_once(seed_engine, monkeypatch):
    import qa.engine

    engine = type(seed_engine)(seed_engine.settings)
    calls: list[str] = []
    plain = qa.engine.retrieve
    monkeypatch.setattr(qa.engine, "retrieve", lambda index, queries, *a: (calls.append(queries[0].text),
                                                                          plain(index, queries, *a))[1])
    first = engine.ask("How did the US vote at the UN?")
    assert len(calls) == 2 and first.understood_as is None  # "US", "UN": spelled out, no alias
    calls.clear()
    again = engine.ask("How did the US vote at the UN?")
    assert len(calls) == 1 and again.answer == first.answer  # known now: no second look
    calls.clear()
    engine.ask("When did the USSR break up?")  # a name it has not seen is still looked up
    assert len(calls) == 2


@pytest.mark.parametrize(("acronym", "texts", "spelled"), [
    ("UN", ["Russia has sided with Russia in the United Nations, voting"], True),
    ("US", ["Russia–United States relations"], True),  # a dash is no space
    ("USSR", ["the Union of Soviet Socialist Republics"], True),
    ("EU", ["The United States and Russia"], False),
    # Written with dots, which the keyword index drops as one-letter words.
    ("DC", ["Embassy of Russia, Washington, D.C.Embassy of the United States"], True),
    ("US", ["expanded by the U.S. and its allies"], True),
    ("DC", ["a sharp ADC. reading", "D.Cooper wrote"], False),  # no dotted run of its own
])
def test_an_acronym_is_spelled_out_by_the_initials_of_a_name(acronym, texts, spelled):
    assert _spelled_out(acronym, texts) is spelled


def test_an_acronym_typed_in_lower_case_is_no_unknown_word(seed_engine):
    from qa.answer import _content_words, unknown_words

    index = seed_engine.index()
    passages = ["During the second presidency of Donald Trump, the United States has sided with Russia in the "
                "United Nations."]
    question = "how did the us vote at the un"
    assert unknown_words(index, question, _content_words(question), passages) == (set(), set())
    # "eu" is spelled out nowhere: a word the documents never use.
    question = "what did the eu do"
    assert unknown_words(index, question, _content_words(question), passages)[0] == {"eu"}
