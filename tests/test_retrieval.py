"""Retrieval: fusion variants, the sentence-level rerank, dedup, parameters from settings."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieval import (
    Hit,
    Query,
    RetrievalParams,
    _best_two,
    _dedup,
    _local_idf,
    _minmax,
    _pair_codes,
    retrieve,
    span,
)
from qa.settings import Settings


def _query(engine, text: str) -> list[Query]:
    # As Engine.ask builds it: the vector and the word pieces for the late-interaction rerank.
    [(vector, tokens)] = engine.encode_for(engine.index(), [text])
    return [Query(text, vector, 1.0, tokens)]


def _hit_text(engine, hit) -> str:
    return " ".join(engine.index().chunk_text(hit.row).split())


@pytest.mark.parametrize(
    "params",
    [
        RetrievalParams(),
        RetrievalParams(dense_weight=0.0, sentence_weight=0.0),  # BM25 alone
        RetrievalParams(dense_weight=1.0, sentence_weight=0.0),  # dense alone
        RetrievalParams(sentence_weight=0.0),  # fusion without rerank
        RetrievalParams(fusion="rrf"),
    ],
    ids=["default", "bm25", "dense", "fusion", "rrf"],
)
def test_every_variant_finds_the_ambassador(seed_engine, params):
    hits = retrieve(seed_engine.index(), _query(seed_engine, "Who is the US ambassador to Russia?"), 5, params)
    assert 1 <= len(hits) <= 5
    assert any("Lynne M. Tracy" in _hit_text(seed_engine, h) for h in hits[:3])
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_hits_carry_sentence_features(seed_engine):
    hits = retrieve(seed_engine.index(), _query(seed_engine, "Which 1999 intervention did Yeltsin oppose?"), 5)
    chunks = seed_engine.index().chunks
    for h in hits:
        own = {s for r in h.rows for s in range(int(chunks[r]["first"]), int(chunks[r]["last"]) + 1)}
        assert h.sentence_rows.tolist() == sorted(own)
        assert len(h.sentence_rows) == len(h.sentence_scores) == len(h.sentence_overlap) == len(h.sentence_pairs)
        assert np.all((h.sentence_overlap >= 0) & (h.sentence_overlap <= 1 + 1e-9))
        assert np.all((h.sentence_pairs >= 0) & (h.sentence_pairs <= 1 + 1e-9))
    best = hits[0]
    top = int(best.sentence_rows[int(np.argmax(best.sentence_overlap))])
    assert "Kosovo" in seed_engine.index().sentence_text(top)


@pytest.mark.parametrize("max_merged", [3, 1])
def test_hits_are_distinct_passages(seed_engine, max_merged):
    params = RetrievalParams(max_merged_chunks=max_merged)
    hits = retrieve(seed_engine.index(), _query(seed_engine, "relations between Russia and the United States"), 10, params)
    for i, a in enumerate(hits):
        for b in hits[:i]:
            shared = len(set(a.sentence_rows.tolist()) & set(b.sentence_rows.tolist()))
            # At most the designed overlap. (The seed article's paragraphs are short: its chunks
            # overlap only inside a long paragraph, see test_retrieval_merges_...)
            assert shared * 2 <= len(a.sentence_rows)
    assert len({r for h in hits for r in h.rows}) == sum(len(h.rows) for h in hits)


@pytest.fixture(scope="module")
def long_engine(tmp_path_factory, embedder):
    """An engine over one long paragraph (several overlapping chunks) and one short document."""
    from qa.engine import Engine
    from .conftest import make_settings

    tmp = tmp_path_factory.mktemp("long")
    docs = tmp / "source_docs"
    docs.mkdir()
    sentences = [f"The survey of station {i} found {i * 7} birds of {i + 2} species near the river bank in spring."
                 for i in range(40)]
    (docs / "survey.txt").write_text(" ".join(sentences) + "\n", "utf-8")
    (docs / "other.txt").write_text("Bread is baked from flour, water and yeast.\n", "utf-8")
    engine = Engine(make_settings(tmp))
    engine.build()
    return engine


_TOPICS = [
    "Oxygen is a chemical element with symbol O and atomic number 8. It is a highly reactive nonmetal.",
    "Oxygen makes up almost half of the Earth's crust in the form of oxides.",
    "Liquid oxygen is pale blue and is used as an oxidiser in rocket engines.",
    "Bread is baked from flour, water and yeast; the dough rises before it goes into the oven.",
    "The Danube flows through ten countries before it reaches the Black Sea.",
    "A pharmacist dispenses medicines and advises patients on their safe use.",
    "Chess is played on a board of sixty-four squares by two players.",
    "The climate panel publishes assessment reports on the state of scientific knowledge.",
    "What is a noun? A noun is a word that names a person, a place or a thing.",
    "What is a comet? A comet is an icy body that releases gas when it passes close to the Sun.",
    "What is an atom? An atom is the smallest unit of ordinary matter.",
    "What is an anagram? An anagram is a word formed by rearranging the letters of another.",
    # The rare word stands once in a long passage about other things.
    "After the raid the family moved its herds north along the river. Supplies ran short during the "
    "long winter, and several households left the camp to join other clans. The following spring the "
    "young leader rode south with nine companions, recovered the stolen horses and returned before the "
    "summer pastures opened. He later renewed his anda with the boy from the neighbouring camp. Over "
    "the next decade the alliance between the two camps grew into a federation of many tribes.",
]


@pytest.fixture(scope="module")
def topics_engine(tmp_path_factory, embedder):
    """An engine over short documents on unrelated topics, one of them using a rare word."""
    from qa.engine import Engine
    from .conftest import make_settings

    tmp = tmp_path_factory.mktemp("topics")
    docs = tmp / "source_docs"
    docs.mkdir()
    for i, text in enumerate(_TOPICS):
        (docs / f"topic{i}.txt").write_text(text + "\n", "utf-8")
    engine = Engine(make_settings(tmp))
    engine.build()
    return engine


def test_close_cosines_are_not_stretched_to_outvote_a_bm25_match(topics_engine):
    # The model knows little of "anda": every passage is about as far from the question, and
    # stretching those cosines to 0..1 would let noise count as much as the one BM25 match (on
    # SQuAD, "What is an anda?" lost its paragraph, cosine 0.006, out of the reranked 30).
    index = topics_engine.index()
    query = _query(topics_engine, "What is an anda?")
    # The rerank, which can rescue a passage, sees the fused ranking's best few only (30 of a
    # large corpus' 100 candidates); with a dozen documents here, the best 3.
    hits = retrieve(index, query, 3, RetrievalParams(rerank_depth=3))
    assert "renewed his anda" in _hit_text(topics_engine, hits[0])
    assert hits[0].keyword == 1.0 and max(h.dense for h in hits) - min(h.dense for h in hits) < 0.4
    stretched = retrieve(index, query, 3, RetrievalParams(rerank_depth=3, dense_min_spread=0.0))
    assert [h.row for h in stretched] == [h.row for h in hits]
    # Without the minimum spread the passages without the word gain on it.
    assert stretched[1].score / stretched[0].score > hits[1].score / hits[0].score + 0.02


def _overlapping_chunks(index) -> tuple[int, int]:
    chunks = index.chunks
    for a in range(len(chunks) - 1):
        if chunks[a]["doc"] == chunks[a + 1]["doc"] and chunks[a + 1]["first"] <= chunks[a]["last"]:
            return a, a + 1
    raise AssertionError("no overlapping chunks")


def _fake_hit(index, row: int, score: float) -> Hit:
    first, last = int(index.chunks[row]["first"]), int(index.chunks[row]["last"])
    rows = np.arange(first, last + 1)
    values = np.linspace(0.1, 0.5, len(rows)) + row  # tells the two chunks' values apart
    return Hit(row, score, 0.5, 0.5, rows, values, values / 10, values / 100)


def test_overlapping_chunks_of_a_document_merge_into_one_hit(long_engine):
    index = long_engine.index()
    a, b = _overlapping_chunks(index)
    hits = [_fake_hit(index, b, 0.9), _fake_hit(index, a, 0.8)]
    merged = _dedup(index, hits, 5, 0.999)
    assert len(merged) == 1 and merged[0].rows == (b, a) and merged[0].score == 0.9
    rows = merged[0].sentence_rows.tolist()
    assert rows == list(range(int(index.chunks[a]["first"]), int(index.chunks[b]["last"]) + 1))
    # Every sentence keeps its own scores; the shared one keeps the better hit's.
    for r, value in zip(rows, merged[0].sentence_scores.tolist(), strict=True):
        own = hits[0] if r >= int(index.chunks[b]["first"]) else hits[1]
        assert value == own.sentence_scores[own.sentence_rows.tolist().index(r)]
    start, end, start_line, end_line = span(index, merged[0])
    assert (start, end) == (int(index.chunks[a]["start"]), int(index.chunks[b]["end"]))
    assert (start_line, end_line) == (int(index.chunks[a]["start_line"]), int(index.chunks[b]["end_line"]))
    # Without merging both stay (they share only the designed one-sentence overlap).
    assert [h.row for h in _dedup(index, hits, 5, 0.999, max_merged=1)] == [b, a]


def test_a_merged_hit_is_cited_as_the_whole_passage(long_engine):
    from qa.answer import AnswerParams, compose

    index = long_engine.index()
    a, b = _overlapping_chunks(index)
    hit = _dedup(index, [_fake_hit(index, a, 0.9), _fake_hit(index, b, 0.8)], 5, 0.999)[0]
    answer = compose(index, "q", "q", [hit], "docs", AnswerParams(threshold=0.0))
    citation = answer.citations[0]
    doc_text = index.document_text(int(index.chunks[a]["doc"]))
    assert citation.text == doc_text[int(index.chunks[a]["start"]) : int(index.chunks[b]["end"])]
    # The quoted sentence comes from the later chunk (its values are higher) and is highlighted there.
    (s, e), quoted = citation.highlights[0], answer.sentences[0].text
    assert " ".join(citation.text[s:e].split()) == quoted
    assert int(hit.sentence_rows[int(np.argmax(hit.sentence_scores))]) > int(index.chunks[a]["last"])


def test_questions_lose_their_function_words():
    from qa.keyword import query_tokens, tokenize

    assert tokenize(["How many patents did Tesla hold?"])[0] == ["how", "mani", "patent", "did", "tesla", "hold"]
    assert query_tokens("How many patents did Tesla hold?", "nltk") == ("mani", "patent", "tesla", "hold")  # NLTK keeps "many"
    assert query_tokens("What was the name of the company where he worked?", "nltk") == ("name", "compani", "work")
    # The default list keeps what carries meaning in a question: manner, place, negation, order, "won".
    assert query_tokens("How many patents did Tesla hold?") == ("how", "mani", "patent", "tesla", "hold")
    assert query_tokens("What was the name of the company where he worked?") == ("name", "compani", "where", "work")
    assert query_tokens("Who won the game before the final?") == ("won", "game", "befor", "final")
    assert query_tokens("Why did they not turn it off?") == ("whi", "turn", "off")  # "not": the index drops it
    assert list(query_tokens("How many patents did Tesla hold?", "bm25s")) == tokenize(["How many patents did Tesla hold?"])[0]


def test_a_word_the_documents_never_use_is_matched_to_the_one_they_do(seed_engine):
    keyword = seed_engine.index().keyword
    # "Syria" is not in the article, "Syrian" is (one edit); a misspelling likewise.
    assert keyword.known_tokens("What did Russia do in Syria?") == ("russia", "syrian")
    assert keyword.known_tokens("Who is Lynne Trasy?") == ("lynn", "traci")
    # Two swapped letters are one edit ("Yelstin": two for Levenshtein).
    assert keyword.known_tokens("What did Yelstin oppose?") == ("yeltsin", "oppos")
    # Short words, numbers and words far from every indexed one stay as asked.
    assert keyword.known_tokens("What happened in 2019 to the shop?") == ("happen", "2019", "shop")
    assert keyword.known_tokens("What did Obama do?") == ("obama",)
    hits = retrieve(seed_engine.index(), _query(seed_engine, "What did Russia do in Syria?"), 3)
    best = hits[0].sentence_rows[int(np.argmax(hits[0].sentence_overlap))]
    assert "Syrian Civil War" in seed_engine.index().sentence_text(int(best))


def test_local_idf_weighs_words_that_separate_the_passages():
    # Word 7 is in all three passages, word 9 in one, word 4 in none.
    terms = np.array([7, 9, 7, 7, 7])
    passage = np.array([0, 0, 1, 1, 2])  # word 7 twice in passage 1 counts once
    idf = _local_idf(np.array([7, 9, 4]), terms, passage, 3)
    expected = np.log1p((3 - np.array([3, 1, 0]) + 0.5) / (np.array([3, 1, 0]) + 0.5))
    assert np.allclose(idf, expected)
    assert idf[0] < idf[1] < idf[2]


def test_local_idf_changes_the_overlap_only(seed_engine):
    index, query = seed_engine.index(), _query(seed_engine, "Which 1999 intervention did Yeltsin oppose?")
    local = retrieve(index, query, 5)
    plain = retrieve(index, query, 5, RetrievalParams(overlap_idf="global"))
    by_row = {h.row: h for h in plain}
    for h in local:
        if h.row in by_row and h.rows == by_row[h.row].rows:
            assert np.allclose(h.sentence_scores, by_row[h.row].sentence_scores)
            assert np.all((h.sentence_overlap >= 0) & (h.sentence_overlap <= 1 + 1e-9))


def test_follow_up_queries_are_weighted(seed_engine):
    index = seed_engine.index()
    texts = ["What did he oppose?", "What did he oppose? Yeltsin 1999 Kosovo"]
    (v0, t0), (v1, t1) = seed_engine.encode_for(index, texts)
    hits = retrieve(index, [Query(texts[0], v0, 0.4, t0), Query(texts[1], v1, 0.6, t1)], 3)
    assert any("Kosovo" in _hit_text(seed_engine, h) for h in hits)


def test_empty_and_odd_inputs(seed_engine):
    index = seed_engine.index()
    assert retrieve(index, [], 5) == []
    assert retrieve(index, _query(seed_engine, "ambassador"), 0) == []
    # Only stop words: no BM25 candidate at all, dense still answers.
    hits = retrieve(index, _query(seed_engine, "the of and"), 3)
    assert 1 <= len(hits) <= 3


def test_params_come_from_settings():
    settings = Settings(dense_weight=0.2, sentence_weight=0.1, fusion="rrf", rerank_depth=7, phrase_weight=0.5)
    params = RetrievalParams.from_settings(settings)
    assert (params.dense_weight, params.sentence_weight, params.fusion, params.rerank_depth, params.phrase_weight) == (
        0.2, 0.1, "rrf", 7, 0.5)
    # Defaults agree, so Engine.ask (which passes only the first three) ranks like `qa eval`.
    assert RetrievalParams.from_settings(Settings()) == RetrievalParams()
    env = Settings.from_env({"QA_OVERLAP_IDF": "global", "QA_QUERY_STOPWORDS": "bm25s", "QA_MAX_MERGED_CHUNKS": "1",
                             "QA_DENSE_MIN_SPREAD": "0"})
    params = RetrievalParams.from_settings(env)
    assert (params.overlap_idf, params.query_stopwords, params.max_merged_chunks, params.dense_min_spread) == (
        "global", "bm25s", 1, 0.0)


def test_bad_fusion_setting_is_a_usage_error():
    from qa.errors import UsageError

    with pytest.raises(UsageError):
        Settings.from_env({"QA_FUSION": "max"})
    for name, value in (("QA_OVERLAP_IDF", "bm25"), ("QA_QUERY_STOPWORDS", "all"), ("QA_MAX_MERGED_CHUNKS", "0"),
                        ("QA_DENSE_MIN_SPREAD", "-0.1")):
        with pytest.raises(UsageError):
            Settings.from_env({name: value})


def test_best_two_per_group():
    values = np.array([0.1, 0.5, 0.5, 0.3, 0.9, 0.2])
    offsets = np.array([0, 3, 4, 6])  # groups [0.1 0.5 0.5] [0.3] [0.9 0.2]
    owner = np.repeat(np.arange(3), np.diff(offsets))
    best, second = _best_two(values, owner, offsets, 3)
    assert best.tolist() == [0.5, 0.3, 0.9]
    assert second.tolist() == [0.5, 0.0, 0.2]


def test_minmax_and_pairs():
    assert _minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert _minmax(np.array([1.0, 1.0])).tolist() == [1.0, 1.0]
    assert _minmax(np.array([0.0, 0.0]), empty=0.0).tolist() == [0.0, 0.0]
    # A spread below the minimum is not stretched: the best of close values stays below 1.
    assert _minmax(np.array([0.1, 0.2, 0.3]), spread=0.4).tolist() == pytest.approx([0.0, 0.25, 0.5])
    assert _minmax(np.array([0.1, 0.9]), spread=0.4).tolist() == pytest.approx([0.0, 1.0])
    assert _minmax(np.array([0.3]), spread=0.4).tolist() == [1.0]  # nothing to rank by, as without it
    # Pairs skip unknown tokens (-1) and repeat once.
    codes = _pair_codes(np.array([1, 2, -1, 3, 1, 2]), 10)
    assert codes.tolist() == [12, 31]


def test_retrieval_merges_the_chunks_of_a_long_paragraph(long_engine):
    index = long_engine.index()
    query = _query(long_engine, "How many birds did the survey of station 12 find?")
    plain = retrieve(index, query, 5, RetrievalParams(max_merged_chunks=1))
    for max_merged in (2, 3, 10):
        merged = retrieve(index, query, 5, RetrievalParams(max_merged_chunks=max_merged))
        rows = [r for h in merged for r in h.rows]
        assert len(rows) == len(set(rows)) and max(len(h.rows) for h in merged) <= max_merged
        assert any(len(h.rows) > 1 for h in merged)
        for i, a in enumerate(merged):
            for b in merged[:i]:  # merged or not, at most the designed one-sentence overlap
                assert len(set(a.sentence_rows.tolist()) & set(b.sentence_rows.tolist())) <= 1
        # The best passage comes first either way; merging only frees places in the list.
        assert merged[0].row == plain[0].row
        assert "station 12 found 84 birds" in " ".join(index.sentence_text(int(r)) for r in merged[0].sentence_rows)
    # Without a cap the long paragraph is one hit.
    assert len(retrieve(index, query, 5, RetrievalParams(max_merged_chunks=100))[0].rows) == len(index.chunks) - 1
