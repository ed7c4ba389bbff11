"""Retrieval: fusion variants, the sentence-level rerank, dedup, parameters from settings."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieval import Query, RetrievalParams, _best_two, _minmax, _pair_codes, retrieve
from qa.settings import Settings


def _query(engine, text: str) -> list[Query]:
    return [Query(text, engine.encode_queries([text])[0])]


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
    for h in hits:
        n = int(seed_engine.index().chunks[h.row]["last"]) - int(seed_engine.index().chunks[h.row]["first"]) + 1
        assert len(h.sentence_rows) == len(h.sentence_scores) == len(h.sentence_overlap) == len(h.sentence_pairs) == n
        assert np.all((h.sentence_overlap >= 0) & (h.sentence_overlap <= 1 + 1e-9))
        assert np.all((h.sentence_pairs >= 0) & (h.sentence_pairs <= 1 + 1e-9))
    best = hits[0]
    top = int(best.sentence_rows[int(np.argmax(best.sentence_overlap))])
    assert "Kosovo" in seed_engine.index().sentence_text(top)


def test_hits_are_distinct_passages(seed_engine):
    hits = retrieve(seed_engine.index(), _query(seed_engine, "relations between Russia and the United States"), 10)
    for i, a in enumerate(hits):
        for b in hits[:i]:
            shared = len(set(a.sentence_rows.tolist()) & set(b.sentence_rows.tolist()))
            assert shared * 2 <= len(a.sentence_rows)
    assert len({h.row for h in hits}) == len(hits)


def test_follow_up_queries_are_weighted(seed_engine):
    index = seed_engine.index()
    texts = ["What did he oppose?", "What did he oppose? Yeltsin 1999 Kosovo"]
    vectors = seed_engine.encode_queries(texts)
    hits = retrieve(index, [Query(texts[0], vectors[0], 0.4), Query(texts[1], vectors[1], 0.6)], 3)
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


def test_bad_fusion_setting_is_a_usage_error():
    from qa.errors import UsageError

    with pytest.raises(UsageError):
        Settings.from_env({"QA_FUSION": "max"})


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
    # Pairs skip unknown tokens (-1) and repeat once.
    codes = _pair_codes(np.array([1, 2, -1, 3, 1, 2]), 10)
    assert codes.tolist() == [12, 31]
