"""Conversation memory and follow-up resolution, by retrieval and without a language model.

A follow-up ("What did he oppose in 1999?", "And the American one?", "Why?") is resolved from the
earlier turns of its conversation:

0. **Only answered turns count**: a declined turn names what the documents do not hold, so its
   words would pull the next question toward the closest misses.
1. **Rewrite what can be rewritten safely**: "he"/"his" becomes the person the conversation is
   about (the answer of a "who" question — unless it asked about a named subject, "Who did Putin
   work with?" — else the person the last question named, carried from turn to turn), by the
   name the documents go on to use (:func:`surname`); "the American one" takes the noun of the
   last question. The user sees the result ("Understood as: What did Yeltsin oppose in 1999?").
2. **Expand**: a second query adds the last turn's context — the names and rarest words of the
   last answer's *top cited sentence* (not of the whole answer, so a weaker second sentence does
   not steer), then the words of the last question; a lighter third query adds older questions.
   A question with a new subject of its own ("What about in 2000?", "And under Yeltsin?") keeps
   the last question's frame but none of the old subject's names; when it is nothing but the new
   subject and the last question had one of its kind (a person, a number), the last question is
   asked about it ("What about under Trump?" → "What happened during the presidency of Trump?").
3. **Weigh by how well the question does alone**: its own retrieval's evidence score (the one the
   engine declines unanswerable questions with) sets the history's share, from 0.6 when the
   question finds nothing on its own down to 0.15 when it finds strong evidence.
4. **Fuse**: the question's own ranking and the weighted question + history ranking are merged by
   weighted reciprocal-rank fusion.
5. **Topic switch**: a question with no back-reference that shares no word with the recent turns,
   or that the engine would answer on its own (a self-contained question), or that retrieves so well
   on its own that the history's share would be negligible, is taken as asked — a self-contained
   new question is not dragged back to the old topic.
6. **The history must help**: a follow-up with words of its own whose history-aware answer would
   quote nothing but the sentence the last answer led with (the history only pulled it back to the
   old passage), or would be declined while the question alone is answered (a declined turn's words
   must not sink the next question), is taken as asked. One that would lead with that sentence
   beside a new one leads with the new one's passage instead.
7. **Say something new**: when the answer's sentences are chosen, the sentences recent answers led
   with are demoted unless they hold a word of the new question (always after "what else"), and
   are dropped when quoted beside a better new sentence (answers quote in reading order, so they
   would come first); bare title lines are demoted; after "why" a sentence giving a reason gains.
   A "what else" question that would still quote only what recent answers quoted quotes the best
   of the rest instead (when that is answered).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from qa.answer import (
    NOT_FOUND,
    asked_years,
    asks_present,
    asks_why,
    first_time,
    gives_reason,
    time_after_or_before,
    times_around,
)
from qa.keyword import IDF_OF_MOST, tokenize

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.retrieval import Hit

_WORD = re.compile(r"[A-Za-z][\w'’.-]*[\w]|[A-Za-z]|\d[\d,.–-]*\d|\d")
_PERSON = re.compile(r"\b(he|she|him|her|his|hers|himself|herself)\b", re.IGNORECASE)
# Words that point back at something said before. "it"/"there" are often expletive ("is it
# possible", "is there a fee"), so on their own they do not make a question a follow-up.
_REFERENCE = re.compile(
    r"\b(he|she|him|her|his|hers|himself|herself|they|them|their|theirs|its|these|those|"
    r"the latter|the former|the same|such|else|former|latter|this one|that one|the other|"
    r"(?:in response|in return|in reaction|as a result|at the time)(?!\s+(?:to|of|for|from|with)\b)|"
    r"after that|before that|afterwards)\b",
    re.IGNORECASE,
)
# "And space?", "What about trade?": a new item for the last question's frame.
_ELLIPTICAL = re.compile(
    r"^\s*(?:(?:and|but|or|so)\s+)?(?:what|how)\s+about\b"
    r"|^\s*and\s+(?!(?:what|who|whom|whose|when|where|why|how|which|did|does|do|is|was|were|are|has|have)\b)",
    re.IGNORECASE,
)
# "And after?", "What happened before that?", "What came next?": the time after (before) the last answer's.
# ("What happened then?" is at that time, not after it; "And then?" is after.)
_TIME_SHIFT = re.compile(
    r"^\s*(?:(?:and|but|so)\s+)?(?:(?:what|who)\s+(?:happened|came|followed|was\s+there|was)\s+)?"
    r"(?P<rel>before|after|next|afterwards?|later|earlier)(?:\s+(?:that|this|it|him|her|them|then))?\s*\??\s*$"
    r"|^\s*(?:and\s+|what\s+)?then(?:\s+what)?\s*\??\s*$"
    r"|^\s*(?:(?:and|but|so)\s+)?(?:what|who)\s+(?:followed|came\s+later|(?P<rel2>preceded))"
    r"(?:\s+(?:that|this|it|him|her|them))?\s*\??\s*$",
    re.IGNORECASE,
)
_BEFORE_WORDS = ("before", "earlier")
# "Did that last?", "Did it stay that way?", "Did that cooperation last?", "Did anything else make it worse?", "What made
# it worse after that?": what the document tells next, after the last answer's sentence (its
# story goes on there: "During Yeltsin's second term, … relations became more strained").
_CONTINUES = re.compile(
    r"^\s*(?:(?:and|but|so)\s+)?(?:"
    r"(?:did|does|has|have|had)\s+(?:that|this|it|they|things|(?:that|this|the)\s+[a-z]+)\s+"
    r"(?:last|lasted|continue|continued|persist|persisted|endure|endured|hold|stay|stayed|go\s+on)"
    r"|(?:did|has|had)\s+(?:anything|something)\s+else\s+(?:make|made)\s+(?:it|that|things|them)\s+(?:worse|better)"
    r"|what\s+(?:else\s+)?made\s+(?:it|that|things|them)\s+(?:worse|better)"
    r"|(?:did|has|have)\s+(?:it|that|things|they)\s+(?:get|got|gotten|become|grow|grown)\s+(?:worse|better)"
    r")(?:\s+(?:that\s+way|so|like\s+that|after\s+that|then|afterwards|after|over\s+time|for\s+long))?\s*\?*\s*$",
    re.IGNORECASE,
)


def asks_continuation(question: str) -> bool:
    """Whether a follow-up asks how the story went on ("Did that last?", "What made it worse
    after that?"): the document's next sentence after the last answer's answers it."""
    return _CONTINUES.match(question) is not None
# "Who was Russia's president then?", "What did the US do at that time?": the time the last
# answer stated; "What happened then?" too. Not "And then?", "What then?", "Then what?" (what
# came next: see _TIME_SHIFT), nor "since then", "by then", "before then" (times around it).
_AT_THAT_TIME = re.compile(
    r"(?<!\band\s)(?<!\bwhat\s)(?<!\bsince\s)(?<!\buntil\s)(?<!\btill\s)(?<!\bby\s)(?<!\bbefore\s)(?<!\bafter\s)"
    r"(?<!\bfrom\s)(?<!\beven\s)\b(?:back\s+then|then|at\s+(?:that|the)\s+time|in\s+those\s+days|"
    r"(?:in\s+)?that\s+year)(?=\s*[?.!]*\s*$)|\b(?:back\s+then|at\s+that\s+time|in\s+those\s+days)\b",
    re.IGNORECASE,
)
_MORE = re.compile(r"\b(else|other|another|more|besides)\b", re.IGNORECASE)
_THE_OTHER = re.compile(r"\bthe\s+other$", re.IGNORECASE)
# Asks for another thing of a kind the question names ("other games?", "another treaty"), where
# "more" asks for more of the same; "each other", "the other day", "on the other hand" ask neither.
_OTHER_KIND = re.compile(r"\b(another|(?<!each )other(?!\s+(?:day|hand|side|way)\b))\b", re.IGNORECASE)
_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those|it|there|then)\b", re.IGNORECASE)
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|or|what about|how about|what of|and what|and who|and when|and where|why|"
    r"why not|since when|until when|on what|for what|who else|where else|what else|which one|how so|"
    r"how come|how long|how much|how many|really|then what|in what way|is that|was that|were they|"
    r"did they|does it|did it|is it|was it)\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    "a an the and or but of in on at to for from by with about as is are was were be been being do did "
    "does done what who whom whose which when where why how that this these those it its he she they them "
    "his her their there then than also so not no yes into over under after before during since until i me "
    "my we our you your us can could should would will shall may might must has have had having any some "
    "all more most other such only own same too very just if else once here both each few much many "
    "again further while because until against between through up down out off above below s t don "
    "tell know give show explain please want need like get got one ones thing things way ok okay well "
    "thanks thank hi hello happen happened happens happening occur occurred occurs "
    # "Why is that significant?" asks no more than "Why?".
    "significant significance important importance matter matters actually "
    # "Anything else?" asks what "What else?" does.
    "anything something everything stuff".split()
)
# Words before a name that make it a person's ("president Yeltsin").
_TITLES = frozenset(
    "president presidents secretary ambassador minister prime chancellor king queen prince princess senator "
    "governor general admiral mr mrs ms dr sir lord lady judge chairman ceo founder director envoy".split()
)
_CONNECTORS = frozenset({"of", "the", "and", "de", "von", "van", "da", "del", "&"})
# Words that are capitalised only because they start a sentence, not because they are names.
_STARTERS = frozenset(
    "although however following despite because meanwhile moreover furthermore additionally therefore thus "
    "yet still later today currently finally first second third instead indeed nevertheless nonetheless "
    "overall similarly likewise besides otherwise hence accordingly consequently unlike like according "
    "beginning starting throughout within without among amid upon toward towards along across beyond "
    "whether unless though even every many several most some each another other".split()
)


@dataclass
class Turn:
    """One exchange.

    Attributes:
        question: The question as asked.
        understood_as: The question with references resolved (never the retrieval expansion, so
            context does not snowball from turn to turn).
        answer: The answer text.
        sources: Sources the answer cites.
        at: When the turn was recorded (seconds since the epoch).
        focus: The answer's top cited sentence: the salient names of the answer come from it, so
            a weaker second sentence does not steer the next question.
        quoted: The sentences the answer quoted (a follow-up should bring new ones first).
        person: The person "he"/"she" referred to in this turn, carried to the next one.
        frame: See below; ``times``: likewise.
    """

    question: str
    understood_as: str
    answer: str
    sources: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)
    focus: str = ""
    quoted: list[str] = field(default_factory=list)
    person: str | None = None
    #: The question whose frame an elliptical question kept ("What are the shared interests?"
    #: for "And space?"), so that "And energy?" next keeps it too.
    frame: str = ""
    #: The time the answer was held to ("And after?": 2000–2014), for a next "And after?" when
    #: the quoted sentences state no year of their own.
    times: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, answer: Answer, understood_as: str | None = None, **context) -> Turn:
        """The turn of an answer: its cited sources, its quoted sentences, and as focus the best
        of them, which carries the answer's names to the next turn. ``understood_as`` defaults
        to the question; ``context`` sets what the plan carries on (person, frame, times)."""
        focus = max(answer.sentences, key=lambda q: q.score).text if answer.sentences else ""
        return cls(answer.question, understood_as or answer.question, answer.answer,
                   [c.source for c in answer.citations if c.cited], focus=focus,
                   quoted=[q.text for q in answer.sentences], **context)


@dataclass
class QueryPlan:
    """What to retrieve for a question.

    Attributes:
        queries: Weighted query texts; the first is the question itself (resolved).
        understood_as: The question as understood, for display; ``None`` when taken as asked.
        resolved: The question with "he"/"the American one" resolved (the question itself when
            there was nothing to resolve).
        follow_up: Whether earlier turns shaped the queries.
        person: The person the conversation is about (what "he"/"she" would refer to), if any.
        repeated: Sentences recent answers led with.
        repeat_penalty: How much a repeated sentence loses when the answer's sentences are chosen
            (see :func:`sentence_adjustment`).
    """

    queries: list[tuple[str, float]]
    understood_as: str | None
    resolved: str = ""
    follow_up: bool = False
    person: str | None = None
    repeated: frozenset[str] = frozenset()
    repeat_penalty: float = 0.0
    #: For :func:`weigh`: scale of the history share, whether the question has no words of its
    #: own, the expansions' relative weights, and the parameters.
    history_scale: float = 1.0
    empty: bool = False
    relative: list[float] | None = None
    params: PlanParams | None = None
    #: Stemmed words the question adds to the last one, and whether it asks "why" (sentence choice).
    asked_terms: frozenset[str] = frozenset()
    why: bool = False
    #: The sentence the last answer led with, and the stemmed words the resolved question adds to
    #: the last one ("pete", "hegseth", "position" for "What is his position?"): see :func:`is_said`.
    said: str = ""
    said_new_terms: frozenset[str] = frozenset()
    #: Whether the question asks for something else ("What else…?", "Any other…?"), and every
    #: sentence the recent answers quoted: such a question must not be answered with them again.
    wants_new: bool = False
    quoted_before: frozenset[str] = frozenset()
    #: Whether it asks for a different thing of a kind it names ("other games?"): the history
    #: weighs less (:func:`weigh`, :func:`_asks_other_of_its_own`).
    wants_other: bool = False
    #: The last question (as understood) whose frame an elliptical follow-up keeps: "And space?"
    #: after "What are the shared interests?" asks about shared interests.
    frame: str = ""
    #: The time "And after?" / "What happened before that?" asks about: after (before) the years
    #: the last answer's sentences state (empty when they state none), and the sources of that
    #: answer (the time after it is looked for in them first).
    times: tuple[tuple[int, int], ...] = ()
    times_sources: frozenset[str] = frozenset()
    #: For "And after that?": the sentences of the answer the time is after (those following
    #: one in its passage, stating no time, come right after it).
    times_after: frozenset[str] = frozenset()
    #: For "Did that last?": the sentence the last answer led with, whose story goes on next.
    continues: tuple[str, ...] = ()


class Conversation:
    """A bounded history of turns (by count and by age), one per chat session or thread.

    Args:
        max_turns: Turns kept; older ones are forgotten.
        max_age_s: Turns older than this many seconds are forgotten.
    """

    def __init__(self, max_turns: int = 8, max_age_s: float = 3600.0) -> None:
        self.max_turns = max_turns
        self.max_age_s = max_age_s
        self._turns: deque[Turn] = deque(maxlen=max(1, max_turns))

    @property
    def turns(self) -> list[Turn]:
        """Turns still in memory, oldest first."""
        cutoff = time.time() - self.max_age_s
        while self._turns and self._turns[0].at < cutoff:
            self._turns.popleft()
        return list(self._turns)

    @property
    def last(self) -> Turn | None:
        turns = self.turns
        return turns[-1] if turns else None

    def add(self, turn: Turn) -> None:
        self._turns.append(turn)

    def replace_last(self, turn: Turn) -> None:
        """Replace the most recent turn (e.g. to record a corrected answer)."""
        if self._turns:
            self._turns[-1] = turn
        else:
            self._turns.append(turn)

    def reset(self) -> None:
        self._turns.clear()

    def copy(self) -> Conversation:
        """A conversation with the same turns and bounds, whose new turns leave this one as it is."""
        other = Conversation(self.max_turns, self.max_age_s)
        other._turns.extend(self._turns)
        return other

    def __len__(self) -> int:
        return len(self.turns)


# -- words and names ----------------------------------------------------------------------------


def _norm(word: str) -> str:
    """A crude stem so "opposed"/"oppose" and "Russia's"/"Russia" count as the same word."""
    w = word.lower().replace("’", "'").removesuffix("'s").strip(".,'-")
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def content_words(text: str) -> list[str]:
    """Words of a text that carry meaning (no stop words, nor one contracted: "who's", "it's"), in order."""
    return [w.strip(".") for w in _WORD.findall(text) if not _is_stop(w.lower().strip(".").replace("’", "'"))]


def _is_stop(word: str) -> bool:
    return word in _STOP or (word.endswith("'s") and word[:-2] in _STOP)


def _stems(text: str) -> set[str]:
    return {_norm(w) for w in content_words(text)}


def entities(text: str) -> list[str]:
    """Names and numbers of a text, in order and as written: runs of capitalised words ("George W.
    Bush", "Bosnia and Herzegovina") and years/numbers. Words capitalised only because they start a
    sentence ("After", "Relations") are left out unless they also appear capitalised elsewhere."""
    text = re.sub(r"\[\d+\]", " ", text)
    tokens = list(_WORD.finditer(text))
    lower_words = {m.group().lower() for m in tokens if m.group()[0].islower()}
    names: list[str] = []
    run: list[re.Match] = []

    def flush() -> None:
        while run and run[-1].group().lower() in _CONNECTORS:
            run.pop()
        if run:
            names.append(text[run[0].start() : run[-1].end()])
        run.clear()

    for i, m in enumerate(tokens):
        tok = m.group()
        gap = text[tokens[i - 1].end() : m.start()].strip() if i else ""
        # A name runs on across spaces, and across the dot of an initial ("W. Bush"); a comma,
        # a bracket or a full stop ends it.
        if run and gap and not (gap == "." and re.fullmatch(r"[A-Z]", run[-1].group())):
            flush()
        before = text[: m.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:\n\"“("
        if tok[0].isdigit():
            flush()
            names.append(tok)
            continue
        if tok[0].isupper():
            low = tok.lower()
            if sentence_start and (low in _STOP or low in _STARTERS or low in lower_words):
                flush()
                continue
            if low in _STOP and not run:
                continue
            run.append(m)
            continue
        if run and tok.lower() in _CONNECTORS and i + 1 < len(tokens) and tokens[i + 1].group()[0].isupper():
            run.append(m)
            continue
        flush()
    flush()
    return list(dict.fromkeys(names))


def _said(turn: Turn) -> str:
    """What a turn's answer said: its top sentence, else its text ("" when it declined)."""
    if turn.focus:
        return turn.focus
    return "" if turn.answer.startswith(NOT_FOUND) else turn.answer


_NOT_PERSON = frozenset(
    "union states nations kingdom republic federation empire europe america asia africa war wars court "
    "department council party office embassy bank university company corporation act treaty agreement "
    "organization organisation administration government ministry army navy force forces committee house "
    "city county river sea ocean island islands mountains east west north south intervention crisis "
    "revolution service services cloud center centre library program programme project association "
    "institute school college hospital church street road state province region district airport station "
    "team club league cup games award prize series system network database".split()
)


def _is_person(name: str, text: str) -> bool:
    """Whether a name looks like a person's: two or more capitalised words none of which is a
    connector, an acronym or a typical head of a place or organisation ("Union", "States"), or a
    single word right after a title ("president Yeltsin")."""
    words = name.split()
    if name[0].isdigit() or any(w.lower() in _CONNECTORS for w in words):
        return False
    if words[0].lower() in _TITLES or words[-1].lower().strip(".") in _NOT_PERSON:
        return False
    if any(len(w) > 2 and w.isupper() for w in words):  # NATO, IBM: organisations
        return False
    if len(words) >= 2:
        return True
    return bool(re.search(rf"\b({'|'.join(_TITLES)})\s+{re.escape(name)}\b", text, re.IGNORECASE))


def _without_title(name: str) -> str:
    """"Defense Secretary Pete Hegseth" → "Pete Hegseth": the name without the title before it
    (and without a possessive "'s")."""
    words = re.sub(r"['’]s$", "", name).split()
    cut = max((i + 1 for i, w in enumerate(words) if w.lower().strip(".") in _TITLES), default=0)
    return " ".join(words[cut:])


# "Who did Putin work with …?": the "who" is the object, the person named after the auxiliary the
# subject — and the conversation stays about the subject. "Who is/was …?" asks for the subject.
_WHO_OBJECT = re.compile(r"\s*(who|whom)\s+(did|does|do|will|would|could|can|should|has|have|had)\s", re.IGNORECASE)


def _about(turn: Turn) -> str | None:
    """The person a turn was about: after a "who" question the person in its answer
    ("Who led Russia…?" → Boris Yeltsin), unless the question asked whom its own subject met or
    did something with ("Who did Putin work with…?" → still Vladimir Putin), otherwise the one
    its question named ("When did Putin…?" → Vladimir Putin, the full form from the answer),
    else the one carried from before."""
    answer = _said(turn)
    answer_names = [n for n in map(_without_title, entities(answer)) if n]
    asked_names = [n for n in map(_without_title, entities(turn.understood_as)) if n]
    # The full form of a name asked by its surname: from the top sentence, else from any sentence
    # of the answer ("Did relations get worse under Putin?" is about "Vladimir Putin" though the
    # top sentence says "Putin's re-election").
    quoted = "" if turn.answer.startswith(NOT_FOUND) else turn.answer
    full_names = [n for n in map(_without_title, entities(quoted)) if len(n.split()) >= 2]
    asked = [next((a for a in answer_names if n in a.split() and len(a.split()) >= 2), None)
             or next((a for a in full_names if n in a.split()), None)
             # "Who did Putin work with…?" after a turn about Vladimir Putin: the same person.
             or (turn.person if turn.person and n in turn.person.split() else None)
             or next((a for a in answer_names if n in a), n)
             for n in asked_names]
    text = f"{turn.understood_as} {answer}"
    asked_people = [n for n in asked if _is_person(n, text)]
    new_people = [n for n in answer_names if n not in asked and _is_person(n, text)]
    who_object = _WHO_OBJECT.match(turn.understood_as)
    # The named person must follow the auxiliary ("Who did Putin meet?"), else "who" is the
    # subject ("Who could defeat Putin?" asks for someone else).
    subject_named = bool(who_object and asked_people and any(
        turn.understood_as[who_object.end():].lstrip().startswith(n.split()[0]) for n in asked_names))
    if re.match(r"\s*(who|whom|whose)\b", turn.understood_as, re.IGNORECASE) and not subject_named:
        order = new_people + asked_people
    else:
        order = asked_people + ([turn.person] if turn.person else []) + new_people
    return order[0] if order else turn.person


_ONE = re.compile(r"\b(the|an?|this|that|which|other|another)(\s+[\w'’-]+)?\s+(one|ones)\b(?!\s+(of|who|that|which)\b)",
                  re.IGNORECASE)


def head_noun(question: str) -> str | None:
    """The thing a question asks about, for "the American one": its first content word that is
    not a name ("Who is Russia's ambassador to the United States?" → "ambassador")."""
    names = set().union(set(), *(_stems(n) for n in entities(question)))
    for w in content_words(question):
        if w[0].islower() and _norm(w) not in names and not w[0].isdigit():
            return w
    return None


# "And Russia's?", "and russia's in DC?": a possessive whose noun is left out — the last
# question's (not "what's", "who's": contracted stop words).
_BARE_POSSESSIVE = re.compile(
    r"\b([A-Za-z][\w-]*)['’]s(?=\s+(?:in|at|on|from|for|to|during|under|before|after|then|now|today)\b"
    r"|\s*[?.!]*\s*$)", re.IGNORECASE)


def resolve_one(question: str, last_question: str) -> str:
    """"And the American one?" → "And the American ambassador?", "And Russia's?" → "And Russia's
    ambassador?" (the noun of the last question)."""
    m = _ONE.search(question)
    if m is None:
        bare = _BARE_POSSESSIVE.search(question)
        if bare is not None and not _is_stop(bare.group()) and (noun := head_noun(last_question)) is not None \
                and _norm(noun) not in _stems(question):
            return question[: bare.end()] + " " + noun + question[bare.end():]
        return question
    noun = head_noun(last_question)
    if noun is None:
        return question
    plural = m.group(3).lower() == "ones"
    return question[: m.start(3)] + (noun + "s" if plural and not noun.endswith("s") else noun) + question[m.end(3):]


_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr."})
_REGNAL = re.compile(r"[IVX]+")


def surname(person: str, rarity: Callable[[list[str]], list[float]] | None = None) -> str:
    """The name a document goes on to call a person by: the word of the name the documents use
    most (lowest IDF; on a tie the last: "Boris Yeltsin" → "Yeltsin", "Xi Jinping" → "Xi" where
    the documents say "Xi"), suffixes, regnal numbers and initials aside ("Martin Luther King
    Jr." → "King", "Henry VIII" → "Henry")."""
    words = [w.strip(",") for w in person.split()]
    while len(words) > 1 and (words[-1].lower() in _NAME_SUFFIXES or _REGNAL.fullmatch(words[-1])):
        words.pop()
    words = [w for w in words if len(w.rstrip(".")) > 1] or words
    if rarity is None or len(words) == 1:
        return words[-1]
    known = [(idf, -i) for i, idf in enumerate(rarity(words)) if idf > 0]
    return words[-min(known)[1]] if known else words[-1]


def resolve(question: str, person: str | None, rarity: Callable[[list[str]], list[float]] | None = None) -> str:
    """The question with its first person pronoun ("he", "his", "her"…) replaced by ``person``,
    by the surname (:func:`surname`; ``rarity``: corpus IDF of words, see :func:`rarity_of`)."""
    if person is None or not _PERSON.search(question):
        return question
    # By the surname, as documents name a person after the first mention: "What did Boris
    # Yeltsin oppose?" would favour the one sentence with his full name over "…was strongly
    # opposed by Yeltsin".
    person = surname(person, rarity)
    # (In a question typed in lower case, "bush" is Bush; otherwise "May" must be capitalised.)
    if re.search(rf"\b{re.escape(person)}\b", question, re.IGNORECASE if question.islower() else 0):
        # "What did Bush think of him?": a pronoun is not the person the question names.
        return question
    possessive = person + ("'" if person.endswith("s") else "'s")
    forms = {"he": person, "she": person, "him": person, "her": person, "his": possessive,
             "hers": possessive, "himself": person, "herself": person}
    done = False

    def sub(m: re.Match) -> str:
        nonlocal done
        if done:  # one substitution: a second "he" in the same question still reads right
            return m.group()
        done = True
        word = m.group().lower()
        rest = question[m.end():]
        # "her" is both object and possessive: before a noun ("her role") it is possessive.
        before = question[: m.start()]
        if word == "her" and re.match(r"\s+[a-z]", rest) and not re.match(
            r"\s+(in|on|at|to|for|from|with|by|about|as|after|before|during|and|or|do|did|say|said)\b", rest,
            re.IGNORECASE,
        ):
            return possessive
        # Before a name ("her Russian counterpart") only where no verb can take her as its
        # object: "Did they appoint her US ambassador?" is about her.
        if word == "her" and re.match(r"\s+[A-Z]", rest) and (not before.strip() or re.search(
                r"\b(and|or|of|about|with|for|to|from|by|is|was|are|were|what|who|where|when|in|on|at)\s*$",
                before, re.IGNORECASE)):
            return possessive
        return forms[word]

    return _PERSON.sub(sub, question)


def rarity_of(keyword_index) -> Callable[[list[str]], list[float]]:
    """Corpus IDF of words (their rarest stem; 0 for words the corpus does not have), from a
    :class:`qa.keyword.KeywordIndex`: rare words of an answer say what it is about, even
    lower-case ones ("image-deprecate", "escrow") that :func:`entities` cannot see."""
    unknown = float(keyword_index.idf(["\x00"])[0])  # the IDF the index gives a word it has never seen

    def rarity(words: list[str]) -> list[float]:
        out = []
        for tokens in tokenize(words) if words else []:
            values = [float(v) for v in keyword_index.idf(tokens)] if tokens else []
            out.append(max((v for v in values if v < unknown - 1e-9), default=0.0))
        return out

    return rarity


# -- follow-up detection --------------------------------------------------------------------------


def is_follow_up(question: str) -> bool:
    """Whether a question leans on earlier turns: a pronoun pointing back, a leading "and"/"what
    about"/"why", a demonstrative with little else, or too few words to stand alone."""
    words = content_words(question)
    if _FOLLOW_UP_START.search(question) or _REFERENCE.search(question):
        return True
    if _DEMONSTRATIVE.search(question) and len(words) <= 3:
        return True
    return len(words) <= 2


_WHAT_ABOUT = re.compile(r"^\s*(?:(?:and|but|so|or)\s+)?(?:(?:what|how)\s+(?:about|of)\s+|(?=\S))", re.IGNORECASE)


def substitute_subject(question: str, last_question: str, last_answer: str = "") -> str | None:
    """"What about under Trump?" after "What happened during the presidency of Joe Biden?" →
    "What happened during the presidency of Trump?": the last question with its one person (or
    one number) replaced by the question's new one. ``None`` when the question says more than a
    new subject ("What did Trump do?" stands alone), or when it is unclear what the new name
    replaces: only a person replaces a person and a number a number ("What about Putin?" after
    "Who is the US ambassador to Russia?" is left alone), and when the replacement would leave the
    last question as it was.
    """
    m = _WHAT_ABOUT.match(question)
    new = _new_names(question, last_question)
    if m is None or len(new) != 1 or not (m.group().strip() or question.lstrip().lower().startswith("and ")):
        return None
    name = new[0]
    # Nothing but the name and function words ("under", "in", "the"): an ellipsis.
    if _stems(question[m.end():].replace(name, " ")):
        return None
    old = [n for n in entities(last_question) if n[0].isdigit() == name[0].isdigit()]
    if len(old) != 1 or old[0] not in last_question:
        return None
    if not name[0].isdigit():
        # A person for a person: the old one recognisably so, the new one a person's name or a
        # lone surname ("Trump"), not an organisation ("NATO") or a typical place or body.
        said = f"{last_question} {last_answer}"
        words = name.split()
        surname = len(words) == 1 and not name.isupper() and name.lower().strip(".") not in _NOT_PERSON
        if not _is_person(old[0], said) or not (_is_person(name, f"{question} {said}") or surname):
            return None
    replacement = _without_title(name) if not name[0].isdigit() else name
    if name[0].isdigit() and re.search(rf"(?<![\w]){re.escape(name)}['’]?s(?![\w])", question):
        replacement += "s"  # "What about the 2010s?": a decade for a decade
    if not replacement:  # "the President": a title, no name
        return None
    if re.search(r"['’]s$", old[0]) and not re.search(r"['’]s$", replacement):
        replacement += "'s"
    # Whole words only: "100" in "after 100 days", not in "H100"; a decade whole ("the 1990s").
    decade = "s?" if old[0].isdigit() else ""
    rewritten = re.sub(rf"(?<![\w]){re.escape(old[0])}{decade}(?![\w])", lambda _: replacement, last_question, count=1)
    return rewritten if rewritten != last_question else None


def _new_names(question: str, history: str) -> list[str]:
    """Names in the question that the recent turns never mentioned (a new subject)."""
    known = _stems(history)
    return [n for n in entities(question) if not _stems(n) <= known]


#: Nationalities and regions used as adjectives. Before a noun ("American president", "Chinese
#: government") such a word qualifies what is asked about; it names no new subject.
_DEMONYMS = frozenset(
    "american russian soviet british english french german italian spanish portuguese dutch belgian swiss "
    "austrian polish czech slovak hungarian romanian bulgarian serbian croatian bosnian greek turkish "
    "ukrainian belarusian georgian armenian azerbaijani kazakh estonian latvian lithuanian finnish swedish "
    "norwegian danish icelandic irish scottish welsh european asian african arab arabic chinese japanese "
    "korean vietnamese thai indian pakistani afghan iranian iraqi syrian israeli palestinian egyptian "
    "saudi lebanese jordanian libyan canadian mexican brazilian argentine argentinian chilean colombian "
    "cuban venezuelan peruvian australian western eastern northern southern nordic baltic balkan "
    "allied".split()
)
_ATTRIBUTIVE = re.compile(r"\b([A-Z][a-z]+)\s+(?!ones?\b)[a-z]")  # "the American one": :func:`resolve_one`


def _new_subjects(question: str, history: str) -> list[str]:
    """:func:`_new_names` without nationalities used as adjectives ("With which American president?")."""
    attributive = {w for w in _ATTRIBUTIVE.findall(question) if w.lower() in _DEMONYMS}
    return [n for n in _new_names(question, history) if n not in attributive]


# -- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanParams:
    """How much a follow-up leans on earlier turns.

    The share of the history queries falls as the question alone retrieves better: a question
    that finds strong evidence on its own ("What are ETFs?") needs little context, one that finds
    nothing ("On what?") needs a lot. Confidence is the engine's evidence score of the question's
    own retrieval (the same measure that declines unanswerable questions).
    """

    #: Share of the history queries at low and at high confidence of the question alone.
    history_weight: tuple[float, float] = (0.6, 0.15)
    #: The share falls from the engine's answer threshold (below it the question alone would be
    #: declined) to this much above it, where it reaches its minimum.
    confidence_span: float = 0.3
    #: A self-contained question on the same topic gets this fraction of the history share — and
    #: none once it retrieves well enough on its own to be answered (its own evidence reaches the
    #: engine's answer threshold).
    continued_scale: float = 0.5
    #: Below this share the history is dropped: the question is taken as a new topic.
    min_history_share: float = 0.1
    #: Scale of the history share for a question asking for something else ("Any other
    #: games?"): what the last answer found is what it does not want again.
    other_scale: float = 0.5
    #: Weight of the older-turns query, relative to the last-turn expansion. The older-turns query
    #: holds the last turn's context too, so at 1.0 an older turn counts half as much as the last.
    older_weight: float = 1.0
    #: Older turns (before the last) taken into account.
    older_turns: int = 2
    #: Context words added from each turn.
    max_context_words: int = 12
    #: Names taken from the last answer's top sentence.
    answer_names: int = 4
    #: Rarest words taken from the last answer's top sentence (when the corpus IDF is known).
    answer_words: int = 4
    #: Share of its weight the question keeps when it has no content word of its own ("Why?").
    empty_question_share: float = 0.3
    #: Subtracted from the choice score (cosine + overlap, ~1) of a sentence the last answer quoted.
    repeat_penalty: float = 0.15
    #: Subtracted from the choice score of a "sentence" shorter than ``min_sentence_words`` words.
    label_penalty: float = 0.15
    min_sentence_words: int = 4
    #: Added to the choice score of a sentence that gives a reason ("because", "due to") after "why".
    reason_bonus: float = 0.1

    def history_share(self, confidence: float | None, scale: float, threshold: float = 0.35) -> float:
        """Share of the history queries for a question whose own retrieval scored ``confidence``."""
        if scale < 1.0 and confidence is not None and confidence >= threshold:
            return 0.0  # a self-contained question the engine would answer on its own
        t = 0.5 if confidence is None else min(1.0, max(0.0, (confidence - threshold) / self.confidence_span))
        high, low = self.history_weight
        return (high + (low - high) * t) * scale


def _context(
    turn: Turn,
    question: str,
    parts: str,
    p: PlanParams,
    rarity: Callable[[list[str]], list[float]] | None = None,
) -> list[str]:
    """Names and words of an earlier turn that the new question may be leaving out.

    ``parts`` is "answer" (the names and rarest words of the answer's top sentence, then the names
    and words of the question), "question" (the question's only) or "frame" (the question's words
    without the names a new subject replaces: "two countries cooperate" for "And under Yeltsin?").
    """
    asked = _stems(question)
    candidates = entities(turn.understood_as) + content_words(turn.understood_as)
    if parts == "answer":
        said = _said(turn)
        names = [n for n in entities(said) if not _stems(n) <= asked][: p.answer_names]
        if rarity is not None and p.answer_words:
            # The answer's rarest words name what it is about even when not capitalised.
            words = list(dict.fromkeys(w for w in content_words(said) if not _stems(w) <= asked and not w[0].isdigit()))
            ranked = sorted(zip(rarity(words), range(len(words)), strict=True), reverse=True)
            names += [words[i] for r, i in ranked[: p.answer_words] if r > 0]
        candidates = names + candidates
    elif parts == "frame":
        # The new subject replaces an old one of its kind: a year replaces a year, a name a name.
        kinds = {n[0].isdigit() for n in _new_names(question, turn.understood_as)}
        names = set().union(set(), *(_stems(n) for n in entities(turn.understood_as) if n[0].isdigit() in kinds))
        candidates = [w for w in candidates if not _stems(w) <= names]
    out: list[str] = []
    seen: set[str] = set()
    for w in candidates:
        stems = _stems(w)
        if not stems or stems <= asked or stems <= seen:
            continue
        seen |= stems
        out.append(w)
    if rarity is not None and out:
        # A word the documents never use retrieves nothing and only blurs the query's vector
        # ("Of course I knew it! just teasing, sorry": "teasing", "sorry"). Names and numbers
        # stay: the keyword index may split them into nothing it keeps ("U.S").
        out = [w for w, r in zip(out, rarity(out), strict=True) if r > 0 or not w.islower()]
    return out[: p.max_context_words]


def _shown(context: list[str], rarity: Callable[[list[str]], list[float]] | None) -> list[str]:
    """What "Understood as" names of the context: its rarest names (up to three), leaving out
    those in more than half the passages ("Russia" in an article about Russia says nothing);
    without such names, its two rarest words, in their order ("adversaries, foreign", not
    "…, another, considering")."""
    names = [w for w in context if w[0].isupper() or w[0].isdigit()]
    if rarity is None:
        return names[:3] or context[:2]
    rare = dict(zip(context, rarity(context), strict=True))
    names = [w for w in names if rare[w] >= IDF_OF_MOST]
    pool, keep = (names, 3) if names else (context, 2)
    ranked = sorted(range(len(pool)), key=lambda i: -rare[pool[i]])
    return [pool[i] for i in sorted(ranked[:keep])]


def plan(
    question: str,
    conversation: Conversation | None,
    params: PlanParams | None = None,
    rarity: Callable[[list[str]], list[float]] | None = None,
) -> QueryPlan:
    """Decide what to retrieve for ``question`` given the conversation so far.

    Args:
        question: The new question.
        conversation: Earlier turns, or ``None``.
        params: Fusion weights (defaults to :class:`PlanParams`).
        rarity: Corpus IDF of words (see :func:`rarity_of`), to pick an answer's rare words.

    Returns:
        The weighted queries. A follow-up gets the question (resolved) plus an expansion with the
        last turn, and a lighter one with older turns; a topic switch gets the question alone.
    """
    p = params or PlanParams()
    turns = conversation.turns if conversation is not None else []
    # A declined turn is no context: the documents do not know what it asked about, so its words
    # ("What is the capital of France?") would only pull the next question toward closest misses.
    turns = [t for t in turns if not t.answer.startswith(NOT_FOUND)]
    if not turns:
        return QueryPlan([(question, 1.0)], None, question)
    last = turns[-1]
    older = turns[-1 - p.older_turns : -1][::-1]  # most recent first
    recent = " ".join(f"{t.understood_as} {_said(t)}" for t in [last, *older])
    leaning = is_follow_up(question)
    if not leaning and not (_stems(question) & _stems(recent)):
        # Self-contained and nothing in common with the recent turns: a new topic.
        return QueryPlan([(question, 1.0)], None, question)

    person = _about(last)
    resolved = resolve_one(resolve(question, person, rarity), last.understood_as)
    # A new subject without a pronoun pointing back ("What about Putin?") keeps the frame of the
    # last question but not the names of its answer, which belong to the old subject.
    new_subject = not _REFERENCE.search(question) and bool(_new_subjects(question, recent))
    if new_subject and (substituted := substitute_subject(question, last.understood_as, _said(last))) is not None:
        resolved = substituted  # "What about under Trump?" → the last question, about Trump
    resolved = at_that_time(resolved, last)
    context = _context(last, resolved, "frame" if new_subject else "answer", p, rarity)
    history: list[tuple[str, float]] = []  # expansions and their relative weights
    if context:
        history.append((f"{resolved} {' '.join(context)}", 1.0))
    if leaning and not new_subject:
        older_context: list[str] = []
        for t in older:
            older_context += [w for w in _context(t, resolved, "question", p, rarity)
                              if w not in context and w not in older_context]
        if older_context:
            history.append((f"{resolved} {' '.join(context + older_context)}", p.older_weight))
    carried = None if new_subject else person
    # What the recent answers led with yields the first place (the last answer's other sentences
    # may be just what is asked next), even if it shares words with a "what else" question.
    repeated = frozenset(t.focus for t in [last, *older] if t.focus)
    # "the other one" is the one of two the last answer may well have named too ("Envoy Ambassador
    # Alexander DarchievAmbassador Lynne M. Tracy"); "other ones", "what else" ask for new ones.
    wants_new = any(not _THE_OTHER.search(question[: m.end()]) for m in _MORE.finditer(question))
    if not history and resolved == question:
        return QueryPlan([(question, 1.0)], None, question, False, carried)
    understood = resolved + (f" (context: {', '.join(shown)})" if (shown := _shown(context, rarity)) else "")
    times, when, times_sources, times_after = _shifted_times(question, [last, *older])
    if when:  # "And before that? (before 1991)": the time the answer is held to
        understood += f" ({when})"
    # What "that" is: the sentence the last answer led with (its best), not a weaker second one.
    continues = (last.focus,) if last.focus and not times and asks_continuation(question) else ()
    if continues:
        understood += " (what the documents tell next)"
    result = QueryPlan([(resolved, 1.0), *history], understood, resolved, True, carried, repeated, p.repeat_penalty,
                       history_scale=1.0 if leaning else p.continued_scale,
                       empty=not content_words(resolved), params=p,
                       asked_terms=frozenset() if wants_new else _new_terms(question, last.understood_as),
                       why=asks_why(question), said=last.focus,
                       said_new_terms=frozenset() if wants_new else _new_terms(resolved, last.understood_as),
                       wants_new=wants_new, wants_other=_asks_other_of_its_own(question, resolved, rarity),
                       quoted_before=frozenset(q for t in [last, *older] for q in t.quoted),
                       frame=(last.frame or last.understood_as) if _ELLIPTICAL.match(question) and not new_subject
                       else "",
                       times=times, times_sources=times_sources, times_after=times_after, continues=continues)
    return weigh(result, None)


def _asks_other_of_its_own(question: str, resolved: str, rarity: Callable[[list[str]], list[float]] | None) -> bool:
    """Whether a question asks for another thing of a kind it names and the documents know
    ("other games?"): the history then weighs less, since what the last answer found is what it
    does not want again. "What else strained things?" asks for another cause of the same thing,
    and "Did anything else make it worse?" names nothing the documents know: for them the
    history is the topic, and weighs in full."""
    if not _OTHER_KIND.search(question):
        return False
    words = content_words(resolved)
    return rarity is None or any(r > 0 for r in rarity(words)) if words else False


def at_that_time(question: str, last: Turn) -> str:
    """The question with "then" or "at that time" replaced by the time the last answer's top
    sentence (else another it quoted) states: "Who was Russia's president then?" after "…the
    Soviet Union in 1991…" is "Who was Russia's president in 1991?", which the answer's time rules
    can hold it to. Unchanged when it names a time of its own or the answer stated none."""
    m = _AT_THAT_TIME.search(question)
    # "Who is the current ambassador then?": "then" is a filler beside a present of its own.
    if m is None or asked_years(question) or asks_present(question) or _TIME_SHIFT.match(question):
        return question
    when = first_time([last.focus, *last.quoted])
    if when is None:
        return question
    before = question[: m.start()].rstrip()
    if not before:  # "At that time, who led Russia?"
        return f"{when[0].upper()}{when[1:]}{question[m.end():]}"
    return f"{before} {when}{question[m.end():]}"


def _shifted_times(question: str, turns: list[Turn]) -> tuple[tuple[tuple[int, int], ...], str, frozenset[str],
                                                              frozenset[str]]:
    """The times "And after?" or "What happened before that?" asks about (see
    :func:`qa.answer.time_after_or_before`), from the years the latest of ``turns`` (most recent
    first) that states any quoted, or the time that turn's own answer was held to: after "Boris
    Yeltsin (1991–99)" 2000–2014, then any later year. Also how to show it ("after 1999") and
    the sources and the quoted sentences of that turn (for "after", in story order)."""
    m = _TIME_SHIFT.match(question)
    if not m:
        return (), "", frozenset(), frozenset()
    before = bool(m["rel2"]) or (m["rel"] or "").lower() in _BEFORE_WORDS
    told: list[str] = []  # what the turns since said: no "next" to come again
    for turn in turns:
        told += turn.quoted
        times = time_after_or_before(turn.quoted, before)
        if not times and turn.times:  # "And after?" twice: after the time the last one was about
            times = times_around(*turn.times[0], before)
        if times:
            shown = f"before {times[0][1] + 1}" if before else f"after {times[0][0] - 1}"
            return times, shown, frozenset(turn.sources), frozenset() if before else frozenset(told)
    return (), "", frozenset(), frozenset()


def _terms(text: str) -> frozenset[str]:
    """Stemmed content words of a text, as the keyword index sees them."""
    return frozenset(tokenize([" ".join(content_words(text))])[0])


def _new_terms(question: str, last_question: str) -> frozenset[str]:
    """Stemmed words of a question that the last question did not have: what the user adds."""
    return _terms(question) - _terms(last_question)


def is_repeat(query_plan: QueryPlan, sentence: str) -> bool:
    """Whether a follow-up should not lead with ``sentence``: a recent answer led with it, and it
    holds none of the words the new question adds to the last one ("Under which president?" may
    well be answered by the same sentence), or the question asks for something else ("What
    else…?", "Any other…?")."""
    return sentence in query_plan.repeated and not _shares_term(query_plan.asked_terms, _terms(sentence))


#: Shortest stem that counts as the start of a longer one (:func:`_shares_term`).
_MIN_PREFIX_STEM = 5


def _shares_term(asked: frozenset[str], terms: frozenset[str]) -> bool:
    """Whether a sentence's stemmed words hold one of ``asked``, or a word one of them begins
    (at least :data:`_MIN_PREFIX_STEM` letters): the stemmer leaves "relations" as "relat" but
    "relationship" whole, and "How were relations under him?" is answered by "…the relationship
    was generally warm under … Yeltsin"."""
    if asked & terms:
        return True
    return any(t.startswith(a) or a.startswith(t) for a in asked for t in terms
               if min(len(a), len(t)) >= _MIN_PREFIX_STEM)


def sentence_adjustment(query_plan: QueryPlan, sentence: str) -> float:
    """What a follow-up adds to a candidate sentence's score when the answer's sentences are chosen.

    A repeated sentence (see :func:`is_repeat`) is demoted: a follow-up asks for something new. So is
    a bare label of a few words (a title line): the expansion is a bag of names, which such lines
    match without saying anything. "Why?" favours sentences that give a reason.
    """
    p = query_plan.params or PlanParams()
    value = -query_plan.repeat_penalty if is_repeat(query_plan, sentence) else 0.0
    if len(sentence.split()) < p.min_sentence_words:
        value -= p.label_penalty
    if query_plan.why and gives_reason(sentence):
        value += p.reason_bonus
    return value


def as_asked(query_plan: QueryPlan, question: str) -> QueryPlan:
    """The plan of a follow-up taken as asked: the question alone, without the history's context,
    but with "he" and "the American one" still resolved (that rewrite is safe, and it is shown)."""
    resolved = query_plan.resolved or question
    return QueryPlan([(resolved, 1.0)], resolved if resolved != question else None, resolved, False,
                     query_plan.person)


def says_nothing_new(query_plan: QueryPlan, answer: Answer) -> bool:
    """Whether a follow-up's history-aware answer adds nothing, so the question alone may do better.

    True when the answer is declined (the caller then takes the question as asked if that is
    answered: a declined earlier turn must not sink the next question), or when the question has
    words of its own and the answer only quotes the sentence the last answer led with, which holds
    none of the words the question, resolved, adds to the last one (see :func:`is_said`): the
    history just pulled it back to the old passage. The same sentence may well answer "Since when
    had they been imposed?" (it holds "imposed"), "What is his position?" (it names him: "Defense
    Secretary Pete Hegseth …") or a question without words of its own ("Since when?", "Why?"):
    those keep their history, and so does an answer that quotes anything new.
    """
    if not query_plan.follow_up:
        return False
    if not answer.answered:
        return True
    if query_plan.why and any(gives_reason(q.text) for q in answer.sentences):
        # "What caused that?" after "…were strained due to Russia's annexation of Crimea": the
        # sentence said it, and the reason is what is asked.
        return False
    return not query_plan.empty and bool(answer.sentences) and all(is_said(query_plan, q.text) for q in answer.sentences)


# "Why is that significant?", "why was it a big deal": asks what it means, not what caused it.
_SIGNIFICANCE = re.compile(r"\b(?:significant|significance|important|importance|matter(?:s|ed)?|big\s+deal|"
                           r"notable|remarkable|surprising)\b", re.IGNORECASE)


def gives_no_new_reason(query_plan: QueryPlan, answer: Answer) -> bool:
    """Whether a "why" follow-up would be answered only with what recent answers quoted, none of
    which gives a reason ("Why did he do it?" after "Hegseth has also ordered the suspension of
    offensive cyber operations"): the documents do not say why."""
    if _SIGNIFICANCE.search(query_plan.resolved or ""):
        return False  # "Why is that significant?": what the sentence says of it is the answer
    return (query_plan.follow_up and query_plan.why and answer.answered and bool(answer.sentences)
            and all(q.text in query_plan.quoted_before for q in answer.sentences)
            and not any(gives_reason(q.text) for q in answer.sentences))


def repeats_itself(query_plan: QueryPlan, answer: Answer) -> bool:
    """Whether a "what else" or "tell me more" question would be answered with a sentence recent
    answers quoted (the engine then quotes the best of the rest, when that is answered)."""
    return (query_plan.wants_new and answer.answered
            and any(q.text in query_plan.quoted_before for q in answer.sentences))


def is_said(query_plan: QueryPlan, sentence: str) -> bool:
    """Whether the last answer led with ``sentence`` and it holds none of the words the question,
    resolved, adds to the last one (so it does not answer anything new)."""
    return bool(query_plan.said) and sentence == query_plan.said and not (query_plan.said_new_terms & _terms(sentence))


def lead_with_new(query_plan: QueryPlan, hits: list[Hit], answer: Answer, sentences: dict[int, str]) -> list[Hit] | None:
    """The hits reordered so a follow-up's answer leads with what is new, or ``None`` to keep them.

    When the answer's best sentence is the one the last answer led with (see :func:`is_said`) but
    it also quotes a new one from another passage — "any reason to end?" quoting a character's
    farewell again beside the producer's announcement of the final season — the passage of the best
    new sentence moves to the top of the sources (the scores stay in order), and the answer,
    composed with ``lead_first``, quotes it first. The old sentence stays as context. A question without words of
    its own ("Since when?") may well be answered by the old sentence: its hits are kept.

    Args:
        query_plan: The follow-up's plan.
        hits: The hits the answer was composed from, best first.
        answer: The answer.
        sentences: Sentence text by sentence row, for the rows of ``hits``.
    """
    if query_plan.empty or not answer.sentences:
        return None
    if not is_said(query_plan, max(answer.sentences, key=lambda q: q.score).text):
        return None
    new = [q for q in answer.sentences if not is_said(query_plan, q.text)]
    if not new:
        return None
    best = max(new, key=lambda q: q.score).text
    i = next((i for i, h in enumerate(hits) if any(sentences.get(int(r)) == best for r in h.sentence_rows)), 0)
    if i == 0:
        return None
    order = [hits[i], *hits[:i], *hits[i + 1 :]]
    return [replace(h, score=old.score) for h, old in zip(order, hits, strict=True)]


#: Hits retrieved per ranking before a follow-up's rankings are fused.
FUSION_DEPTH = 10
#: The k of reciprocal rank fusion: 1 / (k + rank). Small, because both rankings are short and
#: already reranked: their first places are what should meet (MTRAG: k 2–4 lead on follow-ups
#: and topic switches in both halves, 10 trails the question alone on switches).
FUSION_K = 4


def fuse(alone: list[Hit], history: list[Hit], own_weight: float, top_k: int, k: int = FUSION_K) -> list[Hit]:
    """Weighted reciprocal-rank fusion of the question's own ranking and the history-aware one.

    Fusing ranks rather than scores keeps a passage the question finds clearly on its own near
    the top even when the history pulls elsewhere, and the other way round.

    A passage is matched across the two rankings by what it shows, not by its first chunk row:
    retrieval merges overlapping chunks of one document into one hit (see
    :func:`qa.retrieval._dedup`), so the same passage can lead with chunk 12 in one ranking and
    with chunk 13 (or 12 and 13 merged) in the other. A history-aware hit is the passage of the
    question's own hit with the same chunk, else of the one sharing the most sentences with it;
    own hits it shows entirely (merged chunks) are the same passage too. Listing them apart would
    show the same sentences twice and push another passage out. The shown hit is the one that
    covers more chunks (the history-aware one on a tie).

    Args:
        alone: Hits for the question alone, best first.
        history: Hits for the weighted question + history queries, best first.
        own_weight: Weight of ``alone`` (the rest goes to ``history``).
        top_k: Hits to return.
        k: Rank offset; larger flattens the difference between ranks.

    Returns:
        Hits, best first; ``score`` becomes the fused score scaled so 1.0 is first in both.
    """
    fused = [_Fused(hit, own_weight / (k + rank)) for rank, hit in enumerate(alone, start=1)]
    own = list(fused)
    for rank, hit in enumerate(history, start=1):
        weight = (1.0 - own_weight) / (k + rank)
        # Within one ranking retrieval has already told passages apart: only match across the two.
        overlapping = [f for f in own if not f.matched and any(f.overlap(hit))]
        if not overlapping:
            fused.append(_Fused(hit, weight, matched=True))
            continue
        # The same chunk first, else the passage sharing the most sentences.
        match = max(overlapping, key=lambda f: (f.hit.row == hit.row, f.overlap(hit)))
        # Show the hit that covers more of the passage; on a tie the history-aware one, whose
        # sentence scores reflect the whole query.
        if len(hit.rows) >= len(match.hit.rows):
            match.hit = hit
        shown = set(match.hit.rows)
        for other in overlapping:
            if other is not match and set(other.hit.rows) <= shown:
                # The shown hit holds all of it too (merged chunks): one passage, counted once.
                match.score = max(match.score, other.score)
                other.matched = other.absorbed = True
        match.score += weight
        match.matched = True
    kept = sorted((f for f in fused if not f.absorbed), key=lambda f: -f.score)  # stable: ties keep own order
    return [replace(f.hit, score=f.score * (k + 1)) for f in kept[:top_k]]


@dataclass
class _Fused:
    """One passage during :func:`fuse`: the hit shown for it, and its fused score so far."""

    hit: Hit
    score: float
    matched: bool = False
    absorbed: bool = False

    def overlap(self, other: Hit) -> tuple[int, int]:
        """How much of ``other`` this passage shows: shared chunks, then shared sentences."""
        chunks = len(set(self.hit.rows) & set(other.rows))
        return chunks, len(set(self.hit.sentence_rows.tolist()) & set(other.sentence_rows.tolist()))


def weigh(query_plan: QueryPlan, confidence: float | None, threshold: float = 0.35) -> QueryPlan:
    """The plan with its weights set for how well the question retrieves alone (``None``: unknown),
    given the engine's answer ``threshold`` on the same evidence score.

    The question keeps ``1 - share``; the history queries split ``share`` by their relative
    weights (the last turn before older ones).
    """
    if not query_plan.follow_up or len(query_plan.queries) < 2 or query_plan.params is None:
        return query_plan
    p = query_plan.params
    share = p.history_share(confidence, query_plan.history_scale, threshold)
    if share < p.min_history_share:
        # A self-contained question that retrieves well on its own: a topic switch, taken as asked.
        return QueryPlan([(query_plan.resolved, 1.0)], None, query_plan.resolved)
    if query_plan.wants_other:
        share *= p.other_scale
    own = 1.0 - share
    if query_plan.empty:  # "Why?": the question alone retrieves nothing, its context has to lead
        own *= p.empty_question_share
    relative = query_plan.relative or [w for _, w in query_plan.queries[1:]]
    total = sum(relative)
    queries = [(query_plan.queries[0][0], own)] + [
        (text, (1.0 - own) * r / total) for (text, _), r in zip(query_plan.queries[1:], relative, strict=True)
    ]
    return replace(query_plan, queries=queries, relative=relative)
