"""Spelling: a question's misspelt words written as the documents write them, before it is encoded.

The keyword side already forgives a misspelling (:meth:`qa.keyword.KeywordIndex.known_tokens`
matches stems). The dense side does not: "who was rusia's presidnet in the 90s" lands far from
"Russia's president" (evidence 0.35 against 0.62 on the bundled article), so a question with a
typo or two was declined. The question is corrected word by word against the documents' own
words (as written, not stemmed: "presidnet" is one edit from "president", two letters swapped,
and three from its stem "presid"), and the corrected text is what gets encoded and searched.
Only a word that is no English word is a typo (pyspellchecker's dictionary): "vicinity",
"charitable", "hopeless" are the user's words, not misspelt "divinity", "chargeable",
"homeless" (on SQuAD they were, before that check).
"""

from __future__ import annotations

import re
import threading

from qa.keyword import nearest_word, tokenize
from qa.store import LoadedIndex

#: Words shorter than this are never corrected: "ship" is not "shop", "wat" may be anything.
MIN_LETTERS = 5
#: From this length a word may be two edits from the documents' word, else one.
TWO_EDITS_FROM = 8

#: Words looked up per question: a long question of made-up words must stay cheap (~20 ms each
#: against a vocabulary of 200,000 words).
MAX_LOOKUPS = 8

# Whole words, accented ones too ("Céloron" is not "C" and "loron"); none with a digit ("COVID19").
_WORD = re.compile(r"(?<!\w)[^\W\d_]+(?!\w)")


def correct(index: LoadedIndex, question: str) -> str:
    """The question with each word the documents never use replaced by the word of theirs one
    edit away (two from :data:`TWO_EDITS_FROM` letters on; an edit is a letter inserted, deleted,
    replaced, or two neighbours swapped), with a capital first letter kept: "rusia's presidnet"
    → "russia's president", "Yeltsn" → "Yeltsin". A word whose stem the documents use is kept
    ("presidents"), as are English words ("vicinity" is not "divinity" misspelt), short words,
    numbers and words with no close match. A lower-case word no document word is near becomes
    the English word one edit away, if there is one ("happend" → "happened"), unless it is a
    British spelling ("favourite").

    Args:
        index: The loaded index (its words are read once per index, on the first question that
            needs them).
        question: The question as asked.

    Returns:
        The corrected question, or ``question`` itself when nothing changed.
    """
    vocab = index.keyword.vocab
    candidates = [m for m in _WORD.finditer(question) if len(m.group()) >= MIN_LETTERS]
    if not candidates:
        return question
    stems = tokenize([m.group() for m in candidates], frozenset())
    out: list[str] = []
    last = 0
    lookups = 0
    for m, toks in zip(candidates, stems, strict=True):
        word = m.group()
        if not toks or toks[0] in vocab:
            continue
        lower = word.lower()
        if lower in index.words or lower in english_words():
            continue
        lookups += 1
        if lookups > MAX_LOOKUPS:
            break
        fixed = nearest_word(lower, index.words_by_length, 2 if len(lower) >= TWO_EDITS_FROM else 1)
        if fixed is None and not word[0].isupper():
            # No word of the documents is near: the English word one edit away, if any, still
            # reads better to the encoder ("happend" → "happened"); a name is left alone.
            fixed = _english().correction(lower)
            fixed = fixed if fixed and fixed != lower and not _british(lower, fixed) else None
        if fixed is None:
            continue
        if word[0].isupper():
            fixed = fixed[0].upper() + fixed[1:]
        out.append(question[last : m.start()] + fixed)
        last = m.end()
    if not out:
        return question
    return "".join(out) + question[last:]


# British spellings of the American dictionary's words: "favourite", "defence", "organise",
# "centre", "travelled" are no typos (the dictionary would make them "favorite", "defense"…).
_BRITISH = (("our", "or"), ("ence", "ense"), ("ise", "ize"), ("isation", "ization"), ("yse", "yze"),
            ("tre", "ter"), ("ogue", "og"), ("ll", "l"), ("ae", "e"), ("oe", "e"))


def _british(word: str, american: str) -> bool:
    """Whether ``word`` is ``american`` spelt the British way (one of :data:`_BRITISH`)."""
    return any(british in word and word.replace(british, us, 1) == american for british, us in _BRITISH)


_english_lock = threading.Lock()
_english_checker: list = []  # a cache: the spell checker, once loaded


def _english():
    """pyspellchecker's English spell checker (160,000 words, one edit; loaded once, ~0.2 s and
    ~37 MB, on the first question that holds a word the documents never use)."""
    if not _english_checker:
        with _english_lock:  # concurrent first questions (the bot's threads) load it once
            if not _english_checker:
                from spellchecker import SpellChecker

                _english_checker.append(SpellChecker(language="en", distance=1))
    return _english_checker[0]


def english_words():
    """pyspellchecker's English words, lower-cased (``word in english_words()``)."""
    return _english().word_frequency
