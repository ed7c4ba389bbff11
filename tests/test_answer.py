"""Answers: how a quoted sentence is shown, and that an answer's markers are its own citations."""

from __future__ import annotations

import re

import pytest

from qa.answer import asks_why, gives_reason, owned_by_someone_else, quote_text, strip_chatter
from qa.engine import Engine


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("Tracy was appointed in 2023.[3] She", "Tracy was appointed in 2023. She"),
        ("Relations[4][5] worsened.", "Relations worsened."),
        ("It ended[a] in 1991[citation needed].", "It ended in 1991."),
        ('A "quote"[7], then  more\n text', 'A "quote", then more text'),
        ("Sanctions were expanded.[12]", "Sanctions were expanded."),
        # Not reference marks: an index, code that goes on, code spans, a bracket after a space.
        ("Use args[0] here.", "Use args[0] here."),
        ("Then x = a[3].b and m[2]=1.", "Then x = a[3].b and m[2]=1."),
        ("Set a[i] = 0 and m[2] = 1.", "Set a[i] = 0 and m[2] = 1."),
        ("It ended[Citation needed].", "It ended."),
        ("See `arr[2]` and `f(x)[1]`.", "See `arr[2]` and `f(x)[1]`."),
        ("Values [1, 2] and the list [3].", "Values [1, 2] and the list [3]."),
    ],
)
def test_quoted_sentences_leave_out_the_documents_reference_marks(raw, quoted):
    assert quote_text(raw) == quoted


@pytest.mark.parametrize(("raw", "quoted"), [
    ("Envoy\nAmbassador Alexander DarchievAmbassador Lynne M. Tracy",
     "Envoy: Ambassador Alexander Darchiev · Ambassador Lynne M. Tracy"),
    ("Diplomatic mission\nEmbassy of Russia, Washington, D.C.Embassy of the United States, Moscow",
     "Diplomatic mission: Embassy of Russia, Washington, D.C. · Embassy of the United States, Moscow"),
    ("Population\n12,345", "Population: 12,345"),
    # Wrapped prose is no field: a sentence that starts at a line's end, or ends with a full stop.
    ("It was\nlater moved to Paris.", "It was later moved to Paris."),
    ("The\nQuick Fox", "The Quick Fox"),
])
def test_a_field_is_quoted_as_label_and_values(raw, quoted):
    assert quote_text(raw) == quoted


def test_the_bundled_infobox_answer_reads_as_a_field(engine):
    answer = engine.ask("Who is the US ambassador to Russia?")
    assert answer.answered
    assert answer.sentences[0].text == "Envoy: Ambassador Alexander Darchiev · Ambassador Lynne M. Tracy"
    # The source shows the file as it is.
    assert "Envoy\nAmbassador Alexander DarchievAmbassador Lynne M. Tracy" in answer.citations[0].text


def test_every_marker_in_an_answer_is_one_of_its_citations(corpus, embedder):
    from .conftest import make_settings

    (corpus / "source_docs" / "congress.md").write_text(
        "# Congress of Vienna\n\nThe Congress of Vienna was held in the Austrian capital from 1814 to 1815.[3] "
        "It redrew the map of Europe after the defeat of Napoleon.[4][5]\n", "utf-8")
    engine = Engine(make_settings(corpus))
    engine.build()
    answer = engine.ask("When was the Congress of Vienna held?")
    assert answer.answered and "from 1814 to 1815." in answer.answer
    numbers = {c.n for c in answer.citations}
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers and set(markers) <= numbers
    assert "[3]" not in answer.answer.replace(f"[{markers[0]}]", "")
    # The passage itself is quoted exactly as in the file, reference marks included.
    cited = next(c for c in answer.citations if c.n == markers[0])
    assert "1815.[3]" in cited.text
    assert all(s.text == quote_text(s.text) for s in answer.sentences)


def test_words_and_names_the_documents_never_use(seed_engine):
    from qa.answer import _content_words, unknown_words

    index = seed_engine.index()

    def unknown(question: str, passages: list[str] = ()) -> tuple[set[str], set[str]]:
        return unknown_words(index, question, _content_words(question), list(passages))

    assert unknown("What did Obama do about Russia?") == ({"obama"}, {"obama"})
    assert unknown("What is the population of Russia?") == ({"popul"}, set())
    assert unknown("What did Yeltsin oppose in 1999?") == (set(), set())
    # The question's frame is not its topic; an acronym the passages spell out is known.
    assert unknown("What happened under Trump?") == (set(), set())
    spelled = ["The United States sided with Russia in the United Nations."]
    assert unknown("How did the US vote at the UN?", spelled) == (set(), set())
    assert unknown("How did the US vote at the UN?") == ({"us", "un"}, {"us", "un"})
    # A misspelt word the documents use is not unknown ("Tracey", "ambasador"); a blank neither.
    assert unknown("Who is Lynne Trasy, the American ambasador?") == (set(), set())
    assert unknown("The ____ was opposed by Yeltsin?") == (set(), set())
    # A word the documents use, plus two letters or more, is another word.
    assert unknown("What did Russia do in Georgia?") == ({"georgia"}, {"georgia"})
    # Misspellings are judged as written: the stems of "born" and "Boris" are one edit apart,
    # the words two; two swapped letters are one edit ("Yelstin").
    assert unknown("When was Yeltsin born?") == ({"born"}, set())
    assert unknown("What did Yelstin oppose?") == (set(), set())


def test_a_misspelling_is_judged_on_the_words_as_written(tmp_path, embedder):
    from qa.answer import _misspelt
    from qa.engine import Engine

    from .conftest import make_settings

    docs = tmp_path / "source_docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Farming\n\nBoris led a boycott of the agriculture ministry.\n", "utf-8")
    engine = Engine(make_settings(tmp_path))
    engine.build()
    index = engine.index()
    assert index.keyword.written_forms("bori", index.chunk_index_text) == {"boris"}
    assert not _misspelt("born", index)  # stems "born" / "bori": one edit; words: two
    assert _misspelt("borris", index)
    # Stems one edit apart whose words differ only by an ending: "boycot" / "boycott".
    assert _misspelt("boycotting", index) and _misspelt("agricultural", index)
    assert _misspelt("argriculture", index)  # one letter too many
    assert _misspelt("agirculture", index)  # two letters swapped: one edit
    assert not _misspelt("bore", index)  # "bore" / "boris": two edits as written


def test_names_the_documents_never_mention_are_named_as_written(seed_engine):
    from qa.answer import absent_names

    index = seed_engine.index()
    assert absent_names(index, [], "What happened after the Cold War?") == ["Cold War"]  # "War" is known
    assert absent_names(index, [], "Tell me about Barack Obama") == ["Barack Obama"]
    assert absent_names(index, [], "Did Obama, Biden and Medvedev meet?") == ["Obama", "Medvedev"]
    # Capitalised question words are no part of a name; a hyphenated name is one word.
    assert absent_names(index, [], "What Did Zorblax Do?") == ["Zorblax"]
    assert absent_names(index, [], "What is Over-the-Zorblax?") == ["Over-the-Zorblax"]
    assert absent_names(index, [], "What did Yeltsn oppose?") == []


def test_a_time_is_covered_by_a_span_within_it_not_by_a_lifetime():
    from qa.answer import _content_words, _covered
    from qa.keyword import tokenize

    def covered(question: str, sentence: str) -> bool:
        return _covered(_content_words(question), [[set(tokenize([sentence])[0])]], question, [[sentence]])

    term = "Boris Yeltsin (1991–99) was president."
    assert covered("Who was president in the 1990s?", term)
    assert covered("Who was president in the mid-1990s?", term)  # overlaps a short span
    assert covered("Who was president in 1995?", term)
    assert not covered("Who was president in 2005?", term)
    assert not covered("Who was president in 1990?", "Richard Nixon (1913–1994) was the 37th president.")
    assert not covered("Who was president in 2019?", "He has been president since 2014.")  # open


def test_a_sentence_that_spells_out_an_acronym_holds_it():
    from qa.answer import _content_words, _covered
    from qa.keyword import tokenize

    texts = [["The United States has sided with Russia in the United Nations, voting against a resolution "
              "in February 2025."]]
    tokens_of = [[set(t) for t in tokenize(texts[0])]]

    def covered(question: str, with_texts: bool = True) -> bool:
        return _covered(_content_words(question), tokens_of, question, texts if with_texts else None)

    assert covered("How did the United States vote at the UN in February 2025?")
    assert not covered("How did the United States vote at the UN in February 2025?", with_texts=False)
    assert not covered("How did the United States vote at the WTO in February 2025?")  # not spelled out
    assert not covered("How did the United States vote at the UN in March 2025?")  # another month


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("Tesla had four siblings.", True),
        ("Edison offered fifty thousand dollars.", True),
        ("It cost $50,000 in 1885.", True),
        ("Several state-owned banks were sanctioned.", False),  # "several" counts nothing exactly
        ("The 1999 NATO intervention in Kosovo was opposed.", False),  # a year is no count
        ("Relations in the 1990s and the 20th century.", False),  # nor a decade, nor an ordinal
        ("Yeltsin opposed the intervention.", False),
        ("Twenty-five people died.", True),  # hyphenated number words
        ("It cost $1500.", True),  # a sum, not a year
        ("About 1500 soldiers died.", True),  # a year-like number before a plural noun counts
        ("In 1999 schools were closed.", False),  # unless "in" makes it a time
        ("Both countries consider one another adversaries.", False),  # "one" a pronoun
        ("Putin worked with Bush after the 9/11 attacks.", False),  # a date
        ("On 24 February the war began.", False),
        ("In February 2025 the United States voted.", False),  # the year is no quantity
        ("It began on February 24.", False),
        ("On December 25, 1991 it ended.", False),
        ("It cost 25 dollars on February 24.", True),
        ("One of the three banks failed.", True),
    ],
)
def test_a_count_is_a_number_that_is_not_a_year(sentence, states):
    from qa.answer import states_count

    assert states_count(sentence) is states


def test_an_amount_is_no_vague_count():
    from qa.answer import asks_amount, states_count

    assert asks_amount("How much did it cost?") and not asks_amount("How many banks?")
    assert not states_count("Several banks were sanctioned.") and not states_count("Several banks were sanctioned.", amount=True)
    assert states_count("It cost two billion dollars.", amount=True) and states_count("It cost $5.", amount=True)
    # "the two countries" says who, not how much; it may answer "how many countries".
    assert states_count("The two countries cooperated.") and not states_count("The two countries cooperated.", amount=True)


@pytest.mark.parametrize(("question", "present"), [
    ("How are relations today?", True), ("Today, how are relations?", True), ("Who is the current ambassador?", True),
    ("What are relations like now?", True), ("What happened most recently?", True), ("Who is currently president?", True),
    ("What did the World Today article say?", False),  # a name
    ("What is now downtown Jacksonville?", False),  # a place by today's name
    ("What is it now called?", False),
    ("Which current type was Tesla in favor of?", False),  # an electric current
    ("What happened in 1999?", False),
    # Capitalised at the start of the question, not in a name.
    ("The current president of Russia?", True), ("Latest news on sanctions?", True),
    ("These days, how are relations?", True), ("At present, who leads?", True), ("What is The Current?", False),
])
def test_a_question_about_now(question, present):
    from qa.answer import asks_present

    assert asks_present(question) is present


@pytest.mark.parametrize(("text", "full"), [
    ("Who was president in the 90s?", "Who was president in the 1990s?"),
    ("in the late '80s", "in the late 1980s"),
    ("the early-90s", "the early 1990s"),
    ("in the 20s", "in the 2020s"),
    ("in his 90s", "in his 90s"),  # an age
    ("the Feb 2025 vote, Sept. 11", "the February 2025 vote, September 11"),
    ("Mar is a word; the feb meeting", "Mar is a word; the feb meeting"),  # no number after it
])
def test_short_decades_and_months_are_read_in_full(text, full):
    from qa.answer import _full_times, asked_years

    assert _full_times(text) == full
    assert asked_years(text) == asked_years(full)


def test_the_latest_time_a_passage_states():
    from qa.answer import _years_behind_latest

    texts_of = [["Relations have existed since 1803.", "They were warm.", "It was in 1999."],
                ["In February 2025 the US voted with Russia.", "Talks followed.", "A plan for 2040 exists."]]
    behind = _years_behind_latest(texts_of, 2026)
    # 2025 is the latest (2040 is after this year); "since 1803" counts from its start; a
    # sentence stating nothing carries its passage's time.
    assert behind == {(0, 0): 222, (0, 1): 222, (0, 2): 26}


@pytest.mark.parametrize(("question", "asks"), [
    ("When did Putin become President of Russia?", True), ("In what year was the school formed?", True),
    ("What century was it built in?", True), ("Since when have sanctions been imposed?", True),
    ("What did Putin do in 2000?", False), ("Who succeeded Yeltsin?", False), ("Whenever he could?", False),
    ("On what date did Hegseth issue the order?", True), ("On what exact date did he order it?", True),
    ("In which specific year did it start?", True), ("What exact words did he use?", False),
    # "when" opens a clause; the question is what comes after it
    ("When many people are arrested, what is a common tactic?", False),
    ("When violence is used, what is civil disobedience called?", False),
])
def test_a_question_asking_for_a_time(question, asks):
    from qa.answer import asks_time

    assert asks_time(question) is asks


@pytest.mark.parametrize(("question", "bare"), [
    ("When?", True), ("When??", True), ("Since when?", True), ("When was that?", True), ("and when did it start?", True),
    ("what year was that?", True), ("In what year did that happen?", True), ("on what date?", True),
    ("When did Putin become president?", False), ("When in 2012?", False),
    ("What year did Putin become president?", False),
])
def test_a_question_asking_only_when(question, bare):
    from qa.answer import _BARE_WHEN

    assert bool(_BARE_WHEN.match(question)) is bare


@pytest.mark.parametrize(("sentence", "says_when"), [
    ("…voting against a resolution … in February 2025.", True),
    ("…on the war in Afghanistan following the 9/11 attacks.", True),
    ("…under Russian president Boris Yeltsin (1991–99).", True),
    ("Defense Secretary Pete Hegseth has also ordered the suspension of offensive cyber operations.", False),
    ("It cost $1500.", False),
    ("Theresa May met Putin.", False),  # a name, not a month
    ("They worked 24/7.", False),
    ("since March the talks stalled", True),
    ("in the 18th century", True),
    ("on Monday the envoys met", True),
    ("…were largely ignored in the 18th and 19th centuries.", True),
    # A time of day.
    ("The store opens at 9:00 and closes at 17:30.", True), ("The meeting starts at 3 pm.", True),
    ("Lunch is served from 11:45 to 14:00.", True), ("Doors open at 10 A.M.", True),
    ("They met at noon.", True), ("The ratio was 3:2.", False),
    ("Version 3.10 was released.", False), ("He scored 12 points.", False),
])
def test_a_sentence_that_says_when(sentence, says_when):
    from qa.answer import states_time

    assert states_time(sentence) is says_when


@pytest.mark.parametrize(("sentence", "placed"), [
    ("…toward the end of his life, he told a reporter …", True),
    ("Subject Committees are established at the beginning of each parliamentary session.", True),
    ("…as soon as they enter into force.", True),
    ("…voting against a resolution … in February 2025.", True),
    ("Defense Secretary Pete Hegseth has also ordered the suspension of offensive cyber operations.", False),
    ("These included legalizing the forward pass, the most significant rule change in the sport.", False),
])
def test_a_sentence_that_places_what_it_tells_in_time(sentence, placed):
    from qa.answer import places_in_time

    assert places_in_time(sentence) is placed


def test_how_many_and_how_much_ask_for_a_count():
    from qa.answer import asks_count

    assert asks_count("How many people died?") and asks_count("how much did it cost")
    assert not asks_count("How did the vote go?") and not asks_count("How long did it last?")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("He went home.", False), ('He said "no."', False), ("It ended (in 1999).", False), ("Why?", False),
     ("Russian–American relations", True), ("Envoy\nAmbassador Lynne M. Tracy", True)],
)
def test_a_title_or_a_field_is_a_fragment(text, fragment):
    from qa.answer import _is_fragment

    assert _is_fragment(text) is fragment


@pytest.mark.parametrize(("question", "spans"), [
    ("Who was president in 1995?", [(1995, 1995)]),
    ("Who led Russia in the 1990s?", [(1990, 1999)]),
    ("What changed after 2012?", [(2012, 9999)]),
    ("What happened before 1991?", [(0, 1990)]),
    ("What had changed by 1991?", [(0, 1991)]),
    ("Who ruled during 1991–1999?", [(1991, 1999)]),
    ("What happened in the 1990's?", [(1990, 1999)]),
    ("What happened in the 1800s?", [(1800, 1899)]),
    ("Which title did they win prior to 2000?", [(0, 1999)]),
    ("What happened since the 2010s?", [(2010, 9999)]),
    ("Who led Russia in the late 1990s?", [(1996, 1999)]),
    ("What happened in the early 1990s?", [(1990, 1993)]),
    ("Who was president in the mid-1990s?", [(1993, 1996)]),
    ("What happened in the late 1800s?", [(1866, 1899)]),
    ("What happened in late 1995?", [(1995, 1995)]),  # a part of a year is the year
    ("How much did the 1,500 tanks cost?", []),  # a number, not a year
    ("Who won?", []),
])
def test_the_years_a_question_asks_about(question, spans):
    from qa.answer import asked_years

    assert asked_years(question) == spans


@pytest.mark.parametrize(("sentence", "spans"), [
    ("under Russian president Boris Yeltsin (1991–99).", [(1991, 1999)]),
    ("from 1991-1999 and again in 2004", [(1991, 1999), (2004, 2004)]),
    ("in the 1980s, before the 2000 election", [(1980, 1989), (2000, 2000)]),
    ("International sanctions imposed since 2014", [(2014, 9999)]),
    ("It cost $1500 and 2,000 people came.", []),
    ("He served from 2000 to 2008.", [(2000, 2008)]),
    ("The economy boomed between 1995 and 2005.", [(1995, 2005)]),
    ("Pinky Harpo (2008–present) leads it.", [(2008, 9999)]),
    ("in office 1998–02", [(1998, 2002)]),
    ("on 2001-09-11, see /2015/05/", [(2001, 2001)]),
    ("the 2012-13 season", [(2012, 2013)]),
])
def test_the_years_a_sentence_states(sentence, spans):
    from qa.answer import _spans

    assert [(a, b) for a, b, _ in _spans(sentence, question=False)] == spans


@pytest.mark.parametrize(("question", "spans"), [
    ("Who succeeded Yeltsin?", [(2000, 2014)]),
    ("Who was Russia's president after Boris Yeltsin?", [(2000, 2014)]),
    ("Who was Yeltsin's successor?", [(2000, 2014)]),
    ("Who was the predecessor of Yeltsin?", [(1976, 1990)]),
    ("What happened before Yeltsin?", [(1976, 1990)]),
    ("Who came after Nixon?", []),  # "Richard Nixon (1913–1994)" is a lifetime, not a term
    ("Who came after Gorbachev?", []),  # "(born 1931)" is no term either
    ("After Yeltsin, who led Russia?", [(2000, 2014)]),
    ("Who came after Yeltsin.", [(2000, 2014)]),
    ("What happened after Yeltsin's resignation?", [(2000, 2014)]),
    ("Who came before Yeltsin and who came after Yeltsin?", [(1976, 1990), (2000, 2014)]),
    ("Who came after Bush?", []),  # no years beside the name
    ("Who succeeded him?", []),
    # Only a start year: it tells the time before the person, not after.
    ("Who was president before Putin?", [(1985, 1999)]),
    ("Who came after Putin?", []),
    ("Who came before Medvedev?", []),  # "became" too far from the year
])
def test_a_time_after_or_before_a_persons_term(question, spans):
    from qa.answer import times_relative_to_names

    texts = ["Putin met Yeltsin.", "The relationship was warm under Russian president Boris Yeltsin (1991–99).",
             "Richard Nixon (1913–1994) was a man.", "Mikhail Gorbachev (born 1931) led.",
             "Putin worked closely with George W. Bush.",
             "After Vladimir Putin became President of Russia in 2000, he sought better relations.",
             "Medvedev, whom few had heard of and who later became, after a long career in law and the civil service, president in 2008."]
    found, names = times_relative_to_names(question, texts)
    assert found == spans
    assert names == ({"Putin" if "Putin" in question else "Yeltsin"} if spans else set())


@pytest.mark.parametrize(("sentence", "about"), [
    ("During Yeltsin's second term, relations became more strained.", True),
    ("The 1999 NATO intervention in Kosovo was strongly opposed by Yeltsin.", True),  # 1999: his term
    ("Putin succeeded Yeltsin on 31 December 1999.", False),  # says who came after: the answer
    ("Putin became President in 2000, when Yeltsin had left.", False),  # a time after his term
    ("Putin worked closely with Bush.", False),  # not about Yeltsin
])
def test_a_sentence_about_the_term_a_question_asks_after(sentence, about):
    from qa.answer import _about_own_term, _spans

    assert _about_own_term(sentence, {"Yeltsin"}, [(2000, 2014)], _spans(sentence, question=False)) is about


@pytest.mark.parametrize(("sentences", "before", "times"), [
    (["…Boris Yeltsin (1991–99)."], False, ((2000, 2014), (2000, 9999))),
    (["…Boris Yeltsin (1991–99)."], True, ((1976, 1990), (0, 1990))),
    (["…in 1991.", "…in 2012."], False, ((2013, 2027), (2013, 9999))),
    (["Sanctions imposed since 2014 were expanded."], True, ((1999, 2013), (0, 2013))),  # from its start
    # Before the first time stated: "…since 1991, a continuation … since 1803".
    (["…in 1991, a continuation … since 1803."], True, ((1976, 1990), (0, 1990))),
    (["…in 1991, a continuation … since 1803."], False, ((1992, 2006), (1992, 9999))),
    (["No year here."], False, ()),
    ([], True, ()),
])
def test_the_time_after_or_before_what_an_answer_quoted(sentences, before, times):
    from qa.answer import time_after_or_before

    assert time_after_or_before(sentences, before) == times


def test_the_sentences_of_a_time_and_how_far_from_it():
    from qa.answer import _of_time

    passages = [["Putin became President in 2000.", "He worked with Bush.", "In 2012 he was re-elected."],
                ["It began in 1991.", "It went on."],
                ["The relationship dates from 1803."]]
    after = ((2000, 2014), (2000, 9999))
    # Stated in the window, or following such a sentence in its passage; distance from 2000.
    assert _of_time(passages, after) == {(0, 0): 0, (0, 1): 0, (0, 2): 12}
    before = ((1976, 1990), (0, 1990))
    # Nothing in 1976–1990: any earlier year, nearest to 1990 first.
    assert _of_time(passages, before) == {(2, 0): 187}
    assert _of_time(passages, ((2030, 2044), (2030, 9999))) == {}
    assert _of_time([], after) == {}


def test_what_follows_the_last_answer_in_its_passage_comes_next_in_the_story():
    from qa.answer import _of_time

    passages = [["Relations were strained in 2012.", "Deterioration continued in Syria.", "It got worse.",
                 "Sanctions imposed since 2014 grew."],
                ["Yeltsin led Russia (1991–99).", "Relations were warm.", "They cooled later."]]
    after_2012 = ((2013, 2027), (2013, 9999))
    # After the sentence quoted, the ones stating no time, up to the next that states one.
    assert _of_time(passages, after_2012, after={"Relations were strained in 2012."}) == {(0, 1): 0, (0, 2): 0}
    # Those already told are no news; what follows them still is.
    told = {"Relations were strained in 2012.", "Deterioration continued in Syria."}
    assert _of_time(passages, after_2012, after=told) == {(0, 2): 0}
    # A quoted sentence further on ends the story step: what lay between is not after it.
    both = {"Relations were strained in 2012.", "It got worse."}
    assert _of_time(passages, after_2012, after=both) == {(0, 3): 1}
    # A term ("1991–99") goes on within it: its next sentences are no later; the years decide.
    after_1999 = ((2000, 2014), (2000, 9999))
    assert _of_time(passages, after_1999, after={"Yeltsin led Russia (1991–99)."}) == {(0, 0): 12, (0, 1): 12,
                                                                                      (0, 2): 12, (0, 3): 14}
    # "And before that?" looks back by the years alone.
    before_2012 = ((1997, 2011), (0, 2011))
    assert _of_time(passages, before_2012, after={"Relations were strained in 2012."}) == _of_time(passages,
                                                                                                   before_2012)


def test_a_single_year_may_start_what_a_sentence_describes():
    from qa.answer import _outside as outside_spans
    from qa.answer import _spans

    def _outside(asked, sentence):
        return outside_spans(asked, _spans(sentence, question=False))

    became = "After Vladimir Putin became President of Russia in 2000, he sought better relations."
    assert _outside([(2005, 2005)], became) is False  # still president in 2005
    assert _outside([(1995, 1995)], became) is True  # not yet in 1995
    assert _outside([(2005, 2005)], "under Boris Yeltsin (1991–99)") is True
    # A year inside a range of the same sentence is bounded by it.
    assert _outside([(2005, 2005)], "After 1991, under Boris Yeltsin (1991–99), it was warm.") is True
    assert _outside([(2005, 2005)], "It has no year.") is None


def test_a_date_written_short_says_when():
    from qa.answer import states_time

    assert states_time("It began on Feb 24.") and states_time("It began on February 24.")
    assert not states_time("It began.")


@pytest.mark.parametrize(
    ("asked", "stripped"),
    [
        ("hey bot, who's the ambassador?", "who's the ambassador?"),
        ("Hi there! When did Putin become president?", "When did Putin become president?"),
        ("um, why did yeltsin oppose kosovo", "why did yeltsin oppose kosovo"),
        ("Question: who expanded the sanctions?", "Who expanded the sanctions?"),
        ("Well, who is Tracy?", "Who is Tracy?"),
        ("Hey, iPhone sales in Russia?", "iPhone sales in Russia?"),  # not "IPhone"
        ("who is the ambassador, please?", "who is the ambassador?"),
        ("what's the deal with syria", "what happened with syria"),
        ("whats the deal with syria", "what happened with syria"),
        ("how would u describe ties with russian govts", "how would you describe ties with russian governments"),
        ("wat happend after the soviet union broke up", "what happend after the soviet union broke up"),
        # An indirect question is the question in it.
        ("do you know who Hegseth is?", "who is Hegseth?"), ("u know who Hegseth is?", "who is Hegseth?"),
        ("Can you tell me when Putin became president?", "When Putin became president?"),
        ("Do you know the way?", "Do you know the way?"),
        ("Where do u.s. troops stand?", "Where do u.s. troops stand?"),  # "u." is no "you"
        ("what happened in 300 bc?", "what happened in 300 bc?"),  # a date, not "because"
        ("So are relations better now?", "So are relations better now?"),  # "so" marks a follow-up
        ("ok but what about russia's?", "but what about russia's?"),  # "but" marks a follow-up
        # A new topic announced is no part of it.
        ("ok switching topics — what did hegseth order?", "what did hegseth order?"),
        ("different topic: what interests do the two countries share?", "what interests do the two countries share?"),
        ("On another note, who is the ambassador?", "Who is the ambassador?"),
        ("What is the other subject?", "What is the other subject?"),
        ("now what?", "now what?"),
        # Unchanged: too little left, or no chat at all.
        ("hey bot", "hey bot"),
        ("So what?", "So what?"),
        ("Well water quality?", "Well water quality?"),
        ("What issues may members vote on as they please?", "What issues may members vote on as they please?"),
    ],
)
def test_the_chat_around_a_question_is_dropped(asked, stripped):
    assert strip_chatter(asked) == stripped


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("Why did Yeltsin oppose it?", True),
        ("How come they fell out?", True),
        ("What triggered it?", True),
        ("What event triggered it?", True),
        ("What factors led to the sanctions?", True),
        ("What was the reason for the vote?", True),
        ("What made it worse?", True),
        ("What did the sanctions target?", False),
        ("What is a database trigger?", False),
        ("What events happened in 2014?", False),
        ("What made up the coalition?", False),
        ("What decisions made the news?", False),  # a noun before "made": no cause asked
    ],
)
def test_a_why_question_asks_for_a_cause(question, why):
    assert asks_why(question) is why


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Relations were strained due to Russia's annexation of Crimea.", True),
        ("Yeltsin saw it as an infringement on Russia's latter-day sphere of influence.", True),
        ("Relations further deteriorated during the presidency of Joe Biden following the Russian invasion of Ukraine in 2022.", True),
        # A sentence's opening "Following …" dates it.
        ("Following Putin's re-election to the Russian presidency in 2012, he visited Paris.", False),
        ("Relations deteriorated, following the invasion.", True),
        ("In the years following the war, trade grew.", False),
        ("Defense Secretary Pete Hegseth has also ordered the suspension of offensive cyber operations.", False),
    ],
)
def test_a_sentence_gives_a_reason(sentence, reason):
    assert gives_reason(sentence) is reason


@pytest.mark.parametrize(
    ("question", "sentence", "elses"),
    [
        ("And under Trump's second term?", "During Yeltsin's second term, relations became more strained.", True),
        ("What happened in Trump's presidency?", "Relations deteriorated during the presidency of Joe Biden.", True),
        # The question's person is named: the sentence is about them.
        ("And under Trump's second term?", "During the second presidency of Donald Trump, the US moved.", False),
        ("What was Trump's second term like?", "Trump's second term began in 2025.", False),
        # The thing ends at a function word: "position", not "position on".
        ("What was Yeltsin's position on Kosovo?", "Putin's position was firm.", True),
        # Another thing, and a contraction ("What's"), are no one's.
        ("What was Yeltsin's position?", "Putin's term began in 2000.", False),
        ("What's the second term?", "Yeltsin's second term was strained.", False),
    ],
)
def test_a_possessive_asks_about_that_person(question, sentence, elses):
    assert owned_by_someone_else(question, sentence) is elses


def test_only_the_names_given_are_judged():
    # A misspelt name or an acronym may be the sentence's own person, written otherwise.
    question, sentence = "Who was on Celeron's expedition?", "Céloron's expedition force consisted of 200 men."
    assert owned_by_someone_else(question, sentence)
    assert not owned_by_someone_else(question, sentence, names=set())


def test_a_name_typed_in_lower_case_is_judged_when_given():
    question = "and in putin's early years?"
    yeltsin = "In the early years of Yeltsin's presidency, the two countries worked closely together."
    assert not owned_by_someone_else(question, yeltsin)  # "putin" alone may be any word
    assert owned_by_someone_else(question, yeltsin, names={"putin"})
    assert not owned_by_someone_else(question, "In the early years of Putin's rule, ties improved.", names={"putin"})


def test_a_lower_case_possessive_is_a_name_where_the_passages_write_one(seed_engine):
    from qa.answer import _owners

    texts_of = [["After Vladimir Putin became President of Russia in 2000, he sought better relations."],
                ["The country's early years were hard."]]
    index = seed_engine.index()
    assert _owners(index, "and in putin's early years?", texts_of) == {"putin"}
    assert _owners(index, "and in the country's early years?", texts_of) == set()


def test_a_sentence_naming_no_one_carries_the_names_its_passage_last_gave():
    from qa.answer import _carried_names
    from qa.keyword import tokenize

    texts = ["After Vladimir Putin became President of Russia in 2000, he sought better relations.",
             "The two countries cooperated on issues such as counterterrorism and arms control.",
             "They also worked on space.",
             "Later Bush visited Moscow.",
             "It was a short visit."]
    carried = _carried_names(texts, [set(t) for t in tokenize(texts)])
    assert {"putin", "vladimir", "russia"} <= carried[1] and carried[1] == carried[2]
    assert carried[0] == set() and carried[3] == set()  # names of their own
    assert carried[4] == {"bush", "moscow"}  # the latest names, not the first sentence's
    # A passage that opens without names has none to carry.
    assert _carried_names(["It rained.", "The roads flooded."], [{"rain"}, {"road", "flood"}]) == [set(), set()]


@pytest.mark.parametrize(("question", "asks"), [
    ("Who did they target?", True), ("who was targeted?", True), ("who got hit", True),
    ("And what did he sign?", True),
    # A verb of the article finds its sentence by its words; more than a verb is a question of its own.
    ("Who expanded them?", False), ("What did he order?", False),
    ("Who did they target in 2014?", False), ("Who is Lynne Tracy?", False),
])
def test_a_follow_up_asking_who_of_the_last_answer(seed_engine, question, asks):
    from qa.answer import asks_who_of_last

    assert asks_who_of_last(seed_engine.index(), question) is asks


@pytest.mark.parametrize(("question", "name"), [
    ("Who was Russia's ambassador to the US before Alexander Darchiev?", "Darchiev"),
    ("who was president before putin", "putin"), ("Who succeeded Yeltsin?", "Yeltsin"),
    ("Who did Putin work with after 9/11?", None), ("What happened before Putin?", None),
])
def test_a_question_asking_who_came_before_or_after_someone(question, name):
    from qa.answer import asks_who_came_next_to

    assert asks_who_came_next_to(question) == name


SANCTIONS = ("International sanctions imposed since 2014 were significantly expanded by the U.S. and its allies, "
             "including several state-owned banks and oligarchs.")


@pytest.mark.parametrize(("question", "sentence", "none"), [
    ("Which state-owned banks were sanctioned?", SANCTIONS, True),
    ("which specific state-owned Russian banks were sanctioned", SANCTIONS, True),
    # It asks no names, or only the sentence's own words answer it.
    ("What did the sanctions target?", SANCTIONS, False), ("Which banks were sanctioned?", SANCTIONS, False),
    ("What are state-owned banks?", SANCTIONS, False),
    # Named after the description, or a second mention is the answer.
    ("Which member states joined?", "Several member states joined, France and Spain first.", False),
    ("Which coastal areas flooded?", "Some coastal areas flooded; the lowest coastal areas worst.", False),
])
def test_a_which_question_the_sentence_answers_only_with_several(question, sentence, none):
    from qa.answer import names_none_of

    assert names_none_of(question, sentence) is none


SINCE_1803 = ("The United States and the Russia have had diplomatic relations since the establishment of the latter "
              "country in 1991, a continuation of the relationship the United States has had with various Russian "
              "governments since 1803.")


@pytest.mark.parametrize(("question", "sentence", "since"), [
    ("What treaty did the US and Russia sign in 1803?", SINCE_1803, True),
    ("What specific event in 1803 started relations between the US and Russia?", SINCE_1803, True),
    ("who was the first us minister to russia back in 1803", SINCE_1803, True),
    # The span itself is asked, or what it says is the answer.
    ("Since when has the US had relations with Russian governments?", SINCE_1803, False),
    ("Who has had relations with Russian governments since 1803?", SINCE_1803, False),
    ("What relationship did the US have with Russian governments in 1803?", SINCE_1803, False),
    ("What happened in 1803?", SINCE_1803, False),
    ("What sanctions were imposed in 2014?", "International sanctions imposed since 2014 were expanded.", False),
    # The year stands in the sentence as a point too.
    ("What treaty was signed in 1803?", "A treaty was signed in 1803, and trade has grown since 1803.", False),
    ("Which port opened in 1803?", "Trade has grown since 1803.", True),
    ("Which port opened in 1804?", "Trade has grown since 1803.", False),
])
def test_a_year_held_only_as_a_start_names_no_thing_of_that_year(question, sentence, since):
    from qa.answer import only_since

    assert only_since(question, sentence) is since


REELECTION = ("Following Putin's re-election to the Russian presidency in 2012, relations between the two countries "
              "were significantly strained.")


@pytest.mark.parametrize(("question", "sentence", "after"), [
    ("Who was Russia's president between 2008 and 2012?", REELECTION, True),
    ("who ran russia from 2008 to 2012", REELECTION, True),
    ("Who was Russia's president between 2010 and 2011?", REELECTION, True),  # after it
    # What began at the span's start held it; a span overlapping it may have.
    ("Who led Russia from 2012 to 2018?", REELECTION, False),
    ("Who was president between 1995 and 1998?", "Boris Yeltsin (1991–99) led Russia.", False),
    # No range as written (a decade), no "who", no time in the sentence.
    ("Who recorded it in the 1970s?", "It served up to season 17 (1979–80).", False),
    ("What happened between 2008 and 2012?", REELECTION, False),
    ("Who was president between 2008 and 2012?", "Relations were strained.", False),
])
def test_what_began_at_the_end_of_a_span_is_not_who_held_it(question, sentence, after):
    from qa.answer import begins_at_its_end

    assert begins_at_its_end(question, sentence) is after


KOSOVO = "The NATO intervention in Yugoslavia, in particular, the 1999 NATO intervention in Kosovo, was strongly opposed by Yeltsin."
YELTSIN = ("After the dissolution of the Soviet Union in 1991, the relationship was generally warm under Russian "
           "president Boris Yeltsin (1991–99).")


@pytest.mark.parametrize(("question", "sentence", "other"), [
    ("Who was the US president during the 1999 Kosovo intervention?", KOSOVO, True),  # no president at all
    ("who was the us president during the yeltsin years", YELTSIN, True),  # another country's
    ("Which American president was in office then?", YELTSIN, True),
    ("Who was Russia's president in the 1990s?", YELTSIN, False),
    ("Who was president in 1995?", YELTSIN, False),  # no country asked: the office is there
    ("Which US president did Putin work with?", "Putin worked closely with United States president George W. Bush.", False),
    # A title before a name is no country; the office by its term counts.
    ("Who is the US ambassador to Russia?", "Envoy\nAmbassador Alexander DarchievAmbassador Lynne M. Tracy", False),
    ("Who was US president then?", "Relations further deteriorated during the presidency of Joe Biden.", False),
    ("What did the president say?", KOSOVO, False),  # not asked who
])
def test_a_who_question_about_an_office_the_sentence_does_not_fill(question, sentence, other):
    from qa.answer import office_of_someone_else

    assert office_of_someone_else(question, sentence) is other


def test_a_when_question_answered_by_a_time_of_day(corpus, embedder):
    from .conftest import make_settings

    (corpus / "source_docs" / "store.txt").write_text(
        "The store opens at 9:00 and closes at 17:30. The weekly staff meeting starts at 3 pm.\n", "utf-8")
    engine = Engine(make_settings(corpus))
    engine.build()
    opens = engine.ask("When does the store open?")
    assert opens.answered and "9:00" in opens.answer
    meeting = engine.ask("When does the staff meeting start?")
    assert meeting.answered and "3 pm" in meeting.answer


def test_a_title_is_never_quoted_beside_a_field(seed_engine):
    # The infobox's title holds "American", the embassy field "Moscow": only the field answers.
    answer = seed_engine.ask("Who represents America in Moscow?")
    assert answer.answered and "Embassy of the United States, Moscow" in answer.answer
    assert "Russian–American relations" not in answer.answer


def test_an_indirect_question_is_answered_as_the_direct_one(seed_engine):
    direct = seed_engine.ask("who is hegseth?")
    assert direct.answered and "Pete Hegseth" in direct.answer
    for indirect in ("do you know who Hegseth is?", "u know who Hegseth is?"):
        assert seed_engine.ask(indirect).answer == direct.answer
