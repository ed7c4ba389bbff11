"""Compound questions: two questions asked in one, answered one by one and joined.

"Who expanded the sanctions on Russia, and how much in assets has been frozen?" asks two
things; the bundled article says the first and not the second. Asked whole, the question held
its answerable half to the rules of the other ("how much" wants a quantity, "frozen" and
"assets" are words no document uses) and was declined. Asked part by part, the first part is
answered with its citations, and a note says the documents do not answer the second — what a
reader would say. The second part is asked after the first, as a follow-up, so that "and who
was its last leader?" knows what "its" is.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.answer import Answer, AnswerSentence, Citation

_WH = r"(?:who|whom|whose|what|when|where|which|why|how)"
_AUXILIARY = r"(?:is|are|was|were|did|does|do|has|have|had|can|could|will|would|should)"
#: Words a question (or each of two joined questions) begins with.
_ASKING = rf"(?:{_WH}|{_AUXILIARY})"
# "…Afghanistan, and how many…": after a comma a conjunction (", which was a rival," is a
# relative clause); without a comma a wh-word with its verb after "and" ("and when was she…",
# "and how much…"): "the difference between X and what Y said", "members who have been baptized
# but who have not professed" are one question each. Questions one after the other ("Can I raise
# my storage limits? How can I add storage?") mostly ask one thing twice, and are asked whole:
# split, they lost a passage on the multi-turn benchmark (RESULTS-conversation).
_JOINT = re.compile(
    rf"\s*[,;]\s*(?:and|but|also|plus)\s+(?={_ASKING}\b)"
    rf"|\s+and\s+(?={_WH}\s+(?:\w+\s+)?(?:{_AUXILIARY}|many|much)\b)",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"\bbetween\b(?!.*[,;])", re.IGNORECASE)
# "Since when …", "In what year …": a preposition may lead the question word.
_STARTS_ASKING = re.compile(
    rf"^\s*(?:and\s+|but\s+|so\s+)?(?:(?:since|until|till|from|in|on|at|for|by|during|to|with|after|before)\s+)?"
    rf"{_ASKING}\b",
    re.IGNORECASE,
)
#: Fewest words of each part: "and why?" is the first part's follow-up, no question of its own.
_MIN_PART_WORDS = 3
#: Parts answered one by one (a longer list is read as one question).
_MAX_PARTS = 3


def split_compound(question: str) -> list[str]:
    """The questions a question joins ("Who …, and how many …?" → two), or ``[question]``.

    Each part must begin with a question word and have at least three words; each part ends with
    "?" (its own end punctuation dropped).
    """
    # "between … and …" joins two things, not two questions, unless a comma ends the first.
    cuts = [m for m in _JOINT.finditer(question) if m.start() > 0
            and not (question[m.start()] != "," and _BETWEEN.search(question[: m.start()]))]
    if not cuts or len(cuts) + 1 > _MAX_PARTS or not _STARTS_ASKING.match(question):
        return [question]
    bounds = [0, *(x for m in cuts for x in (m.start(), m.end())), len(question)]
    parts = [question[bounds[i] : bounds[i + 1]].strip(" \t,;?!.") for i in range(0, len(bounds), 2)]
    if any(len(part.split()) < _MIN_PART_WORDS for part in parts):
        return [question]
    return [part[0].upper() + part[1:] + "?" for part in parts]


def unanswered(part: str) -> str:
    """The note for a part of a question the documents do not answer."""
    return f"the documents do not answer “{part}”"


def _key(citation: Citation) -> tuple[str, int, int, str]:
    # Two chunks of one long line share its line numbers: the text tells them apart.
    return citation.source, citation.start_line, citation.end_line, citation.text


def join_answers(question: str, parts: list[str], answers: list[Answer], top_k: int) -> Answer:
    """One answer to a compound question from its parts' answers (at least one answered).

    The answered parts' sentences are quoted in the parts' order, a sentence once; their sources
    are numbered again as cited, then the other passages the parts listed (in the parts' order),
    up to ``top_k`` sources in all (never fewer than those cited). A part the documents do not
    answer gets a note.

    Args:
        question: The question as asked.
        parts: Its parts (:func:`split_compound`).
        answers: The answer to each part.
        top_k: Sources to list.

    Returns:
        The joined answer; ``understood_as`` lists the parts as understood when one was rewritten.
    """
    merged: dict[tuple[str, int, int, str], Citation] = {}
    number: dict[tuple[str, int, int, str], int] = {}
    sentences: list[AnswerSentence] = []
    texts: list[str] = []
    for answer in answers:
        if not answer.answered:
            continue
        by_n = {c.n: c for c in answer.citations}
        for sentence in answer.sentences:
            if any(s.text == sentence.text for s in sentences):  # quoted once, from the first source
                continue
            citation = by_n[sentence.n]
            key = _key(citation)
            if key not in number:
                number[key] = len(number) + 1
                merged[key] = replace(citation, highlights=list(citation.highlights))
            else:  # the same passage cited by both parts: both parts' sentences are marked
                held = merged[key]
                held.highlights = sorted(set(held.highlights) | set(citation.highlights))
            sentences.append(replace(sentence, n=number[key]))
            texts.append(f"{sentence.text} [{number[key]}]")
    citations = [replace(merged[key], n=n, cited=True) for key, n in number.items()]
    listed = set(number)
    for answer in answers:  # the other passages listed, in the parts' order
        for citation in answer.citations:
            if len(citations) >= top_k:
                break
            if _key(citation) not in listed:
                listed.add(_key(citation))
                citations.append(replace(citation, n=len(citations) + 1, cited=False, highlights=[]))
    warnings = list(dict.fromkeys(w for a in answers for w in a.warnings))
    warnings += [unanswered(part) for part, a in zip(parts, answers, strict=True) if not a.answered]
    understood = None
    if any(a.understood_as for a in answers):
        understood = " ".join(a.understood_as or part for part, a in zip(parts, answers, strict=True))
    return Answer(question, " ".join(texts), True, citations, sentences, understood_as=understood,
                  score=max(a.score for a in answers), warnings=warnings)
