"""Exports of the query encoder: one per model in ``index/encoders``, superseded ones removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from qa.embedding import EXPORT_SOURCE, encoder_key, export_query_encoder, prune_exports, resolve_model
from qa.settings import DEFAULT_MODEL


def _export(root: Path, name: str, source: str | None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"graph")
    if source is not None:
        (folder / EXPORT_SOURCE).write_text(source, encoding="utf-8")
    return folder


def test_superseded_exports_are_removed_and_others_kept(tmp_path):
    model = tmp_path / "models" / "minilm"
    current = _export(tmp_path, encoder_key(model), str(model))
    older = _export(tmp_path, "c0ffee0000000002", str(model))  # same model, older weights
    before_labels = _export(tmp_path, encoder_key(model, 1), None)  # same model, the first graph
    other_model = _export(tmp_path, "c0ffee0000000003", str(tmp_path / "models" / "mpnet"))
    unlabelled = _export(tmp_path, "c0ffee0000000004", None)  # some model's, made before labels
    crashed = tmp_path / ".tmp-123-abcd0123"
    crashed.mkdir()
    long_ago = time.time() - 2 * 3600
    os.utime(crashed, (long_ago, long_ago))
    running = tmp_path / ".tmp-456-ef012345"  # another process exporting right now
    running.mkdir()
    foreign = _export(tmp_path, "whisper-onnx", None)  # someone else's model in a shared folder
    extra = _export(tmp_path, "c0ffee0000000005", str(model))
    (extra / "notes.txt").write_text("mine", encoding="utf-8")  # not only an export's files

    removed = prune_exports(current, model)

    assert sorted(removed) == sorted([older, before_labels, crashed])
    assert not older.exists() and not before_labels.exists() and not crashed.exists()
    for kept in (current, other_model, unlabelled, foreign, extra):
        assert (kept / "model.onnx").is_file(), kept
    assert running.is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-") and p != running]


def test_a_new_export_replaces_the_one_it_supersedes(tmp_path):
    model_dir = resolve_model(DEFAULT_MODEL)
    stale = _export(tmp_path, "0123456789abcdef", str(model_dir))
    kept = _export(tmp_path, "fedcba9876543210", "/elsewhere/another-model")

    folder = export_query_encoder(model_dir, tmp_path / "feedfacefeedface")

    assert (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file()
    assert (folder / EXPORT_SOURCE).read_text("utf-8") == str(model_dir)
    assert not stale.exists() and kept.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fedcba9876543210", "feedfacefeedface"]
    # And it is one a later export of the same model recognises as its own (only an export's files).
    newer = _export(tmp_path, "0000000000000001", str(model_dir))
    assert prune_exports(newer, model_dir) == [folder]
