"""A name the documents never use is read as the documents' name the model takes for the same."""

from __future__ import annotations

import pytest

from qa.aliases import document_names, read_aliases
from qa.settings import Settings

SOVIET = "After the dissolution of the Soviet Union in 1991, relations were warm under Boris Yeltsin's rule."
STATES = "The United States voted against the resolution at the UN in Moscow's favour."


def test_document_names_are_whole_runs_and_their_words():
    names = document_names([SOVIET, "Union of Soviet Socialist Republics"])
    assert names[:3] == ["Soviet Union", "Union", "Soviet"] and "After" not in names
    assert "Boris Yeltsin" in names and "Yeltsin" in names and "Yeltsin's" not in names
    assert "Union of Soviet Socialist Republics" in names and "of" not in names
    assert "United States" in document_names([STATES])  # not only "The United States"
    assert len(document_names([SOVIET] * 3, limit=3)) == 3


def test_an_absent_name_becomes_the_documents_name_for_it(embedder):
    encode, bar = embedder.encode, Settings().alias_similarity
    question, aliases = read_aliases("When did the USSR break up?", ["USSR"], [SOVIET, STATES], encode, bar)
    assert question == "When did the Soviet Union break up?"  # the whole name, not "Soviet"
    assert aliases == {"USSR": "Soviet Union"}
    question, aliases = read_aliases("What did the USA's envoy say?", ["USA"], [SOVIET, STATES], encode, bar)
    assert question == "What did the United States's envoy say?" and aliases == {"USA": "United States"}


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
    names = ["Soviet Union", "USSR", "Soviet Union", "United States"]
    vectors = engine.encode_names(names)
    np.testing.assert_allclose(vectors, engine.encode_queries(names), atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    monkeypatch.setattr(qa.engine, "NAME_CACHE", 2)
    engine.encode_names(["Boris Yeltsin", "Vladimir Putin", "Lynne M. Tracy"])
    assert list(engine._name_vectors) == ["Vladimir Putin", "Lynne M. Tracy"]
    np.testing.assert_allclose(engine.encode_names(["USSR"]), engine.encode_queries(["USSR"]), atol=1e-5)
