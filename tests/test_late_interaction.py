"""Late interaction: token vectors kept per chunk, quantised, and the MaxSim rerank over them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa.engine import Engine
from qa.errors import CorruptIndexError
from qa.late_interaction import TOKEN_DIMENSIONS, TokenCodec, TokenVectors, maxsim, quantize, token_idf
from qa.retrieval import Query, RetrievalParams, retrieve

from .conftest import SEED, make_settings


def _dequantized(index, row: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = int(index.token_offsets[row]), int(index.token_offsets[row + 1])
    vectors = np.asarray(index.token_vectors[a:b], np.float32) * np.asarray(index.token_scales[a:b], np.float32)[:, None]
    return np.asarray(index.token_ids[a:b]), vectors


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 20), st.just(384)),
              elements=st.floats(-1, 1, width=32, allow_nan=False)))
def test_quantized_rows_keep_their_direction(rows):
    rows = rows[np.linalg.norm(rows, axis=1) > 1e-3]
    if not len(rows):
        return
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    codes, scales = quantize(unit)
    assert codes.dtype == np.int8 and scales.dtype == np.float16 and codes.shape == unit.shape
    back = codes.astype(np.float32) * scales.astype(np.float32)[:, None]
    # Each value within half a step (plus float16's rounding of the scale) of the original.
    step = np.abs(unit).max(axis=1, keepdims=True) / 127
    bound = 0.5 * step + 2e-3 * np.abs(unit) + 1e-7
    assert np.all(np.abs(back - unit) <= bound)
    cosine = (back * unit).sum(1) / np.linalg.norm(back, axis=1)
    # The direction moves by at most the error's length: cos ≥ sqrt(1 − |e|²) for a unit row. A
    # row with one dominant value and many tiny ones can lose ~0.1 % of its cosine that way; rows
    # whose values are spread out, as token vectors' are (|x| ≤ 0.3), keep more than 0.999.
    error = np.linalg.norm(np.broadcast_to(bound, unit.shape), axis=1)
    assert np.all(cosine >= np.sqrt(np.clip(1 - error**2, 0, 1)) - 1e-6)
    spread = np.abs(unit).max(axis=1) <= 0.3
    assert np.all(cosine[spread] > 0.999)


def test_codec_axes_are_orthonormal_and_keep_the_sample_apart():
    rng = np.random.default_rng(0)
    # Token-like vectors: a shared direction (MiniLM's tokens all lean one way) plus structure.
    common = rng.normal(size=384)
    sample = 2 * common + rng.normal(size=(1000, 40)) @ rng.normal(size=(40, 384)) / np.sqrt(40)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    codec = TokenCodec.fit(sample, 32)
    assert codec.components.shape == (32, 384)
    np.testing.assert_allclose(codec.components @ codec.components.T, np.eye(32), atol=1e-4)
    projected = codec.project(sample)
    np.testing.assert_allclose(np.linalg.norm(projected, axis=1), 1.0, atol=1e-5)
    # Centring removes the shared direction: raw cosines are all high, projected ones spread.
    assert (sample @ sample.T).min() > 0.2 and (projected @ projected.T).min() < 0.0
    codes, scales = codec.encode(sample[:5])
    assert codes.dtype == np.int8 and codes.shape == (5, 32) and scales.shape == (5,)


def test_codec_keeps_whole_vectors_when_the_sample_is_small():
    sample = np.eye(384, dtype=np.float32)[:50]
    codec = TokenCodec.fit(sample)
    assert codec.dimensions == 384 and not codec.mean.any()
    np.testing.assert_allclose(codec.project(sample), sample)


def test_quantize_handles_empty_and_zero_rows():
    codes, scales = quantize(np.zeros((0, 384), np.float32))
    assert codes.shape == (0, 384) and scales.shape == (0,)
    codes, scales = quantize(np.zeros((2, 4), np.float32))
    assert not codes.any() and np.all(scales == 1)


def test_every_chunk_keeps_the_token_vectors_of_its_index_text(seed_engine):
    index = seed_engine.index()
    assert index.has_tokens and index.manifest["tokens"] == len(index.token_ids)
    assert index.token_offsets[0] == 0 and index.token_offsets[-1] == len(index.token_ids)
    texts = [index.chunk_index_text(r) for r in range(len(index.chunks))]
    _, fresh = seed_engine.embedder.encode_with_tokens(texts)
    tokenizer = seed_engine.embedder._model.tokenizer
    codec = index.token_codec
    assert codec.dimensions == TOKEN_DIMENSIONS == index.token_vectors.shape[1]  # ~700 tokens: axes fitted
    for row, (ids, vectors) in enumerate(fresh):
        stored_ids, stored = _dequantized(index, row)
        vectors = codec.project(vectors)
        np.testing.assert_array_equal(stored_ids, ids)
        # The model's own word pieces of the text, [CLS] and [SEP] left out.
        assert stored_ids.tolist() == tokenizer(texts[row], truncation=True, max_length=256)["input_ids"][1:-1]
        cosine = (stored * vectors).sum(1) / np.linalg.norm(stored, axis=1)
        assert cosine.min() > 0.999


def test_a_chunk_matches_its_own_text_best(seed_engine):
    index = seed_engine.index()
    rows = np.arange(len(index.chunks))
    for row in rows:
        [(_, tokens)] = seed_engine.encode_for(index, [index.chunk_index_text(int(row))])
        scores = maxsim(index, rows, tokens)
        assert scores[row] == pytest.approx(1.0, abs=0.01)  # every piece finds itself
        assert int(np.argmax(scores)) == row
        assert np.all(scores <= 1.0 + 1e-3) and np.all(scores > 0)


def test_maxsim_of_nothing_is_zero(seed_engine):
    index = seed_engine.index()
    empty = TokenVectors(np.zeros(0, np.int32), np.zeros((0, 384), np.float32))
    assert maxsim(index, np.arange(len(index.chunks)), empty).tolist() == [0.0] * len(index.chunks)
    [(_, tokens)] = seed_engine.encode_for(index, ["Yeltsin"])
    assert maxsim(index, np.zeros(0, np.int64), tokens).shape == (0,)


def test_word_piece_idf_counts_the_chunks_holding_it(seed_engine):
    index = seed_engine.index()
    n = len(index.chunks)
    per_chunk = [set(_dequantized(index, r)[0].tolist()) for r in range(n)]
    seen = set().union(*per_chunk)
    unseen = next(i for i in range(1000, 30000) if i not in seen)
    ids = np.array([*sorted(seen), unseen])
    df = np.array([sum(i in c for c in per_chunk) for i in ids])
    np.testing.assert_allclose(token_idf(index, ids), np.log((n + 1) / (df + 1)))
    assert df.max() == n and df[-1] == 0  # some piece ("the") is in every chunk, weighing ~0


def test_the_rerank_adds_the_scaled_maxsim_and_can_reorder(seed_engine):
    index = seed_engine.index()
    question = "Which conflict in the Balkans did the two countries work on?"
    [(vector, tokens)] = seed_engine.encode_for(index, [question])
    n = len(index.chunks)
    plain = retrieve(index, [Query(question, vector, 1.0)], n)
    on = retrieve(index, [Query(question, vector, 1.0, tokens)], n)
    off = retrieve(index, [Query(question, vector, 1.0, tokens)], n, RetrievalParams(token_weight=0.0))
    assert [(h.row, h.score) for h in off] == [(h.row, h.score) for h in plain]
    # Every chunk of the article is reranked: each final score is the plain one plus 0.2 × the
    # min-max scaled MaxSim, over 1.2.
    assert {h.row for h in plain} == {h.row for h in on} == set(range(n))
    late = maxsim(index, np.arange(n), tokens)
    scaled = (late - late.min()) / (late.max() - late.min())
    by_row = {h.row: h.score for h in plain}
    for h in on:
        assert h.score == pytest.approx((by_row[h.row] + 0.2 * scaled[h.row]) / 1.2, abs=1e-9)
    # Here it decides: the Putin passage ("The two countries cooperated on…") leads without it,
    # the Yeltsin one ("…worked closely together… the conflict in Bosnia and Herzegovina") with it.
    assert "Bosnia" not in index.chunk_text(plain[0].row)
    assert "Bosnia" in index.chunk_text(on[0].row)


def test_a_question_without_word_pieces_leaves_the_scores_alone(seed_engine):
    index = seed_engine.index()
    [(vector, tokens)] = seed_engine.encode_for(index, ["\U0001F600"])  # [UNK] only: no piece kept
    assert len(tokens.ids) == 0
    plain = retrieve(index, [Query("\U0001F600", vector, 1.0)], 4)
    on = retrieve(index, [Query("\U0001F600", vector, 1.0, tokens)], 4)
    assert [(h.row, h.score) for h in on] == [(h.row, h.score) for h in plain]


def test_engine_skips_token_encoding_when_the_rerank_is_off(corpus: Path, embedder):
    engine = Engine(make_settings(corpus, token_weight=0.0))
    engine.build()
    assert engine.index().has_tokens  # the index keeps them: only the weight is off
    [(vector, tokens)] = engine.encode_for(engine.index(), ["Who is the ambassador?"])
    assert tokens is None and vector.shape == (384,)


def test_an_index_without_token_vectors_answers_and_switching_rebuilds(corpus: Path, embedder):
    plain = Engine(make_settings(corpus, token_vectors=False))
    plain.build()
    index = plain.index()
    assert not index.has_tokens and "tokens" not in index.manifest
    assert not list(index.folder.glob("token_*.npy"))
    assert plain.ask("Who is the US ambassador to Russia?").answered
    with_tokens = Engine(make_settings(corpus))
    assert with_tokens.status() == "stale"  # the index's shape changed
    report = with_tokens.build()
    assert report.full and "settings changed" in report.reason
    assert with_tokens.index().has_tokens


def test_a_tiny_first_build_keeps_whole_vectors_until_it_can_fit_the_projection(tmp_path: Path, embedder):
    docs = tmp_path / "source_docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nThe Zorblat Treaty was signed in Reykjavik.\n", "utf-8")
    engine = Engine(make_settings(tmp_path))
    engine.build()
    assert engine.index().token_codec.dimensions == 384  # a dozen pieces: no axes to fit
    (docs / "more.txt").write_text(SEED.read_text("utf-8"), "utf-8")
    report = engine.build()  # incremental: the new document's pieces join the whole vectors
    assert not report.full and engine.index().token_codec.dimensions == 384
    assert engine.status() == "stale"  # enough pieces now: the next build (or question) refits
    report = engine.build()
    assert report.full and "projected" in report.reason
    assert engine.index().token_codec.dimensions == TOKEN_DIMENSIONS
    assert engine.status() == "ok" and not engine.build().written  # and then stays


def test_incremental_builds_copy_the_tokens_of_unchanged_documents(engine: Engine):
    before = engine.index()
    old = [_dequantized(before, r) for r in range(len(before.chunks))]
    codec = before.token_codec
    (engine.settings.docs_dir / "a-first.md").write_text("# Notes\n\nThe Zorblat Treaty was signed in Reykjavik.\n", "utf-8")
    report = engine.build()
    assert not report.full and report.embedded_chunks == 1
    after = engine.index()
    new_doc = next(i for i, d in enumerate(after.documents) if d.path == "a-first.md")
    c0, c1 = after.documents[new_doc].chunks
    kept = [r for r in range(len(after.chunks)) if not c0 <= r < c1]
    assert len(kept) == len(old)
    for (ids, vectors), row in zip(old, kept, strict=True):
        new_ids, new_vectors = _dequantized(after, row)
        np.testing.assert_array_equal(new_ids, ids)
        np.testing.assert_array_equal(new_vectors, vectors)
    # The projection stays the one of the full build: old and new vectors are comparable.
    np.testing.assert_array_equal(after.token_codec.components, codec.components)
    np.testing.assert_array_equal(after.token_codec.mean, codec.mean)
    assert engine.ask("Where was the Zorblat Treaty signed?").answered


@pytest.mark.parametrize("damage", ["offsets", "vectors", "missing", "components", "ids", "nan", "df"])
def test_damaged_token_files_are_reported(engine: Engine, damage: str):
    folder = engine.index().folder
    if damage == "offsets":
        offsets = np.load(folder / "token_offsets.npy")
        np.save(folder / "token_offsets.npy", offsets[:-1])
    elif damage == "vectors":
        np.save(folder / "token_vectors.npy", np.zeros((3, 384), np.int8))
    elif damage == "components":
        np.save(folder / "token_components.npy", np.eye(384, dtype=np.float32)[:7])
    elif damage == "ids":  # right shape, ids past the vocabulary
        ids = np.load(folder / "token_ids.npy")
        np.save(folder / "token_ids.npy", np.full_like(ids, 2**31 - 1))
    elif damage == "nan":
        mean = np.load(folder / "token_mean.npy")
        mean[3] = np.nan
        np.save(folder / "token_mean.npy", mean)
    elif damage == "df":
        np.save(folder / "token_df.npy", np.zeros(5, np.float64))
    else:
        (folder / "token_scales.npy").unlink()
    with pytest.raises(CorruptIndexError, match="corrupt"):
        Engine(engine.settings).index().check()
    assert Engine(engine.settings).build().written  # a rebuild repairs it
    assert Engine(engine.settings).ask("Who is the US ambassador to Russia?").answered
