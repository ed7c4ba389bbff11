"""Assemble an extractive answer: the documents' own sentences, each with a numbered citation.

The engine never writes text of its own into an answer except the fixed "not found" line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from functools import lru_cache

import numpy as np

from qa.chunking import index_text, run_together_parts
from qa.keyword import IDF_OF_MOST, nearest_word, query_tokens, split_words, tokenize
from qa.retrieval import Hit, span
from qa.spelling import english_words
from qa.store import LoadedIndex

# Question words bm25s's English stop list keeps; they are not what a question is about.
# With the usual chat spellings ("wat", "whats"): no topic a document must use.
_QUESTION_WORDS = frozenset("what did does do who whom whose which when where why how is are was were "
                            "wat wot wut whats whos wht".split())
NOT_FOUND = "The documents do not contain an answer to this question."
_SPACES = re.compile(r"\s+")
# A document's own reference marks, as pasted from Wikipedia and the like: "in 2023.[3]",
# "relations[4][5]", "[a]", "[note 2]", "[citation needed]" — attached to the word or stop before
# them, and followed by a space, punctuation, another mark or the end. Not "[0]" (an index), not
# code-like text that goes on ("a[3].b", "m[2]=1"), not inside backticks.
_REFERENCE_MARK = re.compile(
    r"(?<=\S)\[(?:[1-9]\d{0,2}(?:[,–-]\s?[1-9]\d{0,2})*|[a-z]|(?:note|nb|n) ?\d{1,3}|citation needed|"
    r"clarification needed|dubious|who\?|when\?|which\?)\](?!\s*[=+\-*/<>%])(?=$|[\s,:!?)\]\"'”’\[]|\.(?:\s|$))",
    re.IGNORECASE,
)


#: A field of an infobox or a list: a label line of a few words, then its value on the next line.
#: Both start with a capital and the value ends without a full stop: a sentence of wrapped prose
#: that begins at a line's end ("… was founded. It\nwas later moved.") is no field.
_FIELD_LABEL = re.compile(r"^\s*([A-Z][^\n.!?:;,]{0,39}?)[ \t]*\n[ \t]*([A-Z0-9][^\n]*?(?<![.!?]))\s*$")
_FIELD_LABEL_WORDS = 4
#: A line ending in one of these goes on in the next ("The\nQuick Fox"): no label.
_NO_LABEL_END = frozenset("a an the of to in on at by for from with and or but is are was were it its this that".split())
_FIELD_VALUE_WORDS = 24


def quote_text(raw: str) -> str:
    """A sentence as the answer quotes it: spaces collapsed, and the document's own reference
    marks ("in 2023.[3]", "[citation needed]") left out, so that they do not pass for the
    answer's own ``[n]`` citations. A field reads as one: "Envoy" over "Ambassador Alexander
    DarchievAmbassador Lynne M. Tracy" is quoted "Envoy: Ambassador Alexander Darchiev ·
    Ambassador Lynne M. Tracy" (the file's words, its line break and run-together values
    marked). The citation's passage keeps the text exactly as in the file."""
    if (field_line := _FIELD_LABEL.match(raw)) is not None:
        label, value = field_line.groups()
        words = label.split()
        if (len(words) <= _FIELD_LABEL_WORDS and len(value.split()) <= _FIELD_VALUE_WORDS
                and words[-1].lower() not in _NO_LABEL_END):
            raw = f"{label}: " + " · ".join(run_together_parts(value))
    text = _SPACES.sub(" ", raw).strip()
    if "[" not in text:
        return text
    parts = text.split("`")
    # Even parts are outside backticks: code spans keep their brackets.
    return "`".join(_REFERENCE_MARK.sub("", part) if i % 2 == 0 else part for i, part in enumerate(parts)).strip()


@dataclass
class Citation:
    """A numbered source under an answer.

    Attributes:
        n: The number used in ``[n]`` markers.
        source: Path relative to the docs folder's parent (``"source_docs/x.txt"``).
        start_line: First line of the passage (1-based).
        end_line: Last line of the passage (inclusive).
        text: The passage, exactly as in the file.
        score: Retrieval score of the passage.
        section: Heading path of the passage ("" when none).
        highlights: ``(start, end)`` offsets in ``text`` of the sentences the answer quotes.
        cited: Whether the answer text refers to this source.
    """

    n: int
    source: str
    start_line: int
    end_line: int
    text: str
    score: float
    section: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)
    cited: bool = False


@dataclass
class AnswerSentence:
    """A sentence quoted in the answer and the source it comes from."""

    text: str
    n: int
    line: int
    #: The score it was chosen with (answers quote in reading order, not by score).
    score: float = 0.0


@dataclass
class Answer:
    """The engine's reply to one question."""

    question: str
    answer: str
    answered: bool
    citations: list[Citation]
    sentences: list[AnswerSentence] = field(default_factory=list)
    understood_as: str | None = None
    score: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The JSON contract of ``qa ask --json`` (extra keys beyond the contract are allowed)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "answered": self.answered,
            "understood_as": self.understood_as,
            "score": round(self.score, 4),
            "citations": [
                {**asdict(c), "score": round(c.score, 4), "highlights": [list(h) for h in c.highlights]}
                for c in self.citations
            ],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class AnswerParams:
    #: Evidence below this declines the question.
    threshold: float = 0.37
    #: Evidence below this declines a question holding a word the documents never use, and below
    #: the second one holding a name they never use (see :func:`unknown_words`).
    unknown_word_threshold: float = 0.45
    unknown_name_threshold: float = 0.55
    #: Weight of question-word overlap when choosing sentences.
    overlap_weight: float = 0.3
    #: Weight of the share of the question's word pairs a sentence repeats.
    phrase_weight: float = 0.3
    #: Weight of the passage's retrieval score (a sentence of a better passage wins ties).
    passage_weight: float = 0.3
    #: A second sentence joins the answer when it scores at least this share of the best one.
    second_ratio: float = 0.8
    max_sentences: int = 2
    #: Passages whose sentences may be quoted.
    depth: int = 3
    #: Taken off the score of a sentence that states no quantity, for a "how many / how much"
    #: question (when no quoted sentence states one, the question is declined), and of one that
    #: states no time, for a "when / in what year" question (never declined for that).
    count_penalty: float = 0.2
    #: For a question about a time ("in 1995", "in the 1990s", "after 2012"): added to a sentence
    #: stating a span in it when no sentence has the year as written ("1991–99" for 1995), taken
    #: off one about another time (see :func:`_outside`; it also stays out of an answer led by a
    #: sentence in time, and an answer of only such sentences is declined).
    year_weight: float = 0.2
    #: Share of their overlap weight the question's names get in a sentence that names no one
    #: but follows one naming them in its passage (see :func:`_carried_names`); 0 turns it off.
    carried_name_weight: float = 1.0

    @classmethod
    def from_settings(cls, settings) -> AnswerParams:
        """The ``answer_*`` fields of :class:`qa.settings.Settings` (``answer_threshold`` is ``threshold``)."""
        values = {f.name: getattr(settings, f"answer_{f.name}", None) for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if v is not None})


def evidence(hits: list[Hit]) -> float:
    """How strongly the best hit supports an answer: mean of its chunk and best-sentence cosine."""
    if not hits:
        return 0.0
    return max(0.5 * h.dense + 0.5 * h.best_sentence for h in hits[:3])


#: Titles and abbreviations written capitalised that are no names ("Is Mr. Putin OK?").
_TITLES = frozenset("mr mrs ms dr prof sir jr sr st ok".split())
_SENTENCE_START = re.compile(r"[.!?:;]\s+$")
_NAME_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_CAPITALISED_RUN = re.compile(r"(?:[A-Z][\w'’-]*(?:\s+(?:of|the|and|for|on)\s+|\s+))*[A-Z][\w'’-]*")


#: Words of a question's frame rather than its topic ("What happened …?", "What is X called?",
#: "What does it stand for?", "Which … does the article mention?", "How are relations today?"):
#: a document need not use them to answer it.
_GENERIC = ("happen happened happens happening occur occurred mean means meaning call called name named known "
            "describe described explain refer refers kind type example purpose reason role significance stand "
            "stands main like else exactly tell please today now nowadays currently presently lately recent "
            "recently latest article articles document documents text mention mentions mentioned according unrelated "
            "come came comes coming "
            # Fillers: "Did they actually cooperate…?" asks what "Did they cooperate…?" asks.
            "actually really ever even still also anyway basically indeed truly specifically particularly "
            "precisely generally typically usually originally "
            # "Anything else?", "What other things…?": placeholders for what is asked, no topic.
            "anything something everything thing things stuff "
            # Light verbs: "who got sanctioned?", "did things get worse?"
            "get gets got gotten getting "
            # "In which month and year …?" asks when, as "In what year …?" does ("year" is a word
            # of most documents, "month" of few).
            "month months "
            # "since Trump came back", "back in 1803": a return or a time, no topic.
            "back "
            # "How did relations change after 2012?" asks what happened to them: the sentences
            # say "strained", "deteriorated", never "changed".
            "change changed changes changing evolve evolved")


@lru_cache(maxsize=1)
def _generic_words() -> frozenset[str]:
    return frozenset(t for toks in tokenize(_GENERIC.split()) for t in toks)


# "What triggered it?" asks what "Why did it happen?" does: the verb is its frame (not in "What
# is a database trigger?").
_CAUSE_VERBS = r"(?:triggered|caused|prompted|sparked|provoked|motivated)"
# "What event triggered it?", "What factors led to it?": a noun between asks the same.
_CAUSE_NOUN = r"(?:events?|factors?|issues?|things?|developments?|incidents?|actions?|decisions?|conflicts?)"
_CAUSE_FRAME = re.compile(rf"\bwhat(?:\s+{_CAUSE_NOUN})?\s+{_CAUSE_VERBS}\b", re.IGNORECASE)


def _content_words(question: str) -> set[str]:
    """A question's content words (stemmed), with NLTK's whole stop list: "how", "can", "why" ask
    something but are no topic a sentence must hold (the rules were calibrated with that list)."""
    if m := _CAUSE_FRAME.search(question):
        question = question[: m.start()] + "why" + question[m.end():]
    return set(query_tokens(question, "nltk")) - _QUESTION_WORDS


def _covered(content: set[str], tokens_of: list[list[set[str]]], question: str = "",
             texts_of: list[list[str]] | None = None) -> bool:
    """Whether one sentence holds every content word of the question, beyond its frame: two or
    more words, or a lone year or number ("What happened in 2022?") or name ("What happened in
    Bosnia?"). An acronym of the question is in a sentence that spells it out ("UN": "United
    Nations"), and a year or decade in one that states a time within it ("the 1990s": "Boris
    Yeltsin (1991–99)"), when ``texts_of`` gives the sentences' texts."""
    topic = content - _generic_words()
    if len(topic) == 1:
        (word,) = topic
        if not (_YEAR_TOKEN.fullmatch(word) or (word.isdigit() and len(word) >= 3) or word in _name_stems(question)
                or (texts_of is not None and _written_as_name(_written_words(question).get(word, word), texts_of))):
            return False
    elif len(topic) < 2:
        return False
    acronyms = {t: w for w in _acronyms(question) for t in tokenize([w])[0]}
    # The words of the question's times ("1990s", and "earli" in "the early 1990s"), not every
    # number ("$1500").
    times = {t for m in _time_matches(question) for t in tokenize([m.group()])[0]} & topic
    asked = [(a, b) for a, b in asked_years(question) if a > 0 and b < _OPEN_END] if times else []
    for h, tokens in enumerate(tokens_of):
        for p, toks in enumerate(tokens):
            missing = topic - toks
            if not missing:
                return True
            if texts_of is None:
                continue
            text = texts_of[h][p]
            if asked and missing & times and _within(asked, _spans(text, question=False)):
                missing = missing - times
            if missing <= acronyms.keys() and all(_spelled_out(acronyms[t], [text]) for t in missing):
                return True
    return False


def _verbatim(question: str, texts_of: list[list[str]]) -> bool:
    """Whether a short query stands as written in one retrieved sentence ("9/11", "state-owned
    banks", "Titovian flavour"): a keyword search, on topic whatever its cosine. It needs a
    content word or a number of its own ("what is it" is in many sentences)."""
    query = " ".join(question.strip(" \t?!.").lower().split())
    if len(query) < 3 or len(query.split()) > _VERBATIM_WORDS:
        return False
    if not (_content_words(query) - _generic_words()) and not any(ch.isdigit() for ch in query):
        return False
    pattern = re.compile(rf"(?<!\w){re.escape(query)}(?!\w)")
    return any(pattern.search(" ".join(text.lower().split())) for texts in texts_of for text in texts)


#: Longest query :func:`_verbatim` reads as a keyword search.
_VERBATIM_WORDS = 4


#: Longest stated span that answers a question about a time it overlaps: a term of office
#: ("Boris Yeltsin (1991–99)") does, a lifetime ("Richard Nixon (1913–1994)") does not.
_MAX_COVERING_SPAN = 15


def _within(asked: list[tuple[int, int]], spans: list[tuple[int, int, bool]]) -> bool:
    """Whether a sentence states a time within one asked about, for the coverage rule: a closed
    span inside it, or one of at most :data:`_MAX_COVERING_SPAN` years overlapping it. Open
    spans never do: "since 2014" is no answer to "in 2019", nor "in 2000" to "in 2005"."""
    return any((a <= c and d <= b) or (d - c <= _MAX_COVERING_SPAN and c <= b and a <= d)
               for a, b in asked for c, d, _ in spans if d != _OPEN_END)


def _capitalised(question: str) -> list[str]:
    """The words of a question capitalised after its first word: its names, as written."""
    return [w for i, w in enumerate(_NAME_WORD.findall(question)) if i > 0 and w[0].isupper()]


def _carried_names(texts: list[str], tokens: list[set[str]]) -> list[set[str]]:
    """For each sentence of a passage that names no one (no capitalised word after its first),
    the name tokens of the last sentence before it that does: "The two countries cooperated on
    issues such as …" after "After Vladimir Putin became President of Russia in 2000, …" is about
    Putin's first years. Empty for a sentence with names of its own."""
    names_of = [" ".join(_capitalised(text)) for text in texts]
    name_tokens = tokenize(names_of)  # one call: this runs for every question
    carried: list[set[str]] = []
    last: set[str] = set()
    for names, named, toks in zip(names_of, name_tokens, tokens, strict=True):
        if names:
            last = set(named) & toks
            carried.append(set())
        else:
            carried.append(last - toks)
    return carried


def _is_acronym(word: str) -> bool:
    """Whether a name is written as an acronym ("UN", "NATO"): in capitals, 2-6 letters."""
    return word.isupper() and 2 <= len(word) <= 6


def _acronyms(question: str) -> list[str]:
    """The question's acronyms as written (:func:`_is_acronym`)."""
    return [w for w in _capitalised(question) if _is_acronym(w)]


def _name_stems(question: str) -> set[str]:
    """Stems of the question's names (:func:`_capitalised`)."""
    return {t for toks in tokenize(_capitalised(question)) for t in toks}


_DECADE_TOKEN = re.compile(r"(?:1\d|20)\d0s")


def _near_generic(token: str) -> bool:
    """Whether a token is one edit from a frame word (:data:`_GENERIC`): "happend", "explan"."""
    return len(token) >= 5 and nearest_word(token, _generic_by_length(), 1) is not None


@lru_cache(maxsize=1)
def _generic_by_length() -> dict[int, list[str]]:
    by_length: dict[int, list[str]] = {}
    for word in sorted(_generic_words()):
        by_length.setdefault(len(word), []).append(word)
    return by_length


def unknown_words(index: LoadedIndex, question: str, content: set[str], passages: list[str]) -> tuple[set[str], set[str]]:
    """The question's content words (stemmed) that no document uses, and those of them that are
    names (capitalised after the first word: "What did Obama do?").

    A word the documents never use is a strong sign they do not say: on SQuAD, questions about
    articles not in the index have one three times in four, answerable ones one time in twelve;
    an unknown *name*, one time in two against one in fifty. An acronym spelled out in the
    retrieved passages ("UN" for "United Nations") is not unknown.
    """
    vocab = index.keyword.vocab
    # A decade is seldom written as such ("Boris Yeltsin (1991–99)" for "the 1990s"): the times
    # rules judge it, not the words.
    unknown = sorted({t for t in content if t not in vocab and not _DECADE_TOKEN.fullmatch(t)}
                     - _generic_words())[:_MAX_UNKNOWN]
    written = _written_words(question)
    # "happend": a frame word misspelt is no topic either (a name is none: "Comey" is no "come",
    # nor an English word: "comet").
    names = _name_stems(question)
    unknown = [t for t in unknown if t in names or written.get(t, t) in english_words() or not _near_generic(t)]
    # "____": a blank to fill
    unknown = {t for t in unknown if t.strip("_") and not _misspelt(written.get(t, t), index)}
    if not unknown:
        return set(), set()
    acronyms = {w for w in _acronyms(question) if _spelled_out(w, passages)}
    # Typed in lower case ("how did the us vote at the un?"): "US" and "UN" all the same, where
    # the passages spell them out ("United States", "United Nations").
    acronyms |= {w for t, w in written.items() if t in unknown and 2 <= len(w) <= 4 and w.isalpha()
                 and _spelled_out(w.upper(), passages)}
    unknown -= {t for toks in tokenize(sorted(acronyms)) for t in toks}
    return unknown, unknown & _name_stems(question)


def absent_names(index: LoadedIndex, hits: list[Hit], question: str) -> list[str]:
    """The question's names, as written, that no document uses ("Did Obama reset relations?"):
    an answer to it quotes what comes closest, and says so. A misspelt name the documents use
    ("Yeltsn") and an acronym the passages spell out ("UN") are not absent; nor are stop words,
    titles ("Mr", "OK") and words capitalised because a sentence begins with them, and a
    question in capitals has none.

    Args:
        index: The loaded index.
        hits: The retrieved passages (for acronyms they spell out).
        question: The question as asked.

    Returns:
        The absent names in the question's order.
    """
    if question.upper() == question:  # shouted: every word is capitalised, none marks a name
        return []
    vocab = index.keyword.vocab
    skip = _generic_words() | _QUESTION_WORDS
    # Capitalised words, in order: (start, end, whether no document uses it).
    names: list[tuple[int, int, bool]] = []
    passages: list[str] | None = None
    looked_up = 0  # unknown words compared with the vocabulary: a long question stays cheap
    for m in _NAME_WORD.finditer(question):
        word = m.group()
        # A name is capitalised where a sentence does not begin ("Thanks. Now tell me …").
        if not word[0].isupper() or not question[: m.start()].strip() or _SENTENCE_START.search(question[: m.start()]):
            continue
        if word.lower().rstrip(".") in _TITLES:
            continue
        stems = [t for t in query_tokens(word, "nltk") if t not in skip]
        if not stems:  # "Is", "Did" in "What Did Zorblax Do?": no name, and it ends one
            continue
        names.append((m.start(), m.end(), False))
        if any(t in vocab for t in stems):
            continue
        looked_up += 1
        if looked_up > _MAX_UNKNOWN:
            break
        if any(_misspelt(w, index) for t, w in _written_words(word).items() if t in stems):
            continue
        if _is_acronym(word):
            if passages is None:
                passages = [index.sentence_text(int(r)) for hit in hits for r in hit.sentence_rows]
            if _spelled_out(word, passages):
                continue
        names[-1] = (m.start(), m.end(), True)
    # A name of several words is reported whole: "Cold War", though "War" alone is known.
    runs: list[list[tuple[int, int, bool]]] = []
    for name in names:
        if runs and not question[runs[-1][-1][1] : name[0]].strip():
            runs[-1].append(name)
        else:
            runs.append([name])
    absent = [question[run[0][0] : run[-1][1]] for run in runs if any(unknown for _, _, unknown in run)]
    return list(dict.fromkeys(absent))


def _all_unknown(index: LoadedIndex, question: str, texts_of: list[list[str]]) -> bool:
    """Whether every topic word of the question as asked (its frame aside) is one no document
    uses, nor a misspelling of one: "What was his favourite food?", "What about the economy?"."""
    topic = _content_words(question) - _generic_words()
    vocab = index.keyword.vocab
    if not topic or any(t in vocab for t in topic):
        return False
    words, _ = unknown_words(index, question, topic, [t for texts in texts_of for t in texts])
    return words == topic


# "after that", "by then", "at the time": a time the conversation gave (the question alone has it
# only as a reference).
_TIME_OF_LAST = re.compile(r"\b(?:after|before|since|until|till|by|from)\s+(?:that|this|then|it|him|her|them)\b"
                           r"|\bthen\b|\bat\s+(?:that|the)\s+time\b", re.IGNORECASE)


def _unknown_bar(index: LoadedIndex, question: str, content: set[str], texts_of: list[list[str]],
                 params: AnswerParams, timed: bool = False) -> float:
    words, names = unknown_words(index, question, content, [t for texts in texts_of for t in texts])
    # A time tells which passage ("Who led Russia in the 1990s?", "…after that?" after "…in
    # 1991"), though "Russia" is in all of them: the times rules judge it.
    timed = timed or bool(_time_matches(question)) or bool(_TIME_OF_LAST.search(question))
    if names or (words and not timed and _only_everywhere(index, content - words - _generic_words())):
        return max(params.unknown_name_threshold, params.unknown_word_threshold)
    return params.unknown_word_threshold if words else 0.0


def _only_everywhere(index: LoadedIndex, known: set[str]) -> bool:
    """Whether every known topic word of a question is in more than half the passages: "What is
    the annual trade volume between Russia and the US?" over an article about Russia and the US
    asks nothing the documents know but its subject (an unknown word then weighs as a name)."""
    # An acronym the passages spell out ("US" for "United States") is no word of theirs: left out.
    vocab = index.keyword.vocab
    return all(v < IDF_OF_MOST for v in index.keyword.idf(sorted(t for t in known if t in vocab)))


def unknown_bar(index: LoadedIndex, question: str, hits: list[Hit], params: AnswerParams) -> float:
    """The evidence a question needs because of words or names the documents never use (0: none);
    what :func:`compose` applies next to ``params.threshold`` (for the calibration)."""
    content = _content_words(question)
    texts_of = [[index.sentence_text(int(r)) for r in hit.sentence_rows] for hit in hits[: params.depth]]
    return _unknown_bar(index, question, content, texts_of, params)


#: Unknown words looked at per question (a long question of made-up words must stay cheap).
_MAX_UNKNOWN = 8


def _misspelt(word: str, index: LoadedIndex) -> bool:
    """Whether a word (as written, lower-cased) that the documents never use is one they do use,
    misspelt or a month abbreviated ("feb"): one edit away (two from seven letters on), "Hollwood", "Maastrich", "Celeron" for
    "Céloron". Words under four letters are too short to tell, and numbers are never misspelt
    ("2025" is not "2024"). Computed for questions the threshold alone would answer that hold an
    unknown word, and for the few names of a question no document uses (:func:`absent_names`).
    More lenient than the retrieval's replacement (:meth:`qa.keyword.KeywordIndex.known_tokens`):
    forgiving a word only keeps the bar where it is, replacing it changes what is searched.
    A known word plus two letters or more is another word ("Georgia" is not "George"), and the
    distance is that of the words as written: the stems of "born" and "Boris" ("bori") are one
    edit apart, the words two; two letters swapped are one edit ("exlposion"). An ending the
    documents' word lacks does not count ("boycotting" for "boycott": the stems "boycot" and
    "boycott" are one edit apart, the words three)."""
    from rapidfuzz.distance import OSA

    token = next(iter(tokenize([word], frozenset())[0]), "")
    if (month := _MONTH_ABBREVIATIONS.get(word.rstrip("."))) is not None:  # "Feb" for "February"
        return any(t in index.keyword.vocab for t in tokenize([month], frozenset())[0])
    if len(word) < 4 or not token or any(ch.isdigit() for ch in word):
        return False
    match = index.keyword.closest(token, _edits(token))
    if match is None or (len(token) - len(match) >= 2 and token.startswith(match)):
        return False
    forms = index.keyword.written_forms(match, index.chunk_index_text)
    return not forms or any(
        OSA.distance(word, form) <= _edits(word)
        # The ending aside, within the reach of the shorter word ("spurred" is not "sur").
        or OSA.distance(word[: len(form)], form) <= _edits(form)
        for form in forms
    )


def _edits(word: str) -> int:
    """Edits a misspelling of ``word`` may be away from it (:func:`_misspelt`): one, two from
    seven letters on."""
    return 2 if len(word) >= 7 else 1


# A sentence or a line ended just before ("W." in "George W. Bush" ends none).
_ENDED_BEFORE = re.compile(r"(?:(?<!\b[A-Z])[.!?:;]\s+|\n\s*)$")


def _written_as_name(word: str, texts_of: list[list[str]]) -> bool:
    """Whether the sentences write a word the question wrote in lower case as a name: never in
    lower case, and capitalised inside a sentence once at least ("what did hegseth do": "…Pete
    Hegseth has…"; "Deterioration continued…" only begins one)."""
    pattern = re.compile(rf"(?<![\w'’-]){re.escape(word)}(?![\w-])", re.IGNORECASE)
    inside = False
    for texts in texts_of:
        for text in texts:
            for m in pattern.finditer(text):
                if m.group().islower():
                    return False
                before = text[: m.start()]  # a bullet or a quote mark opens a sentence too
                inside = inside or (bool(before.strip(" \t\n\"'“‘«(*•–—-")) and not _ENDED_BEFORE.search(before))
    return inside


def _written_words(question: str) -> dict[str, str]:
    """Stem -> the question's word as written (lower-cased), for the words of a question."""
    written = split_words(question)
    return {toks[0]: w for w, toks in zip(written, tokenize(written, frozenset()), strict=True) if toks}


def _spelled_out(acronym: str, passages: list[str]) -> bool:
    """Whether a run of capitalised words in the passages has the acronym's letters as initials,
    or the passages write it with dots ("DC": "Washington, D.C."; the keyword index keeps no
    one-letter word, so "D.C." is in no vocabulary)."""
    dotted = re.compile(r"(?<![\w.])" + r"\.".join(map(re.escape, acronym)) + r"\.?(?![a-z])")
    for text in passages:
        if dotted.search(text):
            return True
        for run in _CAPITALISED_RUN.findall(text):
            initials = "".join(w[0] for w in run.split() if w[0].isupper())
            if acronym in initials:
                return True
    return False


_COUNT_QUESTION = re.compile(r"\bhow\s+(?:many|much)\b", re.IGNORECASE)
# A year, a decade or an ordinal is no answer to "how many" ("the 1999 NATO intervention").
# A sum ("$1500") is a quantity even when it looks like a year.
# …but a year-like number before a plural noun counts ("1500 soldiers", "2000 people"), unless
# "in" says it is a time ("in 1999 schools closed").
_NOT_A_COUNT = re.compile(r"(?<![$€£¥\d.,])\b(?:1\d{3}|20\d{2})(?:['’]?s)?\b"
                          r"(?:(?<=\bin\s\d{4})|(?<=\bin\s\d{4}s)|(?!\s+(?-i:people|men|women|children|[a-z]+s)\b))"
                          r"|\b\d+(?:st|nd|rd|th)\b", re.IGNORECASE)
_LETTERS = re.compile(r"[A-Za-z]+")
_COUNT_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds "
    "thousand thousands million millions billion billions trillion trillions dozen dozens half quarter "
    "twice once single double none several few many numerous".split()
)
#: Number words that count nothing exactly: "several banks" is no answer to "How many banks?"
#: (three sets of questions written blind asked it so), nor to "How much did it cost?".
_VAGUE_COUNT_WORDS = frozenset("several few many numerous".split())
_EXACT_COUNT_WORDS = _COUNT_WORDS - _VAGUE_COUNT_WORDS
_AMOUNT_QUESTION = re.compile(r"\bhow\s+much\b", re.IGNORECASE)
#: Sentences before a timeless one looked at for the time it follows (a bare "When?").
_TIME_LOOKBACK = 2
# "When?", "Since when?", "When was that?": a follow-up asking nothing but a time.
_BARE_WHEN = re.compile(
    # "what year was that?", "in what year did that happen?" ask what "when was that?" does.
    r"^\s*(?:and\s+|but\s+|so\s+)?(?:since\s+|until\s+|till\s+)?"
    r"(?:when|(?:(?:in|on)\s+)?(?:what|which)\s+(?:year|date|month|day|decade))"
    r"(?:\s+(?:was|is|were|did|does|do|had|has)\s+(?:that|this|it|they|he|she))?"
    r"(?:\s+(?:happen|happened|start|started|begin|began|end|ended))?"
    # "Since when had they been in place?": how long what the last answer said has held.
    r"(?:\s+(?:been\s+)?(?:in\s+(?:place|effect|force)|around|going\s+on|the\s+case))?[\s?!.]*$",
    re.IGNORECASE,
)
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# A month/day date: "9/11", not "24/7" nor "1/2/3".
_SLASH_DATE = r"(?<![\d/])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![\d/])"
_MONTH_OR_DATE = re.compile(
    # A month with a day or after "in", "of", "since"… ("Theresa May" is no month), a date, a
    # century, a weekday.
    rf"\b{_MONTHS}\s+\d|\b\d{{1,2}}\s+{_MONTHS}\b|\b(?:in|of|since|until|by|from|early|mid|late|last|next)\s+{_MONTHS}\b"
    rf"|{_SLASH_DATE}"
    r"|\b\d{1,2}(?:st|nd|rd|th)\s+(?:and\s+\d{1,2}(?:st|nd|rd|th)\s+)?centur(?:y|ies)\b"
    r"|\b(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
    # A time of day: "at 9:00", "from 11:45 to 14:00", "3 pm", "10 a.m.", "noon", "six o'clock".
    r"|(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:])"
    r"|\b(?:1[0-2]|0?[1-9])(?::[0-5]\d)?\s*(?i:[ap]\.m\.|[ap]m\b)"
    r"|\b(?i:noon|midnight|midday|o['’]clock)\b"
)


# "When did …?", "In what year …?", "What century …?": a question whose answer is a time.
_TIME_QUESTION = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:when\b|since\s+when\b|(?:in|on|at|by|during|from|until)?\s*(?:what|which)\s+"
    # "How long has she been ambassador?" asks since when ("since 1979"); "How long did it
    # last?" asks for a length ("three years"), which states no time.
    # "On what exact date …?" asks what "On what date …?" asks.
    r"(?:(?:exact|precise|specific|particular)\s+)?"
    r"(?:year|years|decade|century|month|date|day|period|era)\b|how\s+long\s+(?:has|have)\b)",
    re.IGNORECASE,
)
# "When violence is used, what is it called?": the question comes after the clause.
_WHEN_CLAUSE = re.compile(r"^\s*when\b[^?,]*,\s*(?:what|who|whom|whose|which|how|where|why)\b", re.IGNORECASE)
# "yeltsin was president from when to when", "they met when?": the time asked mid-sentence or last.
_TIME_ASKED_LATER = re.compile(r"\b(?:from|since|until|till)\s+when\b|\bwhen\s*\?*\s*$", re.IGNORECASE)


# "How are relations today?", "Who is the current ambassador?": the latest time the documents
# state, not a time of its own; the words themselves are no topic a document must use.
# Not "what is now downtown Jacksonville" (a place by today's name), "Which current type" (an
# electric one: "current" counts after "the", "its"…), nor "the World Today article" (a name).
_PRESENT = re.compile(
    r"(?<![A-Za-z])(?:today|now|nowadays|currently|presently|lately|these\s+days|at\s+present|"
    r"at\s+the\s+moment|(?:the|its|their|his|her|our)\s+current|(?:most\s+)?recent(?:ly)?|latest)(?![A-Za-z])",
    re.IGNORECASE,
)
_NOT_PRESENT = re.compile(r"\b(?:what|which)\s+(?:is|are|was|were)\s+now\b|\bnow\s+(?:known|called|named)\b",
                          re.IGNORECASE)


def asks_present(question: str) -> bool:
    """Whether a question asks about now ("today", "currently", "the latest") rather than a time
    it names."""
    found = [m for m in _PRESENT.finditer(_NOT_PRESENT.sub(lambda m: " " * len(m.group()), question))
             if m.group()[0].islower() or not question[: m.start()].strip()]
    return bool(found)


def _years_behind_latest(texts_of: list[list[str]], this_year: int) -> dict[tuple[int, int], int]:
    """For "How are relations today?": how many years the time a sentence is about lies before the
    latest one the passages state (up to ``this_year``), by (hit, sentence) position. A sentence
    is about the time it states, else the last one its passage stated (an open one, "since
    1991", from its start: the news is what began last); one with none behind it is not behind.
    Empty when no passage states a time."""
    ends_of = [[[a if b == _OPEN_END else b for a, b, _ in _spans(text, question=False)] for text in texts]
               for texts in texts_of]
    latest = max((b for passage in ends_of for ends in passage for b in ends if b <= this_year), default=None)
    if latest is None:
        return {}
    carried = _carried(ends_of, lambda ends: 0 if any(b > this_year for b in ends) else latest - max(ends))
    return {k: years for k, years in carried.items() if years}


def _carried(years_of: list[list[list[int]]], value: Callable[[list[int]], int | None]) -> dict[tuple[int, int], int]:
    """By (hit, sentence) position: ``value`` of the years a sentence states, or for one stating
    none the value its passage last gave ("Putin worked closely with … Bush" after "…in 2000");
    positions whose value is None are left out."""
    found: dict[tuple[int, int], int] = {}
    for h, passage in enumerate(years_of):
        current: int | None = None
        for p, years in enumerate(passage):
            if years:
                current = value(years)
            if current is not None:
                found[(h, p)] = current
    return found


# "Why did Yeltsin object to …?", "For what reason …?", "How come …?", "What triggered it?": a
# question whose answer is a cause.
_WHY_QUESTION = re.compile(
    rf"^\s*(?:and\s+|but\s+|so\s+)?(?:why\b|how\s+come\b|for\s+what\s+reasons?\b|what\s+(?:was|were|is|are)\s+"
    rf"the\s+(?:reasons?|causes?|motives?|triggers?)\b|what(?:\s+{_CAUSE_NOUN})?\s+(?:{_CAUSE_VERBS}|led\s+to)\b|what\s+made(?!\s+up\b)\b)",
    re.IGNORECASE,
)
# A sentence that gives a reason: "because", "due to", "saw it as an infringement", "in response to".
_GIVES_REASON = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result|result\s+of|in\s+order\s+to|so\s+as\s+to|"
    r"so\s+that|therefore|thus|hence|led\s+to|caused|reasons?|motivated|aimed?\s+(?:at|to)|in\s+response|"
    r"in\s+retaliation|fear(?:ed|s)?\s+(?:of|that)|out\s+of\s+concern|"
    r"(?:saw|see|sees|seen|viewed|views|regarded|regards|considered)\s+(?:it|this|that|them|him|her)?\s*as|"
    # "Relations deteriorated … following the Russian invasion": what set it off (not a
    # sentence's opening "Following X, …", which dates it).
    # "In the years following the war", "shortly following …" date it too.
    r"(?<=[\w,)]\s)(?<!years\s)(?<!months\s)(?<!weeks\s)(?<!days\s)(?<!shortly\s)(?<!immediately\s)"
    r"following\s+(?:the|a|an|his|her|its|their)\b)\b",
    re.IGNORECASE,
)
#: Sentences after the one a "why" question is about that may hold its reason.
_REASON_LOOKAHEAD = 1


def asks_why(question: str) -> bool:
    """Whether a question asks for a cause ("Why …?", "How come …?", "What was the reason …?",
    "What triggered it?")."""
    return _WHY_QUESTION.match(question) is not None


def gives_reason(sentence: str) -> bool:
    """Whether a sentence states a cause or a motive ("because", "due to", "saw it as …")."""
    return _GIVES_REASON.search(sentence) is not None


def asks_time(question: str) -> bool:
    """Whether a question asks for a time ("When did …?", "In what year …?"); not "When many
    people are arrested, what is a common tactic?", whose "when" opens a clause."""
    if _WHEN_CLAUSE.match(question):
        return False
    return _TIME_QUESTION.match(question) is not None or _TIME_ASKED_LATER.search(question) is not None


def asks_only_when(question: str) -> bool:
    """Whether a question asks nothing but a time: "When?", "Since when?", "When was that?"."""
    return _BARE_WHEN.match(question) is not None


# "Who did they target?", "who was targeted?", "who got hit": who or what, of what the last
# answer said, by one verb.
_BARE_WHO = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:who|whom|what|which\s+ones?)\s+"
    r"(?:(?:did|do|does|was|were|is|are|got|get|gets|has|have|had)\s+)?"
    r"(?:(?:they|he|she|it|that|this|those|these)\s+)?(?:been\s+)?([a-z]+)[\s?!.]*$",
    re.IGNORECASE,
)


def asks_who_of_last(index: LoadedIndex, question: str) -> bool:
    """Whether a follow-up asks who or what of what the last answer said, by a verb no document
    uses: "Who did they target?" after "…sanctions … were significantly expanded …, including
    several state-owned banks and oligarchs" is answered by that sentence, which says it in
    other words ("including"). A verb the documents use ("Who expanded them?") finds its
    sentence by its words, as any question does."""
    found = _BARE_WHO.match(question)
    if found is None:
        return False
    verb = set(query_tokens(found.group(1))) - _generic_words()
    vocab = index.keyword.vocab
    return bool(verb) and not any(t in vocab for t in verb)


# "Did he want to get along with the US at first?": a yes or no about what the last answer said.
_YES_NO_OF_LAST = re.compile(r"^\s*(?:and\s+|so\s+|but\s+)?(?:did|does|do|was|were|is|are|has|have|had)\s+"
                             r"(?:he|she|it|they|that|this|those|these)\b", re.IGNORECASE)


def asks_of_last(index: LoadedIndex, question: str) -> bool:
    """Whether a follow-up asks only when (:func:`asks_only_when`) or who (:func:`asks_who_of_last`)
    of what the last answer said: that answer's sentence is on topic, whatever its evidence."""
    return asks_only_when(question) or asks_who_of_last(index, question)


def asks_yes_or_no_of_last(question: str) -> bool:
    """Whether a follow-up asks a yes or no of what the last answer said ("Did he …?", "Was that …?"):
    that answer's sentence may answer it again."""
    return _YES_NO_OF_LAST.match(question) is not None


def states_time(sentence: str) -> bool:
    """Whether a sentence says when: a year, a decade, a range, a month with a day or a
    preposition ("in February 2025", "since March"), a date ("9/11"), a century or a weekday."""
    return bool(_spans(sentence, question=False)) or _MONTH_OR_DATE.search(_full_times(sentence)) is not None


# Words that place an event in time without a date: "after the war", "during his reign", "toward
# the end of his life", "at the beginning of each session", "as soon as they enter into force".
_TIME_CUE = re.compile(
    r"\b(?:after|afterwards?|before|during|following|since|until|till|when|whenever|while|once|upon|"
    r"soon|ago|prior|then|later|earlier|formerly|previously|recently|eventually|finally|"
    r"beginning|start|end|early|late|age|times?|era|period|reign|years?|months?|weeks?|days?|decades?|"
    r"hours?|night|morning|evening|spring|summer|autumn|winter|today|yesterday|now)\b",
    re.IGNORECASE,
)


def places_in_time(sentence: str) -> bool:
    """Whether a sentence says when, by a date (:func:`states_time`) or by words that place what
    it tells in time ("after the war", "toward the end of his life")."""
    return states_time(sentence) or _TIME_CUE.search(sentence) is not None


_SENTENCE_END = re.compile(r"[.!?:;…][\"'’”)\]]*\s*$")


def _is_fragment(text: str) -> bool:
    """Whether a "sentence" is no sentence: a title or a field without closing punctuation."""
    return _SENTENCE_END.search(text) is None


#: Most words of an infobox field or a title (a long run without closing punctuation is a
#: sentence cut short: "Oxygen gas (O 2) can be toxic at elevated partial pressures, …").
_FIELD_WORDS = 12


def _is_field(text: str) -> bool:
    """Whether a "sentence" is a short fragment: a field ("Envoy Ambassador … Lynne M. Tracy") or a title."""
    return _is_fragment(text) and len(text.split()) <= _FIELD_WORDS


def _is_title(text: str) -> bool:
    """Whether a "sentence" is a title: a fragment of a few words, without a comma or a number
    (a piece of a sentence cut at "O 2" or a quotation is none: "In the triplet form, O")."""
    return _is_fragment(text) and len(text.split()) <= _TITLE_WORDS and not re.search(r"[,\d]", text)


_TITLE_WORDS = 4
#: A question that a title may answer: "What is it called?", "Under what name…?", "What title…?"
_ASKS_NAME = re.compile(r"\b(?:call|called|calls|name|named|names|title|titled|known\s+as)\b", re.IGNORECASE)


# Years 1000–2099, not amounts ("$1500"), dates ("2001-09-11", "05/2015") nor parts of longer
# numbers; "1990s" / "1990's" a decade, "1800s" a century; ranges "1991–99", "from 2000 to 2008",
# "between 1995 and 2005", "2008–present".
_YEAR = r"(?<![$€£¥\d.,/-])(?<![$€£¥]\s)\b(1\d{3}|20\d{2})(?![\d/])"
_SPAN = re.compile(
    r"\b(?:(?P<bound>before|until|till|prior\s+to|up\s+to|by|after|since|from|between)\s+(?:the\s+)?)?"
    + r"(?:(?P<part>early|mid|late)\s+)?"
    + _YEAR.replace("(1", "(?P<year>1", 1) + r"(?P<decade>['’]?s)?"
    + r"(?:\s*(?:[–—]|-(?!\d{2}-)|\bto\b|\band\b|\bthrough\b|\buntil\b)\s*(?:the\s+)?"
    + r"(?P<until>1\d{3}|20\d{2}|\d{2}(?![\d/-])|present\b|now\b|today\b))?",
    re.IGNORECASE,
)
_OPEN_END = 9999
_YEAR_TOKEN = re.compile(r"(?:1\d|20)\d{2}s?")  # a year or a decade as tokenised: "1995", "1990s"
_PART_HYPHEN = re.compile(r"\b(early|mid|late)-(?=\d)", re.IGNORECASE)  # "mid-1990s"
#: Years of a decade (of a century) that "early", "mid" and "late" name.
_PARTS = {"early": (0, 3, 0, 33), "mid": (3, 6, 33, 66), "late": (6, 9, 66, 99)}


def _time_matches(text: str) -> list[re.Match[str]]:
    """The times a text names (:data:`_SPAN`), "mid-1990s" read as "mid 1990s"; each match's
    ``string`` is that reading of the text."""
    return list(_SPAN.finditer(_full_times(_PART_HYPHEN.sub(r"\1 ", text))))


def _full_times(text: str) -> str:
    """``text`` with short decades and month abbreviations before a number written out: "the
    '90s" → "the 1990s", "Feb 2025" → "February 2025"."""
    text = _SHORT_DECADE.sub(_full_decade, text)
    return _SHORT_MONTH.sub(lambda m: _MONTH_ABBREVIATIONS[m.group(1).lower()].capitalize() + " ", text)


# "the 90s", "the '90s", "in the late 80s": a decade of the last century (00s–20s of this one);
# "in his 90s" is an age.
_SHORT_DECADE = re.compile(r"(?<=\bthe\s)(?:(?P<part>early|mid|late)[\s-])?['’]?(?P<d>\d)0['’]?s\b", re.IGNORECASE)


_MONTH_ABBREVIATIONS = {m[:3]: m for m in ("january february march april june july august september october "
                                            "november december").split()} | {"sept": "september"}
# "Feb 2025", "Sept. 11": a month; "Mar" or "Dec" alone may be anything.
_SHORT_MONTH = re.compile(rf"\b({'|'.join(_MONTH_ABBREVIATIONS)})\b\.?\s+(?=\d)", re.IGNORECASE)


def _full_decade(m: re.Match[str]) -> str:
    century = 20 if int(m["d"]) <= 2 else 19
    return f"{m['part'] + ' ' if m['part'] else ''}{century}{m['d']}0s"


def _spans(text: str, question: bool) -> list[tuple[int, int, bool]]:
    """(first year, last year, whether a single year) of each time a text names: in a sentence a
    year, a decade ("1990s"), a century ("1800s"), a range ("1991–99", "from 2000 to 2008") or
    an open one ("since 2014", "2008–present"); in a question also a bound ("after 2012")."""
    spans = []
    for m in _time_matches(text):
        start = end = int(m["year"])
        decade, until, bound = m["decade"], m["until"], " ".join((m["bound"] or "").lower().split())
        if decade and start % 10 == 0:
            # "the 1800s" is the century; "the 2000s" and "the 1990s" are decades.
            century = start % 100 == 0 and start < 2000
            end = start + (99 if century else 9)
            if m["part"]:  # "the late 1990s": 1996–1999
                first, last = _PARTS[m["part"].lower()][2:] if century else _PARTS[m["part"].lower()][:2]
                start, end = start + first, start + last
        if until:
            if until.isalpha():
                end = _OPEN_END
            elif len(until) == 4:
                end = max(int(until), end)
            else:  # "1991–99", "1998–02"
                last = start - start % 100 + int(until)
                end = max(last if last > start else last + 100, end)
        elif bound in ("since", "from") and not question:
            end = _OPEN_END  # "sanctions imposed since 2014"
        if question and not until:
            # "after 2000" counts 2000 in: it is said of "After Putin became President … in 2000".
            if bound in ("before", "prior to"):
                start, end = 0, start - 1
            elif bound in ("until", "till", "up to", "by"):
                start = 0
            elif bound in ("after", "since", "from"):
                end = _OPEN_END
        spans.append((start, end, start == end))
    return spans


def asked_years(question: str) -> list[tuple[int, int]]:
    """The time spans a question asks about, as (first year, last year): "in 1995" (1995, 1995),
    "in the 1990s" (1990, 1999), "during 1991–1999" (1991, 1999), "after 2012" (2012, open:
    9999), "before 1991" (0, 1990), "by 1991" (0, 1991)."""
    return [(a, b) for a, b, _ in _spans(question, question=True)]


# "Who succeeded Yeltsin?", "Who was president after Yeltsin?", "After Yeltsin, who…?", "Who came
# before Putin?", "Yeltsin's successor": a time after (or before) a named person's. The names are
# told by their capitals, so only the relation words ignore case.
_NAME_RUN = r"(?:[A-Z][\w'’.-]*\s+)*[A-Z][\w'’.-]*"
_RELATIVE_TO_NAME = re.compile(
    r"\b(?P<rel>(?i:after|before|succeed(?:ed|s|ing)?|precede[ds]?|preceding|replace[ds]?|replacing|following))\s+"
    r"(?:(?i:(?:the\s+)?(?:president|chancellor|prime\s+minister|king|queen|leader|ambassador|secretary|"
    rf"ceo|chairman|director|head|governor))\s+)?(?P<name>{_NAME_RUN})"
    rf"|(?P<name2>{_NAME_RUN}?)['’]s?\s+(?P<rel2>(?i:successor|predecessor))\b"
    rf"|\b(?P<rel3>(?i:successor|predecessor))\s+(?i:of|to)\s+(?P<name3>{_NAME_RUN})",
)
_EARLIER = ("before", "precede", "preceded", "precedes", "preceding", "predecessor")
# A sentence that says who succeeded whom names the earlier person and is the answer.
_SUCCESSION = re.compile(r"\b(succe(?:ed|ss)\w*|replac\w+|took\s+over|handed\s+over)\b", re.IGNORECASE)


# "Who was Russia's ambassador before Darchiev?", "who came after yeltsin": a person by their
# place in a succession, the one they came before or after named last.
_WHO_NEXT_TO = re.compile(
    r"^\s*(?:and\s+|so\s+)?who(?:m)?\b[^?]*?\b(?:before|after|preceded|succeeded|replaced|followed)\s+"
    r"(?:(?:the\s+)?[a-z]+\s+)?(?:[A-Za-z][\w.-]*\s+)?(?P<name>[A-Za-z][\w-]+)[\s?!.]*$",
    re.IGNORECASE,
)


# "Who was the US president during the 1999 Kosovo intervention?": someone by an office.
_OFFICES = (r"president|vice[\s-]president|ambassador|secretary|minister|prime\s+minister|chancellor|governor|"
            r"mayor|senator|king|queen|emperor|pope|ceo|chairman|chairwoman")
_WHO_HELD = re.compile(
    rf"^\s*(?:and\s+|so\s+)?(?:who|which)\b(?:\s+(?:was|is|were|had\s+been|has\s+been|served\s+as))?"
    rf"(?:\s+(?:the|an?))?\s+(?P<of>[A-Za-z.]+(?:['’]s)?\s+)?(?P<office>{_OFFICES})\b",
    re.IGNORECASE,
)
# A sentence may name the office by its term: "during the presidency of Joe Biden", "the second
# Trump administration".
_OFFICE_TERMS = r"presidency|presidential|administration|ambassadorship|premiership|reign|mayoralty"
_OFFICE_IN = re.compile(rf"(?P<of>\b[A-Za-z.]+(?:['’]s)?\s+)?(?<![\w-])(?P<office>{_OFFICES}|{_OFFICE_TERMS})\b",
                        re.IGNORECASE)
#: The office a term stands for.
_TERM_OF = {"presidency": "president", "presidential": "president", "administration": "president",
            "ambassadorship": "ambassador", "premiership": "prime minister", "reign": "king", "mayoralty": "mayor"}
_US = frozenset("us u.s. usa u.s.a. american america states".split())
_DEMONYM = re.compile(r"(?:an|ese|ish|ch|i)$")
_STOP_QUALIFIERS = frozenset("its his her their our your this that".split())


def _office(named: str) -> str:
    """An office as written, or by its term, as one key: "Prime  Minister" → "prime minister",
    "presidency" → "president"."""
    named = re.sub(r"\s+", " ", named.lower())
    return _TERM_OF.get(named, named)


def _country(word: str | None) -> str | None:
    """A qualifier as a country key: "Russia's", "Russian" → "russi"; "US", "American" → "us"."""
    if not word:
        return None
    word = word.strip()
    possessive = re.search(r"['’]s$", word) is not None
    word = re.sub(r"['’]s$", "", word).lower()
    if word in _US:
        return "us"
    # A country's name ("Russia's") or its adjective ("Russian", "Chinese", "British", "French");
    # not a name or a title before the office ("Ambassador Alexander DarchievAmbassador …").
    if len(word) > 3 and (possessive or _DEMONYM.search(word)) and word not in _STOP_QUALIFIERS:
        return word[:5]
    return None


def office_of_someone_else(question: str, sentence: str) -> bool:
    """Whether a "Who was the US president …?" sentence names no such office holder: it has no
    word of the office ("…was strongly opposed by Yeltsin"), or only another country's ("…under
    Russian president Boris Yeltsin"). Without a country in the question, only the office counts."""
    asked = _WHO_HELD.match(question)
    if asked is None:
        return False
    office = _office(asked["office"])
    country = _country(asked["of"])
    found = [m for m in _OFFICE_IN.finditer(index_text(sentence)) if _office(m["office"]) == office]
    if not found:
        return True
    if country is None:
        return False
    return all((c := _country(m["of"])) is not None and c != country for m in found)


_ASKS_WHO = re.compile(r"^\s*(?:and\s+|so\s+|but\s+)?who\b", re.IGNORECASE)


def who_held_range(question: str) -> tuple[int, int] | None:
    """The range a "who" question asks who held something over, as written ("Who was Russia's
    president between 2008 and 2012?" → (2008, 2012)); None for a decade ("1979–80" is of "the
    1970s" too), a single year, or a question not asking who."""
    if not _ASKS_WHO.match(question):
        return None
    if not any((m["until"] or "").isdigit() and not m["decade"] for m in _time_matches(question)):
        return None
    asked = [(a, b) for a, b in asked_years(question) if 0 < a < b < _OPEN_END]
    return asked[0] if len(asked) == 1 else None


def begins_at_end_of(asked: tuple[int, int], spans: list[tuple[int, int, bool]]) -> bool:
    """Whether a sentence's times (:func:`_spans`) all begin at the end of the range asked about
    or lie outside it ("Following Putin's re-election … in 2012" for 2008–2012): it says who came
    after the range, not who held it. The range's first year is different ("Who led Russia from
    2000 to 2008?": "After Putin became President … in 2000" began it)."""
    first, last = asked
    return bool(spans) and all(b < first or a >= last for a, b, _ in spans)


def begins_at_its_end(question: str, sentence: str) -> bool:
    """:func:`begins_at_end_of` for a question and a sentence as written."""
    asked = who_held_range(question)
    return asked is not None and begins_at_end_of(asked, _spans(sentence, question=False))


def asks_who_came_next_to(question: str) -> str | None:
    """The person a "who" question asks who came before or after ("…before Alexander Darchiev?"
    → "Darchiev"), or None."""
    found = _WHO_NEXT_TO.match(question)
    return found["name"] if found else None


def _whole_word(word: str, flags: int = 0) -> re.Pattern[str]:
    """``word`` standing alone: not inside another word or a hyphenated one."""
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", flags)


def _names(text: str, name: str) -> bool:
    """Whether the text names ``name`` (any case; fields that run together split: "DarchievAmbassador")."""
    return _whole_word(name, re.IGNORECASE).search(index_text(text)) is not None


def _closed_spans(text: str) -> list[tuple[int, int]]:
    """The (first, last) years of the times a sentence states, open ones ("since 2014") aside."""
    return [(a, b) for a, b, _ in _spans(text, question=False) if b != _OPEN_END]


def _next_or_last(first: int, last: int, before: bool) -> tuple[int, int]:
    """The :data:`_MAX_COVERING_SPAN` years before ``first`` or after ``last`` (a term's length)."""
    return (first - _MAX_COVERING_SPAN, first - 1) if before else (last + 1, last + _MAX_COVERING_SPAN)


def times_relative_to_names(question: str, texts: list[str]) -> tuple[list[tuple[int, int]], set[str]]:
    """The time a question asks about by a person's term: "after Yeltsin" is 2000–2014 (the next
    :data:`_MAX_COVERING_SPAN` years) when a sentence says "Boris Yeltsin (1991–99)", "before
    Yeltsin" 1976–1990. Only a range of at most :data:`_MAX_COVERING_SPAN` years in parentheses
    right after the name counts (a term of office, not a lifetime, "Richard Nixon (1913–1994)",
    nor a birth year, "(born 1931)"); for "before" a start also does ("Putin became President …
    in 2000": 1985–1999); without one, nothing.

    Returns:
        The spans asked about, and the names whose terms gave them (a sentence naming one of them
        and no time within the span is about that term: "During Yeltsin's second term…").
    """
    found: list[tuple[int, int]] = []
    names: set[str] = set()
    for m in _RELATIVE_TO_NAME.finditer(question):
        rel = (m["rel"] or m["rel2"] or m["rel3"]).lower()
        # The surname, without a possessive or a full stop: "Yeltsin's resignation", "Yeltsin."
        name = re.sub(r"(?:['’]s?|\.)+$", "", (m["name"] or m["name2"] or m["name3"]).split()[-1])
        if not name:
            continue
        term = re.compile(rf"\b{re.escape(name)}\s*\((?=[^)]*\d)([^)]*)\)")
        span = next((spans[0] for text in texts for t in term.finditer(text)
                     if len(spans := _closed_spans(t.group(1))) == 1
                     and spans[0][0] < spans[0][1] <= spans[0][0] + _MAX_COVERING_SPAN), None)
        before = rel in _EARLIER
        if span is None and before:
            # Only a start: "After Vladimir Putin became President of Russia in 2000" still
            # tells who came before him (an end would need the next one's start).
            start = re.compile(rf"\b{re.escape(name)}\b[^.;]{{0,40}}?\b(?:became|was\s+elected|"
                               rf"took\s+office|was\s+(?:sworn\s+in|inaugurated))\b[^.;]{{0,40}}?\bin\s+((?:1[5-9]|20)\d\d)\b")
            year = next((int(m.group(1)) for text in texts for m in start.finditer(text)), None)
            span = (year, year) if year is not None else None
        if span is not None:
            found.append(_next_or_last(*span, before=before))
            names.add(name)
    return list(dict.fromkeys(found)), names


def _about_own_term(text: str, names: set[str], asked: list[tuple[int, int]], spans: list[tuple[int, int, bool]]) -> bool:
    """Whether a sentence is about the term of one of ``names`` rather than the time asked after
    (or before) it (:func:`times_relative_to_names`): it names the person, states no time within
    the asked one, and says nothing of a succession ("…succeeded Yeltsin" is the answer)."""
    return (any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) for n in names)
            and not _overlaps(asked, [(a, b) for a, b, _ in spans]) and not _SUCCESSION.search(text))


def time_after_or_before(sentences: list[str], before: bool) -> tuple[tuple[int, int], ...]:
    """The times after (or before) those the sentences state, nearest first, for "What happened
    after that?": after "…Boris Yeltsin (1991–99)" the next :data:`_MAX_COVERING_SPAN` years
    (2000–2014), then any later one; before it 1976–1990, then any earlier one. An open time
    counts from its start ("since 2014"). Empty when the sentences state no time.

    Before, it is the time before the first one stated: "And before that?" after "…diplomatic
    relations since … 1991, a continuation of the relationship … since 1803" asks what came
    before 1991, the time the sentence is about (any earlier time lies in the second window)."""
    stated = [(a, a if b == _OPEN_END else b) for text in sentences for a, b, _ in _spans(text, question=False)]
    if not stated:
        return ()
    if before:
        return times_around(*stated[0], before)
    return times_around(min(a for a, _ in stated), max(b for _, b in stated), before)


def first_time(sentences: list[str]) -> str | None:
    """The first time the sentences state, as a question would ask it ("in 1991", "between 1991
    and 1999"; an open one, "since 2014", from its start), or None."""
    for text in sentences:
        for a, b, _ in _spans(text, question=False):
            return f"in {a}" if b in (a, _OPEN_END) else f"between {a} and {b}"
    return None


def times_around(first: int, last: int, before: bool) -> tuple[tuple[int, int], ...]:
    """The windows :func:`time_after_or_before` gives for the time ``first``–``last``: the next
    (last) :data:`_MAX_COVERING_SPAN` years, then any later (earlier) one."""
    return _next_or_last(first, last, before), ((0, first - 1) if before else (last + 1, _OPEN_END))


def _of_time(texts_of: list[list[str]], times: tuple[tuple[int, int], ...],
             after: Collection[str] = ()) -> dict[tuple[int, int], int]:
    """The sentences of the first of ``times`` (:func:`time_after_or_before`) that has any, by
    (hit, sentence) position, with how many years the time they carry lies from the one they
    follow or precede (the year the windows share): sentences stating a time that begins within
    the window, and those after one of them in its passage that state none ("Putin worked closely
    with … Bush" after "…President of Russia in 2000"). "since 1803" begins before 1991.

    ``after`` holds the sentences (as quoted) the time is after: when one states a year, and no
    longer time ("Boris Yeltsin (1991–99)" goes on within it), the sentences that follow it in its
    passage and state no time of their own come next in the story, nearest of all
    ("Deterioration continued with …" after "…in 2012, relations … were significantly strained")."""
    if not times:
        return {}
    before = times[0][1] == times[-1][1]  # windows before a time share their end, after it their start
    edge = times[0][1] if before else times[0][0]
    starts_of = [[[a for a, _, _ in _spans(text, question=False)] for text in texts] for texts in texts_of]
    if after and not before and (next_in_story := _next_in_story(texts_of, starts_of, after)):
        return next_in_story
    for first, last in times:
        def distance(starts: list[int], first: int = first, last: int = last) -> int | None:
            inside = [a for a in starts if first <= a <= last]  # the time, if within the window
            return abs((max(inside) if before else min(inside)) - edge) if inside else None

        if found := _carried(starts_of, distance):
            return found
    return {}


def _next_in_story(texts_of: list[list[str]], starts_of: list[list[list[int]]],
                   after: Collection[str]) -> dict[tuple[int, int], int]:
    """The sentences after the last of ``after`` in a passage that state no time, when that one
    (or the last before it that states any) states a year, nothing longer (see :func:`_of_time`)."""
    found: dict[tuple[int, int], int] = {}
    for h, texts in enumerate(texts_of):
        following = False
        pending: list[tuple[int, int]] = []  # after a quoted sentence, until the next one
        for p, text in enumerate(texts):
            if quote_text(text) in after:
                pending = []  # between two quoted sentences is not after them
                if spans := _spans(text, question=False):
                    following = all(a == b for a, b, _ in spans)
            elif starts_of[h][p]:
                following = False
            elif following:
                pending.append((h, p))
        found |= dict.fromkeys(pending, 0)
    return found


def _overlaps(asked: list[tuple[int, int]], stated: list[tuple[int, int]]) -> bool:
    return any(a <= d and c <= b for a, b in asked for c, d in stated)


def _outside(asked: list[tuple[int, int]], spans: list[tuple[int, int, bool]]) -> bool | None:
    """Whether a sentence naming these times (:func:`_spans`) is about another time than the
    question (None: it names no year).

    A single year may start what the sentence describes ("became President … in 2000" is still
    true in 2005), so it rules out only earlier questions, unless a range of the same sentence
    holds it; a range, a decade or a century rules out any time outside it."""
    if not spans:
        return None
    ranges = [(a, b) for a, b, single in spans if not single]
    # "…in 1991, … under Boris Yeltsin (1991–99)": the range bounds the year inside it.
    reach = [(a, _OPEN_END if single and not _overlaps([(a, b)], ranges) else b) for a, b, single in spans]
    return not _overlaps(asked, reach)


# "Which state-owned banks were sanctioned?" against "…including several state-owned banks and
# oligarchs": the sentence speaks of them only as "several", and names none.
_ASKS_WHICH = re.compile(r"^\s*(?:and\s+|so\s+|but\s+)?(?:which|what)\s+(?P<rest>(?:[\w-]+\s+){1,5})", re.IGNORECASE)
_VAGUE_SET = re.compile(
    r"\b(?:several|some|many|various|numerous|multiple|a\s+number\s+of|a\s+few)\s+"
    r"(?P<things>(?:[a-z][\w-]*\s+){0,2}?[a-z][\w-]*s)\b",
    re.IGNORECASE,
)
# What follows may name them: "several countries, including France", "…joined: France and Spain".
_NAMING = re.compile(r"\b(?:such\s+as|including|like|namely|among\s+them)\b|\b[A-Z][a-z]|\d")


#: Words after "what" that make it the object of the question ("What are …", "What did …"), not a determiner.
_NOT_DETERMINED = frozenset("is are was were do does did has have had can could will would should may might "
                            "must shall kind kinds type types sort sorts".split())


def names_none_of(question: str, sentence: str) -> bool:
    """Whether a "which X …" question asks to name things the sentence speaks of only as
    "several X" (X two words or more, all the question's, named once in the sentence, and no name
    nor number after them): it says that some were, not which."""
    asked = _ASKS_WHICH.match(question)
    if asked is None:
        return False
    opening = asked["rest"].split()[:4]
    if opening[0].lower() in _NOT_DETERMINED:
        return False
    asked_words = set(query_tokens(" ".join(opening)))
    for m in _VAGUE_SET.finditer(sentence):
        # The question repeats the sentence's whole description, two words at least ("state-owned
        # banks"): "What country is ABC broadcast in?" is answered beside "…in many countries".
        words = m["things"].split()
        toks = set(query_tokens(m["things"]))
        if len(words) < 2 or not toks <= asked_words or _NAMING.search(sentence, m.end()):
            continue
        # "some state-owned banks, and the largest state-owned banks …": the second is the answer.
        if len(_whole_word(words[-1], re.IGNORECASE).findall(sentence)) == 1:
            return True
    return False


# "What treaty did they sign in 1803?", "who was the first US minister to Russia back in 1803?":
# a thing or a person of that year. "since 1803" says something went on from it, not what or who.
_ASKS_THING_OR_WHO = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?:(?P<who>who)\b|(?:which|what)\s+(?P<rest>(?:[\w-]+\s+){1,3}))", re.IGNORECASE)
#: Words between "what" and the thing it asks for: "What specific event…?", "Which exact treaty…?".
_THING_FILLERS = frozenset("specific exact particular precise actual main key major first single".split())
_SINCE_YEAR = r"\b(?:since|from)\s+(?:the\s+(?:year\s+)?)?"


def only_since(question: str, sentence: str) -> bool:
    """Whether a question asking what thing (or who) of a year ("What treaty did the US and Russia
    sign in 1803?") meets a sentence that holds the year only as a start ("…with various Russian
    governments since 1803") and not the thing it asks for: it says relations went on from then,
    nothing of what happened in that year. A question of the span itself ("Since when…?", "Who has
    been … since 1803?") and "What happened in 1803?" are left to the other rules."""
    asked = _ASKS_THING_OR_WHO.match(question)
    years = set(re.findall(_YEAR, question))
    if asked is None or len(years) != 1:
        return False
    (year,) = years
    if re.search(_SINCE_YEAR + re.escape(year), question, re.IGNORECASE):
        return False
    in_sentence = re.findall(_YEAR, sentence)
    as_start = re.findall(_SINCE_YEAR + re.escape(year) + r"\b", sentence, re.IGNORECASE)
    if year not in in_sentence or len(as_start) != in_sentence.count(year):
        return False
    if asked["who"]:
        return True
    words = [w for w in asked["rest"].split() if w.lower() not in _THING_FILLERS]
    if not words or words[0].lower() in _NOT_DETERMINED:
        return False
    thing = set(query_tokens(words[0], "nltk")) - _QUESTION_WORDS - _generic_words()
    return bool(thing) and not thing & set(query_tokens(sentence, "nltk"))


def asks_count(question: str) -> bool:
    """Whether the question asks for a quantity ("How many …?", "How much …?")."""
    return _COUNT_QUESTION.search(question) is not None


def asks_amount(question: str) -> bool:
    """Whether the question asks for an amount ("How much …?"), which "several" does not give."""
    return _AMOUNT_QUESTION.search(question) is not None


# "considering one another adversaries", "no one", "one of the", "the one": no quantity.
_ONE_AS_PRONOUN = re.compile(r"\bone\s+another\b|\b(?:no|the|this|that|any|every|each)\s+one\b|\bone\s+of\s+(?:the|its|his|her|their|our)\b",
                             re.IGNORECASE)


# A day of a month or a month/day date, whole (a year after it is left to _NOT_A_COUNT).
_A_DATE = re.compile(
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\b|{_SLASH_DATE}"
)
_THE_NUMBER = re.compile(rf"\b(?:the|these|those)\s+(?:{'|'.join(sorted(_COUNT_WORDS))})\b", re.IGNORECASE)


# "Trump's second term": a capitalised name with a possessive, and up to three lower-case words
# after it (the thing of that person the question asks about).
_OWNED = re.compile(r"(?<![\w’'-])([A-Za-z][\w-]+)['’]s\s+((?:[a-z][\w-]*\s*){1,3})")


def owned_by_someone_else(question: str, sentence: str, names: Collection[str] | None = None) -> bool:
    """Whether ``sentence`` says of another person what the question asks of one: "During
    Yeltsin's second term, …" for "And under Trump's second term?", or "…the presidency of Joe
    Biden" for "What happened in Trump's presidency?" — where the sentence does not name the
    question's person at all. The words alone match it, the names do not.

    Args:
        question: The question.
        sentence: A candidate sentence.
        names: The possessive names of the question to judge (default: those capitalised). The
            caller keeps those the documents write as the question does: a misspelt name
            ("Celeron's" for "Céloron's") or an acronym ("the SP's" for "the Scottish
            Parliament's") is the same one written otherwise; and it may add a name typed in
            lower case that the documents write as one ("and in putin's early years?").
    """
    for m in _OWNED.finditer(question):
        name = m.group(1)
        if name.lower() in _CONTRACTED or (name not in names if names is not None else name[0].islower()):
            continue
        words = list(itertools.takewhile(lambda w: w not in _OWNED_STOP, m.group(2).split()))
        case = re.IGNORECASE if name[0].islower() else 0
        if not words or _whole_word(name, case).search(sentence):
            continue
        thing = r"\s+".join(re.escape(w) for w in words)
        other = r"[A-Z][\w-]+"
        if re.search(rf"(?<![\w’'-]){other}['’]s\s+{thing}\b|\b{thing}\s+of\s+(?:{other}\s+)*{other}", sentence):
            return True
    return False


def _owners(index: LoadedIndex, question: str, texts_of: list[list[str]]) -> set[str]:
    """The question's possessive names that :func:`owned_by_someone_else` may judge: words the
    documents use as written, and no acronym (either may be a name the documents write otherwise);
    typed in lower case, those the passages write as a name ("putin's": "Putin")."""
    names = {m.group(1) for m in _OWNED.finditer(question)}
    names = {n for n in names if n[0].isupper() or _written_as_name(n, texts_of)}
    vocab = index.keyword.vocab
    return {n for n in names if not _is_acronym(n) and all(t in vocab for t in tokenize([n])[0])}


#: Words that end the thing a possessive names ("Yeltsin's position on Kosovo": "position").
_OWNED_STOP = frozenset("on in of to for about with at by from during and or the a an was is were did do does".split())
#: Capitalised words whose "'s" is a contraction ("What's Putin's …?", "It's …").
_CONTRACTED = frozenset("what who where when how why that it there here let he she".split())


def states_count(sentence: str, amount: bool = False) -> bool:
    """Whether a sentence states a quantity: a number that is not a year or an ordinal, or a
    number word ("four", "fifty thousand"; not a vague one: "several", "many"); with ``amount``,
    not "the two countries" either (who, not how much)."""
    # A date ("the 9/11 attacks", "on 24 February", "February 24") is no quantity either.
    rest = _NOT_A_COUNT.sub(" ", _A_DATE.sub(" ", _ONE_AS_PRONOUN.sub(" ", sentence)))
    if amount:  # "the two countries" is who, not how much
        rest = _THE_NUMBER.sub(" ", rest)
    # Words split at hyphens: "twenty-five" is "twenty" and "five".
    return any(ch.isdigit() for ch in rest) or any(w.lower() in _EXACT_COUNT_WORDS for w in _LETTERS.findall(rest))


def compose(
    index: LoadedIndex,
    question: str,
    query_text: str,
    hits: list[Hit],
    docs_label: str,
    params: AnswerParams,
    adjust: dict[int, float] | None = None,
    lead_first: bool = False,
    frame: str = "",
    times: tuple[tuple[int, int], ...] = (),
    times_sources: frozenset[str] = frozenset(),
    times_after: frozenset[str] = frozenset(),
    about_last: bool = False,
    story: Collection[int] = (),
) -> Answer:
    """Turn hits into an :class:`Answer`.

    Args:
        index: The index the hits come from.
        question: The question as asked.
        query_text: The question as understood (expanded for follow-ups); used for word overlap.
        hits: Retrieved passages, best first.
        docs_label: Name of the docs folder, prefixed to source paths.
        params: Answer settings.
        adjust: Sentence row → amount added to its score when choosing the sentences to quote
            (a follow-up demotes what the previous turn quoted); the evidence is not affected.
        lead_first: Quote the first hit's sentences before the others, whatever their place in
            the document (a follow-up leads with what is new: :func:`qa.conversation.lead_with_new`).
        frame: For an elliptical follow-up ("And space?"), the last question as understood: a
            question of one topic word is about that one's topic too, for the coverage rule.
        times: For "And after?" or "What happened before that?", the time it asks about
            (:func:`time_after_or_before` the last answer), when the question names none.
        times_sources: The sources of that answer: the time after it is looked for there first.
        times_after: The sentences that answer quoted, for "And after?": those following one in
            its passage with no time of their own come next (see :func:`_of_time`).
        about_last: The question follows an answer. One that asks only when what it said
            happened ("When did they start?") is on topic whatever its own evidence; whether the
            passages say when decides (a quoted sentence, or the one before it, must state a
            time). So is one asking who or what of it by a verb no document uses ("Who did they
            target?": :func:`asks_who_of_last`).
        story: For "Did that last?", the sentence rows that continue the last answer's story
            (:func:`story_next`): the answer is one of them, on topic whatever its evidence.

    Returns:
        The answer; ``answered`` is False when the evidence is below the threshold (or below the
        higher bar of a question with a word the documents never use), unless one retrieved
        sentence holds the question's whole topic (see :func:`_covered`); and when a question
        asking "how many" or "how much" would quote no sentence that states a quantity.
    """
    score = evidence(hits)
    citations = [_citation(index, hit, n, docs_label) for n, hit in enumerate(hits, start=1)]
    if not hits:
        return Answer(question, NOT_FOUND, False, citations, score=score)

    # "the 90s", "Feb 2025" read as "the 1990s", "February 2025" for the words too (the times
    # read them so: :func:`_time_matches`).
    query_text = _full_times(query_text)
    q_tokens = list(dict.fromkeys(query_tokens(query_text)))
    q_idf = dict(zip(q_tokens, index.keyword.idf(q_tokens), strict=True))
    # "What came next?" ranks by the last answer's words: the next time may be in any listed source.
    depth = len(hits) if times or story else params.depth
    texts_of = [[index.sentence_text(int(r)) for r in hit.sentence_rows] for hit in hits[:depth]]
    tokens_of = [[set(toks) for toks in tokenize(texts)] for texts in texts_of]
    # The rerank's word overlap when the hit has it: its query words are weighted by how well
    # they separate the candidate passages (local IDF), which also picks the sentence to quote.
    overlaps_of = [
        hit.sentence_overlap.tolist() if hit.sentence_overlap is not None else _overlap(q_idf, tokens)
        for hit, tokens in zip(hits, tokens_of, strict=False)
    ]
    # Dense similarity undersells short questions about a name ("What did Pete Hegseth order?"):
    # when one sentence holds every content word (two or more) of the question, it is on topic.
    content = _content_words(query_text)
    # A keyword search ("9/11", "state-owned banks") is on topic where it stands as written; not
    # "And space?", whose topic is the last question's too (below).
    covered = _covered(content, tokens_of, query_text, texts_of) or (not frame and _verbatim(question, texts_of))
    if not covered and frame and len(content - _generic_words()) == 1:
        # "And space?" after "What are the shared interests?": one sentence holding "space" and
        # "shared interests" is on topic, where "space" alone could be anything.
        covered = _covered(content | _content_words(frame), tokens_of, f"{query_text} {frame}", texts_of)
    # "Who was president in 1995?": "Boris Yeltsin (1991–99)" is in it, "Putin … in 2000" is not;
    # the words alone cannot tell (the literal year is in neither).
    asked = asked_years(question) if params.year_weight else []
    term_of: set[str] = set()  # names whose term of office the question asks after or before
    if params.year_weight and not asked:
        # "Who succeeded Yeltsin?": the sentences about Yeltsin's own years are not the answer.
        asked, term_of = times_relative_to_names(query_text, [t for texts in texts_of for t in texts])
    # "What happened after that?": the sentences of the time after the last answer's, whatever
    # their words (the last answer's own sentences share the most with the history); none, no answer.
    of_time = _of_time(texts_of, times, times_after) if times and not asked else None
    # "How are relations today?": the sentences of the latest time first (not only them: "Who is
    # the current ambassador?" is answered by a field that states no time).
    behind = (_years_behind_latest(texts_of, date.today().year)
              if params.year_weight and not asked and not times and asks_present(question) else {})
    if of_time and (same := {k: v for k, v in of_time.items() if citations[k[0]].source in times_sources}):
        of_time = same  # the same documents' timeline before any other's
    if of_time is not None:
        if not of_time:
            return Answer(question, NOT_FOUND, False, citations, score=score)
        covered = True
    covered = covered or (about_last and asks_of_last(index, question)) or bool(story)
    bar = params.threshold
    if not covered and params.threshold <= score < max(params.unknown_word_threshold, params.unknown_name_threshold):
        # Only a question the threshold alone would answer needs the (costlier) word check.
        bar = max(bar, _unknown_bar(index, query_text, content, texts_of, params, timed=bool(times)))
    if score < bar and not covered:
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if not covered and _all_unknown(index, question, texts_of):
        # "When was she born?" after "Who is the US ambassador?": the earlier turn supplies the
        # person, but nothing the question asks about is a word of the documents.
        return Answer(question, NOT_FOUND, False, citations, score=score)

    # "How many people died …?" is not answered by a sentence without a number in it.
    count = asks_count(question) or asks_count(query_text)
    amount = asks_amount(question) or asks_amount(query_text)
    # "When?" after "What did Hegseth order?" is not answered by a sentence without a time alone.
    when = asks_only_when(question)
    # "When did Tesla …?": a sentence that says when is likelier the answer (SQuAD part a:
    # answer_contains +0.0035 on the even half, +0.0022 on the held-out odd one). A bare "When?"
    # keeps the sentence it is about, and finds its time before it (below).
    timed = not when and asks_time(question)
    owners = _owners(index, question, texts_of)  # "Trump's second term": not Yeltsin's
    elses: set[tuple[int, int]] = set()  # sentences saying it of someone else
    own_term: set[tuple[int, int]] = set()  # sentences about the term a question asks after
    closed = [span for span in asked if span[0] > 0 and span[1] < _OPEN_END]
    as_written = {m.string[m.start("year"):m.end()] for m in _time_matches(question)} if asked else set()
    # When a sentence has the year as written, the words find it: a range that spans it
    # ("1991–99" for "in 1999") gains nothing; when none does, the range is the only clue.
    spanned = not any(year in text for texts in texts_of for text in texts for year in as_written)
    in_time: set[tuple[int, int]] = set()  # sentences stating a time asked about
    # Sentences about another time: by their own years, or by those their passage last stated
    # ("Putin worked closely with … Bush" after "…in 2000" is about 2000 on).
    off_time: set[tuple[int, int]] = set()
    after_span: set[tuple[int, int]] = set()  # what began at the end of the span asked about
    who_range = who_held_range(question) if asked else None
    scored: list[tuple[float, int, int]] = []  # (score, hit index, position in hit)
    for h, hit in enumerate(hits[:depth]):
        texts, overlaps = texts_of[h], overlaps_of[h]
        pairs = hit.sentence_pairs if hit.sentence_pairs is not None else [0.0] * len(texts)
        story_outside: bool | None = None  # whether the passage's last-named time is outside
        # A sentence without names of its own is about those its passage last named: the
        # question's names among them (none of the sentence's own words) count for it, at a
        # share of their weight.
        inherited = (_overlap(q_idf, _carried_names(texts, tokens_of[h])) if params.carried_name_weight
                     else [0.0] * len(texts))
        for p, (cos, ov, pair) in enumerate(zip(hit.sentence_scores, overlaps, pairs, strict=True)):
            spans = _spans(texts[p], question=False) if asked else []
            outside = _outside(asked, spans)  # None without a question's or a sentence's year
            if outside is False and who_range is not None and begins_at_end_of(who_range, spans):
                # "Following Putin's re-election … in 2012" for "Who was Russia's president
                # between 2008 and 2012?": he came back after the span, someone else held it.
                outside = True
                after_span.add((h, p))
            if term_of and _about_own_term(texts[p], term_of, asked, spans):
                # "During Yeltsin's second term…", "…the 1999 NATO intervention … opposed by
                # Yeltsin": about his own time, no answer to who or what came after it.
                outside = True
                own_term.add((h, p))
            if outside is None and story_outside:
                off_time.add((h, p))
            story_outside = story_outside if outside is None else outside
            if len(texts[p].split()) < 2:  # a lone heading or label is no answer
                continue
            if of_time is not None and (h, p) not in of_time:  # not of the time after that
                continue
            if story and int(hit.sentence_rows[p]) not in story:  # not how the story goes on
                continue
            bonus = adjust.get(int(hit.sentence_rows[p]), 0.0) if adjust else 0.0
            value = float(cos) + params.overlap_weight * (ov + params.carried_name_weight * inherited[p]) \
                + params.phrase_weight * float(pair)
            if of_time:  # "What came next?": the nearest time first
                value -= params.year_weight * min(1.0, of_time[(h, p)] / _MAX_COVERING_SPAN)
            elif (h, p) in behind:
                value -= params.year_weight * min(1.0, behind[(h, p)] / _MAX_COVERING_SPAN)
            if (count and not states_count(texts[p], amount)) or (timed and not states_time(texts[p])):
                value -= params.count_penalty
            if owners and owned_by_someone_else(question, texts[p], owners):
                elses.add((h, p))
            if outside or (h, p) in off_time:
                # Of another time by its own years, or by its passage's last ("In the early years of
                # Yeltsin's presidency" after "(1991–99)", for "the early 2000s"; SQuAD part a: two
                # answers change, none from right to wrong).
                value -= params.year_weight
                off_time.add((h, p))
            elif outside is False and _overlaps(closed, [(a, b) for a, b, _ in spans if b != _OPEN_END]):
                # A year, decade or range in one asked about; "since 1991" is no answer to "in the
                # late 1990s", nor is every later year one to "after 2000".
                in_time.add((h, p))
                value += params.year_weight if spanned else 0.0
            scored.append((value + params.passage_weight * hit.score + bonus, h, p))
    if own_term and any(c[1:] not in own_term for c in scored):
        scored = [c for c in scored if c[1:] not in own_term]
    if elses and any(c[1:] not in elses for c in scored):
        # "During Yeltsin's second term…" is no answer to "And under Trump's second term?".
        scored = [c for c in scored if c[1:] not in elses]
    if not scored:
        return Answer(question, NOT_FOUND, False, citations, score=score)
    scored.sort(reverse=True)
    if _is_title(texts_of[scored[0][1]][scored[0][2]]):
        # A title ("Russian–American relations") gives way to the best real sentence, however
        # weak: it only names the topic ("How do Russians feel about America?" is not answered by
        # the article's other title) — unless the question asks what something is called, when
        # it gives way only to a sentence that comes close.
        floor = params.second_ratio * scored[0][0] if _ASKS_NAME.search(question) else float("-inf")
        near = next((c for c in scored[1:] if c[0] >= floor and not _is_fragment(texts_of[c[1]][c[2]])), None)
        if near is not None:
            scored.remove(near)
            scored.insert(0, near)
    best = scored[0][0]
    chosen = [scored[0]]
    seen_rows = {int(hits[scored[0][1]].sentence_rows[scored[0][2]])}
    prose = not _is_fragment(texts_of[scored[0][1]][scored[0][2]])
    for item in scored[1:]:
        if len(chosen) >= params.max_sentences or item[0] < params.second_ratio * best:
            break
        row = int(hits[item[1]].sentence_rows[item[2]])
        # An infobox field or a title ("Diplomatic mission Embassy of Russia, …") beside a real
        # sentence adds nothing to it; beside another field ("Envoy …") it may be the answer.
        if prose and _is_fragment(texts_of[item[1]][item[2]]):
            continue
        # A title only names the topic: beside a field it adds nothing either ("Russian–American
        # relations" beside "Diplomatic mission: … Embassy of the United States, Moscow").
        if _is_title(texts_of[item[1]][item[2]]):
            continue
        # "…Boris Yeltsin (1991–99)" answers "in 1995"; "Putin … in 2000" beside it would not.
        if item[1:] in off_time and scored[0][1:] in in_time:
            continue
        if row not in seen_rows:
            chosen.append(item)
            seen_rows.add(row)

    if count and not any(states_count(texts_of[h][p], amount) for _, h, p in chosen):
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if timed and all(_is_field(texts_of[h][p]) and not states_time(texts_of[h][p]) for _, h, p in chosen):
        # "When was Lynne M. Tracy appointed?" is not answered by the field that names her. (A
        # sentence without a time often is: "after the war"; declining those cost part a 0.35 %.)
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if timed and not any(places_in_time(texts_of[h][p]) for _, h, p in chosen):
        # "When did Hegseth become Defense Secretary?" is not answered by "Defense Secretary Pete
        # Hegseth has also ordered …": no date, and no word of time at all.
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if all(office_of_someone_else(question, texts_of[h][p]) for _, h, p in chosen):
        # "Who was the US president during the Kosovo intervention?" is not answered by "…was
        # strongly opposed by Yeltsin", nor "Who was the US president in the 1990s?" by "…under
        # Russian president Boris Yeltsin (1991–99)".
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if all(names_none_of(question, texts_of[h][p]) for _, h, p in chosen):
        # "Which state-owned banks were sanctioned?": "…including several state-owned banks"
        # says that some were, not which.
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if after_span and all(c[1:] in off_time for c in chosen) and any(c[1:] in after_span for c in chosen):
        # "Who was Russia's president between 2008 and 2012?": the year of Putin's re-election is
        # in the question, so the words cover it, but it says who came after the span.
        return Answer(question, NOT_FOUND, False, citations, score=score)
    since = [only_since(question, texts_of[h][p]) for _, h, p in chosen]
    if any(since) and all(y or c[1:] in off_time for y, c in zip(since, chosen, strict=True)):
        # "What treaty did the US and Russia sign in 1803?" is not answered by "…a continuation
        # of the relationship the United States has had with various Russian governments since
        # 1803": it says they had relations from then, not which treaty, event or person began them
        # (a sentence of another time beside it does not either).
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if (name := asks_who_came_next_to(question)) and all(
            _names(texts_of[h][p], name) and not places_in_time(texts_of[h][p]) and not _SUCCESSION.search(texts_of[h][p])
            for _, h, p in chosen):
        # "Who was Russia's ambassador before Darchiev?" is not answered by the field that names
        # Darchiev: nothing in it says who came before or after him.
        return Answer(question, NOT_FOUND, False, citations, score=score)
    if when and not states_time(texts_of[chosen[0][1]][chosen[0][2]]):
        # "When?" after "What did Russia do in Syria?": the sentence it is about says no time,
        # the one before it in its passage may ("Following Putin's re-election … in 2012, …" then
        # "Deterioration continued with … the Syrian Civil War"): both are quoted, in that order.
        _, h, p = chosen[0]
        earlier = next((q for q in range(p - 1, max(p - 1 - _TIME_LOOKBACK, -1), -1) if states_time(texts_of[h][q])), None)
        if earlier is None:
            return Answer(question, NOT_FOUND, False, citations, score=score)
        chosen = [(chosen[0][0], h, earlier), chosen[0]]
    if asks_why(question) and not any(gives_reason(texts_of[h][p]) for _, h, p in chosen):
        # "Why did Yeltsin object to the NATO intervention?": the sentence that says he did is
        # about it, the reason follows it ("…Yeltsin saw it as an infringement…"): both are quoted.
        _, h, p = chosen[0]
        later = next((q for q in range(p + 1, min(p + 1 + _REASON_LOOKAHEAD, len(texts_of[h])))
                      if gives_reason(texts_of[h][q])), None)
        if later is not None:
            chosen = [chosen[0], (chosen[0][0], h, later)]
    # "What did Russia do in Georgia in 2008?" quoted from 1991 and 1803: about another time.
    if closed and not covered and all(c[1:] in off_time for c in chosen):
        return Answer(question, NOT_FOUND, False, citations, score=score)

    # Quote in reading order: sentences of one document as they stand in it (the Yeltsin years
    # before the Putin years, whichever passage ranked first), documents by their best passage.
    doc_of = {h: int(index.chunks[hits[h].row]["doc"]) for _, h, _ in chosen}
    doc_rank: dict[int, int] = {}  # document -> its best hit among the quoted ones
    for h in sorted(doc_of):
        doc_rank.setdefault(doc_of[h], h)
    chosen.sort(key=lambda c: (not (lead_first and c[1] == 0), doc_rank[doc_of[c[1]]],
                               int(hits[c[1]].sentence_rows[c[2]])))
    # Renumber citations so the quoted sources come first, in the order the answer cites them.
    order = list(dict.fromkeys(h for _, h, _ in chosen)) + [h for h in range(len(hits)) if h not in {c[1] for c in chosen}]
    citations = [citations[h] for h in order]
    for n, c in enumerate(citations, start=1):
        c.n = n
    number = {h: n for n, h in enumerate(order, start=1)}

    parts: list[str] = []
    quoted: list[AnswerSentence] = []
    for value, h, p in chosen:
        quoted.append(_quote(index, citations[number[h] - 1], span(index, hits[h])[0],
                             int(hits[h].sentence_rows[p]), value))
        parts.append(f"{quoted[-1].text} [{number[h]}]")
    return Answer(question, " ".join(parts), True, citations, quoted, score=score)


def story_next(index: LoadedIndex, hits: list[Hit], quoted: Collection[str]) -> set[int]:
    """The sentence that follows, in its passage, the last of ``quoted`` that a hit holds: how
    the story goes on ("During Yeltsin's second term, … more strained." after "In the early
    years of Yeltsin's presidency, … worked closely together …"). A heading or a field is none.

    Args:
        index: The loaded index.
        hits: The retrieved passages.
        quoted: Sentences of the last answer, as :func:`quote_text` gives them (the engine
            passes the one it led with).

    Returns:
        The row of that sentence, or no row (the passage ends there, or no hit holds them).
    """
    wanted = set(quoted)
    last: tuple[int, list[int], int] | None = None  # (row, the hit's rows, position in them)
    for hit in hits:
        rows = [int(r) for r in hit.sentence_rows]
        for p, row in enumerate(rows):
            if (last is None or row > last[0]) and quote_text(index.sentence_text(row)) in wanted:
                last = (row, rows, p)
    if last is None or last[2] + 1 >= len(last[1]):
        return set()
    row = last[1][last[2] + 1]
    text = index.sentence_text(row)
    return set() if _is_fragment(text) or len(text.split()) < 2 else {row}


def list_sources(index: LoadedIndex, answer: Answer, more: list[Hit], top_k: int, docs_label: str) -> Answer:
    """The answer listing ``top_k`` sources: its own (the cited first), then ``more`` passages,
    never fewer than it cites.

    The answer is chosen from a fixed number of passages, however many are listed: listing one
    source (``-k 1``) must not change what is answered, nor listing ten.

    Args:
        index: The loaded index.
        answer: An answer composed from the first retrieved passages.
        more: The passages retrieved after those, best first.
        top_k: Sources to list.
        docs_label: The documents folder's name, as sources are labelled.

    Returns:
        ``answer``, its citations extended or cut.
    """
    cited = sum(c.cited for c in answer.citations)
    citations = answer.citations[: max(top_k, cited)]
    citations += [_citation(index, hit, len(citations) + n, docs_label)
                  for n, hit in enumerate(more[: max(0, top_k - len(citations))], start=1)]
    return replace(answer, citations=citations)


def declined(answer: Answer) -> Answer:
    """The answer declined: "not found", its sources kept as the closest passages, none quoted."""
    citations = [replace(c, highlights=[], cited=False) for c in answer.citations]
    return Answer(answer.question, NOT_FOUND, False, citations, score=answer.score, warnings=list(answer.warnings))


def _quote(index: LoadedIndex, citation: Citation, passage_start: int, row: int, score: float) -> AnswerSentence:
    """Quote sentence ``row`` from ``citation`` (whose text starts at ``passage_start`` in its
    document): the citation is marked cited and the sentence highlighted in it."""
    citation.cited = True
    s_start = int(index.sentences[row]["start"]) - passage_start
    s_end = int(index.sentences[row]["end"]) - passage_start
    citation.highlights.append((s_start, s_end))
    line = citation.start_line + citation.text.count("\n", 0, s_start)
    return AnswerSentence(quote_text(index.sentence_text(row)), citation.n, line, score)


# "Hello", "Thanks!", "ok": no question; the reply says what to ask instead of "not found".
_SMALL_TALK_WORD = (
    r"(?:hi|hello|hey|hiya|yo|greetings|good\s+(?:morning|afternoon|evening|day)|thanks?(?:\s+you)?"
    r"(?:\s+(?:so|very)\s+much|\s+a\s+lot)?|thx|ty|cheers|ok(?:ay)?|cool|great|nice|perfect|got\s+it|bye|goodbye"
    r"|see\s+you)"
)
_SMALL_TALK = re.compile(
    # One or two of them ("ok thanks", "Great, thanks!"); a question mark only after "how are
    # you": "Nice?" may ask about the city.
    rf"^\s*(?:{_SMALL_TALK_WORD}(?:[\s,!.]+{_SMALL_TALK_WORD})?(?:[\s,]+(?:bot|qa|there|again|everyone|all))?"
    r"[\s!.,:)]*|how\s+are\s+you(?:\s+doing)?(?:[\s,]+(?:bot|qa|today))?[\s?!.]*)$",
    re.IGNORECASE,
)
SMALL_TALK_REPLY = "Ask me a question about the documents — for example “What are the documents about?”"


def is_small_talk(question: str) -> bool:
    """Whether a message is a greeting or a thanks, not a question ("Hello!", "Thanks a lot")."""
    return _SMALL_TALK.match(question) is not None


# How people open a question in a chat: "hey bot, who's the ambassador?", "ok so why…", "Hi there!
# When…". The words are no topic, yet a document never uses "hey" or "bot" (the unknown-word bar).
_OPENER = re.compile(
    r"^\s*(?:(?:hey|hi|hello|hiya|yo|ok(?:ay)?|alright|um+|uh+|hm+|btw|please|pls|"
    r"quick\s+question|question)(?:[\s,]+(?:bot|qa|there|everyone|all|guys|folks))?(?:\s*[,!.:;]+\s*|\s+)"
    r"|(?:well|thanks|thank\s+you|cool|great)\s*[,!.:;]+\s*"
    # "ok switching topics — …", "different topic: …", "on another note, …": a new topic announced.
    r"|(?:(?:switching|changing|change\s+of|new|different|another|other)\s+(?:the\s+)?(?:topics?|subjects?)"
    r"|on\s+(?:a|an)\s+(?:different|other|another|unrelated|new)\s+(?:note|topic|subject)|on\s+another\s+note"
    r"|unrelated(?:\s+question)?|new\s+question|one\s+more\s+(?:thing|question)|also|and\s+now|now)"
    r"\s*[,!.:;—–-]+\s*)",
    re.IGNORECASE,
)
# "…, please?", "…, thanks!": after the question, behind a comma ("vote as they please?" asks it).
_CLOSER = re.compile(r"\s*,\s*(?:please|pls|thanks|thank\s+you|thx|ty)(?:[\s,]+(?:bot|qa))?(?=[\s?!.]*$)", re.IGNORECASE)
# "What's the deal with Syria?", "what's up with crimea": what happened with it.
_IDIOM = re.compile(r"\bwhat(?:['’]s|\s+is)\s+(?:the\s+(?:deal|story|situation)|up)\s+with\b", re.IGNORECASE)
# Chat spellings, read as the words they stand for ("govts" is not "goats" misspelt).
_CHAT_WORDS = {
    "u": "you", "ur": "your", "govt": "government", "govts": "governments", "gov": "government",
    "pres": "president", "prez": "president", "cuz": "because",
    "abt": "about", "thru": "through", "yr": "year", "yrs": "years", "tho": "though", "intl": "international",
    "whats": "what's", "whos": "who's", "hows": "how's", "wheres": "where's", "whens": "when's",
    "whys": "why's", "wat": "what", "wut": "what", "wot": "what", "wht": "what",
    "wasnt": "wasn't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't",
}
_CHAT_WORD = re.compile(rf"(?<![\w.'’-])(?:{'|'.join(sorted(_CHAT_WORDS, key=len, reverse=True))})(?![\w.'’-])")
#: Fewest words a question keeps of its own once its opener is gone ("hey bot" stays small talk).
_MIN_LEFT = 2
# "do you know who Hegseth is?", "can you tell me when Putin became president": the question in it.
_WH = r"(?:who|whom|whose|what|when|where|why|how|which)\b"
_INDIRECT = re.compile(
    r"^\s*(?:(?:(?:do|did|does)\s+)?(?:you|anyone|anybody)\s+know"
    r"|(?:can|could|would|will)\s+(?:you|anyone)\s+(?:tell|show|explain\s+to)\s+(?:me|us)"
    r"|(?:tell|show)\s+(?:me|us)"
    r"|i\s+(?:wonder|want\s+to\s+know|would\s+like\s+to\s+know|am\s+wondering))\s+(?=" + _WH + ")",
    re.IGNORECASE,
)
# "who Hegseth is" → "who is Hegseth": the indirect question's verb back in front.
_INDIRECT_ORDER = re.compile(r"^((?:who|what|where|which\s+\w+))\s+(.+?)\s+(is|was|are|were)\s*([?.!]*)\s*$",
                             re.IGNORECASE)


def _direct(question: str) -> str:
    """The question inside an indirect one ("do you know who Hegseth is?" → "who is Hegseth?")."""
    m = _INDIRECT.match(question)
    if m is None or len(question[m.end():].split()) < _MIN_LEFT:
        return question
    rest = question[m.end():]
    if (order := _INDIRECT_ORDER.match(rest)) is not None:
        rest = f"{order[1]} {order[3]} {order[2]}{order[4] or '?'}"
    return rest


def strip_chatter(question: str) -> str:
    """The question without the chat around it: openers ("hey bot,", "ok so", "Hi there!"),
    closers ("…, please?", "…, thanks"), chat spellings ("u", "govts", "whats"), the idiom
    "what's the deal with X" (→ "what happened with X") and an indirect question ("do you know
    who Hegseth is?" → "who is Hegseth?"); unchanged when too little would be left."""
    stripped = question
    while (m := _OPENER.match(stripped)) and len(stripped[m.end():].split()) >= _MIN_LEFT:
        stripped = stripped[m.end():]
    stripped = _CLOSER.sub("", stripped)
    stripped = _CHAT_WORD.sub(lambda m: _CHAT_WORDS[m.group()], stripped)  # lower case only: "US" is no "us"
    stripped = _IDIOM.sub("what happened with", stripped)
    stripped = _direct(stripped)
    if len(stripped.split()) < _MIN_LEFT:
        return question
    first = stripped.split()[0]
    # "Hey, iPhone sales?" keeps its "iPhone": only a word in lower case is capitalised.
    return stripped[0].upper() + stripped[1:] if question[:1].isupper() and first.islower() else stripped


# "What is this document about?", "What do the documents cover?", "Summarize the article",
# "What can you tell me about?": about the documents themselves, which no passage answers.
_DOCS = r"(?:documents?|docs?|articles?|texts?|files?|corpus|sources?|pages?)"
_OVERVIEW = re.compile(
    r"^\s*(?:(?:so|ok|okay|hi|hello|hey|thanks|thank\s+you)[,!.]?\s+)?(?:"
    rf"(?:what|which)(?:\s+is|\s+are|['’]s|['’]re)\s+(?:(?:this|these|the|those|your)\s+{_DOCS}|this|it\s+all)\s+(?:about|on)"
    rf"|(?:what|which)\s+(?:topics?|subjects?)\s+(?:do|does|are)\s+(?:the|these|this|your)\s+{_DOCS}\s+"
    r"(?:cover|about|contain|discuss)"
    rf"|what\s+(?:do|does)\s+(?:the|these|this|your)\s+{_DOCS}\s+(?:cover|contain|discuss)"
    rf"|(?:summari[sz]e|give\s+(?:me\s+)?(?:a\s+|an\s+)?(?:summary|overview)\s+of)\s+(?:the|this|these|your)\s+{_DOCS}"
    r"|what\s+can\s+(?:you|i)\s+(?:tell\s+me(?:\s+about)?|ask(?:\s+you)?(?:\s+about)?)"
    r"|what\s+do\s+you\s+know(?:\s+about)?"
    r")\s*[?.!]*\s*$",
    re.IGNORECASE,
)
#: Sentences of a document looked at for its opening (titles and fields come first); beyond
#: them, its first line is quoted.
_OPENING_REACH = 50


def is_overview(question: str) -> bool:
    """Whether a question asks what the documents are about ("What is this document about?")."""
    return _OVERVIEW.match(question) is not None


def overview(index: LoadedIndex, question: str, docs_label: str, limit: int) -> Answer:
    """What the documents are about, in their own words, each cited: for up to three documents
    their opening sentences (the first real ones, past titles and fields; up to three of one),
    for more the titles of the first ``limit`` (the heading they open with, else their opening
    sentence) — openings of many documents say "Good afternoon.", their titles what they are.

    Args:
        index: The loaded index.
        question: The question as asked.
        docs_label: Name of the docs folder, prefixed to source paths.
        limit: Sentences (and documents) quoted at most; a note says how many documents there
            are when not all are quoted.

    Returns:
        The answer (declined for an index without a sentence to quote).
    """
    docs, first_chunks = np.unique(np.asarray(index.chunks["doc"]), return_index=True)
    by_title = len(docs) > 3
    per_doc = 1 if by_title else max(1, min(3, limit // max(1, len(docs))))
    citations: list[Citation] = []
    quoted: list[AnswerSentence] = []
    cited_row = -1
    for doc, row in zip(docs.tolist(), first_chunks.tolist(), strict=True):
        if len(citations) >= limit:
            break
        title = index.sections[int(index.chunks[row]["section"])].split(" > ")[0].strip() if by_title else ""
        if title:
            hit = Hit(row, 1.0, 0.0, 0.0, np.zeros(0, dtype=np.int64), np.zeros(0))
            citations.append(_citation(index, hit, len(citations) + 1, docs_label))
            citations[-1].cited = True
            quoted.append(AnswerSentence(title, citations[-1].n, citations[-1].start_line, 1.0))
            continue
        first_sentence = int(index.chunks[row]["first"])
        reach = range(first_sentence, min(first_sentence + _OPENING_REACH, len(index.sentences)))
        opening = [r for r in reach if int(index.sentences[r]["doc"]) == doc
                   and len(index.sentence_text(r).split()) >= 4 and not _is_fragment(index.sentence_text(r))]
        if not opening and first_sentence < len(index.sentences):  # all titles and fields: the first line
            opening = [first_sentence]
        for sentence in opening[:per_doc]:
            while int(index.chunks[row]["last"]) < sentence:  # the chunk that holds it
                row += 1
            chunk = index.chunks[row]
            if row != cited_row:  # a sentence of another passage: its own source
                cited_row = row
                hit = Hit(row, 1.0, 0.0, 0.0, np.arange(int(chunk["first"]), int(chunk["last"]) + 1),
                          np.zeros(int(chunk["last"]) - int(chunk["first"]) + 1))
                citations.append(_citation(index, hit, len(citations) + 1, docs_label))
            quoted.append(_quote(index, citations[-1], int(chunk["start"]), sentence, 1.0))
    if not quoted:
        return Answer(question, NOT_FOUND, False, citations)
    # Titles are no sentences: one per line reads as the list it is.
    text = ("\n" if by_title else " ").join(f"{q.text} [{q.n}]" for q in quoted)
    # An overview is certain of what it quotes: each document's own opening.
    answer = Answer(question, text, True, citations, quoted, score=1.0)
    if (shown := len({c.source for c in citations})) < len(docs):
        answer.warnings.append(f"{len(docs)} documents; {shown} {'is' if shown == 1 else 'are'} shown — "
                               "ask about a topic")
    return answer


def _overlap(q_idf: dict[str, float], token_sets: list[set[str]]) -> list[float]:
    """Share of the question's word weight (IDF) that each tokenised text contains."""
    total = sum(q_idf.values())
    if not total:
        return [0.0] * len(token_sets)
    return [sum(q_idf[t] for t in toks if t in q_idf) / total for toks in token_sets]


def _citation(index: LoadedIndex, hit: Hit, n: int, docs_label: str) -> Citation:
    chunk = index.chunks[hit.row]
    doc = int(chunk["doc"])
    start, end, start_line, end_line = span(index, hit)  # merged chunks: the whole passage
    return Citation(
        n=n,
        source=f"{docs_label}/{index.documents[doc].path}",
        start_line=start_line,
        end_line=end_line,
        text=index.document_text(doc)[start:end],
        score=hit.score,
        section=index.sections[int(chunk["section"])],
    )

