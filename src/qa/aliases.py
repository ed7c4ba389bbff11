"""Aliases: a name the documents never use, read as the name of theirs that means the same.

"When did the USSR collapse?" asks about what the bundled article calls the Soviet Union, and
"What did the USA do at the UN?" about the United States. Neither "USSR" nor "USA" is a word of
the article, so the question used to be held to the higher bar of a question naming something
the documents never mention, and declined. The embedding model knows the two are the same
(cosine 0.91 and 0.89) where it keeps different things apart (China and Russia 0.75, Obama and
Trump 0.63, Moscow and Russia 0.83): a name of the question no document uses becomes the name of
the retrieved passages closest to it, when that is at least the ``alias_similarity`` setting
(:class:`qa.settings.Settings`), and the question is searched and answered as rewritten
(shown as "Understood as").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import numpy as np

from qa.keyword import query_stopwords

logger = logging.getLogger(__name__)

#: A longer name of the passages is preferred to a closer word of it within this much cosine.
_WHOLE_NAME_MARGIN = 0.05

#: Names taken from the passages, best passage first: each costs an encoding (~2 ms on two cores).
MAX_CANDIDATES = 32

#: Words of a name taken from a run of capitalised words at most.
MAX_NAME_WORDS = 6

# A capitalised word (accented capitals too: "Élysée"); a dot only inside one ("U.S", "D.C"), so
# a run stops where a sentence ends.
_CAP = "[A-ZÀ-ÖØ-ÞĀ-Ž]"
_WORD = rf"{_CAP}(?:[\w’'-]|\.(?=\w))*"
_CONNECTOR = r"(?:of|the|de|von|van|da|del)"
# A capitalised run, "of"/"the" inside it ("Union of Soviet Socialist Republics").
_NAME = re.compile(rf"(?<![\w’'.-]){_WORD}(?:\s+(?:{_CONNECTOR}\s+)?{_WORD})*")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
# Numbers and roman numerals: "Elizabeth I" is not "Elizabeth II", "Super Bowl 49" not "… 50".
_NUMERAL = re.compile(r"\d+|(?<!\w)[IVXLC]+(?!\w)")


def bare_name(name: str) -> str:
    """A name without a possessive ending or a trailing dot: "Yeltsin's" → "Yeltsin"."""
    return _POSSESSIVE.sub("", name.rstrip(".-"))


def document_names(texts: list[str], limit: int = MAX_CANDIDATES) -> list[str]:
    """Names in ``texts``, in order of first appearance: the parts of each capitalised run that
    begin and end with a capitalised word, longer parts first, of :data:`MAX_NAME_WORDS` words at
    most ("After the Soviet Union" gives "Soviet Union", "Soviet", "Union"), without a possessive
    ending; none that begins with a stop word ("After", "The United States": capitalised where a
    sentence begins).

    Args:
        texts: Sentences of the retrieved passages.
        limit: Names returned at most.

    Returns:
        Distinct names.
    """
    stop = query_stopwords("nltk")
    names: dict[str, None] = {}
    for text in texts:
        for m in _NAME.finditer(text):
            words = [bare_name(w) for w in m.group().split()]
            n = len(words)
            parts = [" ".join(words[i:j]) for size in range(min(n, MAX_NAME_WORDS), 0, -1)
                     for i in range(n - size + 1) for j in [i + size]
                     if words[i][:1].isupper() and words[j - 1][:1].isupper()]
            for name in ([" ".join(words)] if n > MAX_NAME_WORDS else []) + parts:
                if name and name.split()[0].lower() not in stop:  # not "The United States"
                    names.setdefault(name)
                    if len(names) >= limit:
                        return list(names)
    return list(names)


def read_aliases(
    question: str,
    absent: list[str],
    texts: list[str],
    encode: Callable[[list[str]], np.ndarray],
    threshold: float,
) -> tuple[str, dict[str, str]]:
    """The question with each absent name replaced by the documents' name that means the same.

    Args:
        question: The question (spelling corrected).
        absent: Its names no document uses, as written in it (:func:`qa.answer.absent_names`;
            a possessive ending is left where it is: "USSR's" → "Soviet Union's").
        texts: Sentences of the passages retrieved for the question.
        encode: Unit vectors of texts (the engine's query encoder).
        threshold: Cosine from which two names are read as the same; above 1 nothing is.

    Returns:
        The rewritten question (``question`` itself when no name has an alias), and each
        replaced name with the documents' name for it.
    """
    if not absent or threshold > 1.0:
        return question, {}
    bare = list(dict.fromkeys(bare_name(a) for a in absent))  # "USSR's" is read as "USSR"
    asked = {b.lower() for b in bare}
    candidates = [n for n in document_names(texts) if n.lower() not in asked]
    if not candidates:
        return question, {}
    vectors = encode([*bare, *candidates])
    similarity = vectors[: len(bare)] @ vectors[len(bare) :].T
    aliases: dict[str, str] = {}
    for name, row in zip(bare, similarity, strict=True):
        if numerals := set(_NUMERAL.findall(name)):  # a number the name states must stay
            row = np.where([set(_NUMERAL.findall(c)) == numerals for c in candidates], row, -1.0)
        best = float(row.max())
        if best < threshold:
            continue
        # The whole name before a word of it: "USSR" is "Soviet Union" (0.91), not "Soviet" (0.94).
        close = np.flatnonzero(row >= max(threshold, best - _WHOLE_NAME_MARGIN))
        pick = int(max(close, key=lambda i: (len(candidates[i].split()), row[i])))
        aliases[name] = candidates[pick]
        logger.debug("read %r as %r (cosine %.3f)", name, candidates[pick], row[pick])
    if aliases:
        # Every occurrence, in one pass: an inserted name is never rewritten again.
        pattern = "|".join(re.escape(n) for n in sorted(aliases, key=len, reverse=True))
        question = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", lambda m: aliases[m.group()], question)
    return question, aliases
