"""Settings: defaults, ``QA_*`` environment overrides and validation of the index and encoder knobs."""

from __future__ import annotations

import pytest

from qa.errors import UsageError
from qa.settings import Settings


def test_index_defaults():
    s = Settings()
    assert s.hnsw_threshold == 50_000
    assert s.hnsw_ef_search == 0  # automatic
    assert s.onnx_spinning is False


def test_hnsw_settings_from_the_environment():
    s = Settings.from_env({"QA_HNSW_THRESHOLD": "1000", "QA_HNSW_EF_SEARCH": "512"})
    assert (s.hnsw_threshold, s.hnsw_ef_search) == (1000, 512)
    with pytest.raises(UsageError, match="QA_HNSW_EF_SEARCH"):
        Settings.from_env({"QA_HNSW_EF_SEARCH": "many"})
    with pytest.raises(UsageError, match="hnsw_ef_search"):
        Settings.from_env({"QA_HNSW_EF_SEARCH": "-1"})


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("ON", True), ("yes", True),
                                            ("0", False), ("False", False), ("off", False), ("no", False)])
def test_boolean_settings_from_the_environment(raw: str, value: bool):
    assert Settings.from_env({"QA_ONNX_SPINNING": raw}).onnx_spinning is value


def test_a_bad_boolean_is_a_usage_error():
    with pytest.raises(UsageError, match="QA_ONNX_SPINNING='maybe' is not a valid bool"):
        Settings.from_env({"QA_ONNX_SPINNING": "maybe"})


@pytest.mark.parametrize(("variable", "raw", "says"), [
    ("QA_MAX_QUESTION_CHARS", "0", "max_question_chars must be at least 1"),
    ("QA_MAX_QUESTION_CHARS", "-5", "max_question_chars must be at least 1"),
    ("QA_MAX_TURNS", "-1", "max_turns must be at least 1"),
    ("QA_MAX_TURN_AGE_S", "-1", "max_turn_age_s must be above 0"),
    ("QA_DUPLICATE_COSINE", "-3", "duplicate_cosine must be above 0 and at most 1"),
    ("QA_ANSWER_SECOND_RATIO", "-1", "answer_second_ratio must be above 0 and at most 1"),
    ("QA_SENTENCE_OVERLAP_WEIGHT", "-5", "sentence_overlap_weight must be >= 0"),
    ("QA_ANSWER_COUNT_PENALTY", "-0.2", "answer_count_penalty must be >= 0"),
])
def test_an_out_of_range_setting_is_a_usage_error(variable: str, raw: str, says: str):
    with pytest.raises(UsageError, match=says):
        Settings.from_env({variable: raw})


def test_every_default_is_valid():
    Settings().validate()
