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

# A capitalised run, "of"/"the" inside it ("Union of Soviet Socialist Republics"); a possessive
# ending is not part of the name.
_NAME = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|de|von|van|da|del)\s+)?[A-Z][\w’'.-]*)*")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")


def document_names(texts: list[str], limit: int = MAX_CANDIDATES) -> list[str]:
    """Names in ``texts``, in order of first appearance: every capitalised run ("The United
    States"), the run without its first word ("United States") and each of its words, without a
    possessive ending; not a stop word ("After" where a sentence begins).

    Args:
        texts: Sentences of the retrieved passages.
        limit: Names returned at most.

    Returns:
        Distinct names.
    """
    stop = query_stopwords("nltk")  # "After", "The": capitalised where a sentence begins
    names: dict[str, None] = {}
    for text in texts:
        for m in _NAME.finditer(text):
            run = _POSSESSIVE.sub("", m.group().rstrip(".-"))
            words = run.split()
            # Without its first word too: a sentence's "The United States" is "United States".
            parts = [" ".join(words[1:]), *words] if len(words) > 1 else []
            for name in [run, *parts]:
                name = _POSSESSIVE.sub("", name.rstrip(".-"))
                if name and name[0].isupper() and name.lower() not in stop:
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
        absent: Its names no document uses, as written in it (:func:`qa.answer.absent_names`).
        texts: Sentences of the passages retrieved for the question.
        encode: Unit vectors of texts (the engine's query encoder).
        threshold: Cosine from which two names are read as the same; above 1 nothing is.

    Returns:
        The rewritten question (``question`` itself when no name has an alias), and each
        replaced name with the documents' name for it.
    """
    if not absent or threshold > 1.0:
        return question, {}
    candidates = [n for n in document_names(texts) if n.lower() not in {a.lower() for a in absent}]
    if not candidates:
        return question, {}
    vectors = encode([*absent, *candidates])
    similarity = vectors[: len(absent)] @ vectors[len(absent) :].T
    aliases: dict[str, str] = {}
    for name, row in zip(absent, similarity, strict=True):
        best = float(row.max())
        if best < threshold:
            continue
        # The whole name before a word of it: "USSR" is "Soviet Union" (0.91), not "Soviet" (0.94).
        close = [i for i in np.flatnonzero(row >= max(threshold, best - _WHOLE_NAME_MARGIN))]
        pick = max(close, key=lambda i: (len(candidates[i].split()), row[i]))
        aliases[name] = candidates[pick]
        logger.debug("read %r as %r (cosine %.3f)", name, candidates[pick], row[pick])
    for name, alias in aliases.items():
        question = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", lambda _m, a=alias: a, question, count=1)
    return question, aliases
