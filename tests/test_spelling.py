"""qa.spelling on the bundled article's real index: misspelt words written as the article writes them."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("question", "corrected"), [
    ("who was rusia's presidnet in the 90s", "who was russia's president in the 90s"),  # two edits from 8 letters
    ("Who is Yeltsn?", "Who is Yeltsin?"),  # a name keeps its capital
    ("What did Yelstin oppose?", "What did Yeltsin oppose?"),  # two letters swapped: one edit
    ("the untied nations vote", "the untied nations vote"),  # an English word: the user's own
    ("Was the vicinity of Moscow calm?", "Was the vicinity of Moscow calm?"),
    ("Who is Boris Yeltsin?", "Who is Boris Yeltsin?"),  # the article's words
    ("the presidents of Russia", "the presidents of Russia"),  # its stem is the article's
    ("Did Obama meet Putin?", "Did Obama meet Putin?"),  # nothing close: kept
    # No word of the article is near: the English one is ("wat": under five letters, kept).
    ("wat happned with crimea", "wat happened with crimea"),
    ("Did Hegseth meet Khadan?", "Did Hegseth meet Khadan?"),  # a name: no English word for it
    ("what was his favourite colour", "what was his favourite colour"),  # British, not misspelt
    ("Is 2019 in it?", "Is 2019 in it?"),  # numbers are never misspelt
])
def test_misspelt_words_are_written_as_the_documents_write_them(seed_engine, question, corrected):
    from qa.spelling import correct

    assert correct(seed_engine.index(), question) == corrected


def test_a_misspelt_question_is_answered_as_the_corrected_one(seed_engine):
    right = seed_engine.ask("Who was Russia's president in the 1990s?")
    typo = seed_engine.ask("who was rusia's presidnet in the 1990s")
    assert typo.answered and "Boris Yeltsin" in typo.answer
    assert typo.answer == right.answer
    # The user sees what was searched, and their own question.
    assert typo.understood_as == "who was russia's president in the 1990s"
    assert typo.question == "who was rusia's presidnet in the 1990s"
    assert right.understood_as is None


def test_words_are_whole_accented_ones_too():
    from qa.spelling import _WORD

    # "Céloron" is one word, not "C" and "loron" (which a document's "boron" was near).
    assert _WORD.findall("Céloron COVID19 Russia's naïve") == ["Céloron", "Russia", "s", "naïve"]


def test_a_long_question_of_unknown_words_looks_up_a_few(seed_engine):
    from qa.spelling import MAX_LOOKUPS, correct

    # Made-up words one edit from the article's ("rusia"): only the first MAX_LOOKUPS are looked up.
    question = " ".join(["rusia"] * (MAX_LOOKUPS + 5))
    corrected = correct(seed_engine.index(), question).split()
    assert corrected[:MAX_LOOKUPS] == ["russia"] * MAX_LOOKUPS
    assert corrected[MAX_LOOKUPS:] == ["rusia"] * 5
