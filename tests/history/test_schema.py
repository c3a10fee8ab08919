"""History schema: validation errors name what is wrong; MS scores join in wide form."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.history import schema


def _history(**overrides):
  frame = pd.DataFrame({
      "dataset": ["a", "a", "b"], "model": ["m1", "m2", "m1"], "top1": [70.0, 80.0, 50.0],
      "num_train": [100, 100, 50], "num_classes": [10, 10, 5], "family": ["resnet"] * 3,
      "input_size": [224] * 3, "params_m": [25.0, 11.0, 25.0], "gmacs": [4.1, 1.8, 4.1],
      "pretrain_domain": ["in1k"] * 3})
  return frame.assign(**overrides)


def test_valid_history_passes_and_exact_repeats_collapse():
  frame = pd.concat([_history(), _history().iloc[:1]], ignore_index=True)
  out = schema.validate_history(frame)
  assert len(out) == 3 and out["top1"].dtype == float


def test_missing_columns_are_named():
  with pytest.raises(ValueError, match=r"\['gmacs', 'pretrain_domain'\]"):
    schema.validate_history(_history().drop(columns=["gmacs", "pretrain_domain"]))


def test_nan_and_out_of_range_targets_name_the_pair():
  with pytest.raises(ValueError, match=r"\('b', 'm1'\)"):
    schema.validate_history(_history(top1=[70.0, 80.0, np.nan]))
  with pytest.raises(ValueError, match=r"\('a', 'm2'\)"):
    schema.validate_history(_history(top1=[70.0, 180.0, 50.0]))


def test_conflicting_duplicates_name_the_pair():
  frame = pd.concat([_history(), _history().iloc[[1]].assign(top1=81.0)], ignore_index=True)
  with pytest.raises(ValueError, match=r"conflicting.*\('a', 'm2'\)"):
    schema.validate_history(frame)


def test_non_numeric_column_is_named():
  with pytest.raises(ValueError, match="params_m"):
    schema.validate_history(_history(params_m=["x", "1", "2"]))


def test_load_history_reads_csv_and_prefixes_errors_with_the_path(tmp_path):
  path = tmp_path / "h.csv"
  _history().to_csv(path, index=False)
  assert len(schema.load_history(path)) == 3
  _history(top1=[np.nan, 1.0, 2.0]).to_csv(path, index=False)
  with pytest.raises(ValueError, match="h.csv"):
    schema.load_history(path)


def test_join_scores_pivots_and_leaves_missing_pairs_nan():
  scores = pd.DataFrame({"dataset": ["a", "a", "a"], "model": ["m1", "m2", "m1"],
                         "score": ["logme", "logme", "leep"], "value": [1.0, 2.0, -3.0]})
  out = schema.join_scores(_history(), scores)
  assert schema.score_columns(out) == ["ms_leep", "ms_logme"]
  np.testing.assert_array_equal(out["ms_logme"], [1.0, 2.0, np.nan])
  assert list(out["dataset"]) == ["a", "a", "b"]
  only = schema.join_scores(_history(), scores, names=("leep",))
  assert schema.score_columns(only) == ["ms_leep"]
  with pytest.raises(ValueError, match="nce"):
    schema.join_scores(_history(), scores, names=("nce",))


def test_join_scores_rejects_conflicts_and_missing_columns():
  scores = pd.DataFrame({"dataset": ["a", "a"], "model": ["m1", "m1"], "score": ["s", "s"],
                         "value": [1.0, 2.0]})
  with pytest.raises(ValueError, match="conflicting"):
    schema.join_scores(_history(), scores)
  with pytest.raises(ValueError, match="value"):
    schema.join_scores(_history(), scores.drop(columns=["value"]))


def test_add_difficulty_uses_the_reference_model():
  scores = pd.DataFrame({"dataset": ["a", "b", "a"], "model": ["m1", "m1", "m2"],
                         "score": ["logme"] * 3, "value": [0.5, 0.1, 9.0]})
  out = schema.add_difficulty(_history(), scores, "logme", "m1")
  np.testing.assert_array_equal(out["difficulty"], [0.5, 0.5, 0.1])
  with pytest.raises(ValueError, match="reference_model"):
    schema.add_difficulty(_history(), scores, "logme", "m9")
