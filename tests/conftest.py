"""Shared fixtures: the real model (loaded once per session), real indexes in temporary folders."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from qa.engine import Engine
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "source_docs" / "russia-united-states-relations.txt"


ENCODERS: list[Path] = []  # one ONNX export per test session, shared by every test index


def make_settings(tmp: Path, **changes) -> Settings:
    return Settings(docs_dir=tmp / "source_docs", index_dir=tmp / "index", encoder_dir=ENCODERS[0], **changes)


@pytest.fixture(autouse=True)
def restore_logging():
    """``qa.cli.main`` points the root logger at the sys.stderr of its call (a test's capture,
    closed after it): give the next test the logging set-up it would have had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def encoder_dir(tmp_path_factory) -> Path:
    ENCODERS.append(tmp_path_factory.mktemp("encoders"))
    return ENCODERS[0]


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once; engines created in tests reuse it."""
    from qa.embedding import Embedder

    emb = Embedder("all-MiniLM-L6-v2")
    emb.encode(["warm up"])
    return emb


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A project folder with a copy of the bundled document and no index yet."""
    docs = tmp_path / "source_docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    return tmp_path


@pytest.fixture
def engine(corpus: Path, embedder) -> Engine:
    eng = Engine(make_settings(corpus))
    eng.build()
    return eng


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory, embedder) -> Engine:
    """An engine over the bundled document, built once for the read-only tests."""
    tmp = tmp_path_factory.mktemp("seed")
    (tmp / "source_docs").mkdir()
    shutil.copy(SEED, tmp / "source_docs" / SEED.name)
    eng = Engine(make_settings(tmp))
    eng.build()
    return eng
