"""Any history in: minimal columns, scale check, repeated pairs, declared fields, wide scores."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.history import generic
from guidedrec_jax.recommender import field_encoding


def _frame(top1=(70.0, 80.0, 60.0, 65.0)):
  return pd.DataFrame({"dataset": ["a", "a", "b", "b"], "model": ["m1", "m2", "m1", "m2"],
                       "acc": list(top1), "res": [224, 384, 224, 384], "domain": list("xxyy")})


def test_minimal_columns_and_accuracy_column_name(tmp_path):
  path = tmp_path / "h.csv"
  _frame().to_csv(path, index=False)
  history = generic.read_history(path, top1_column="acc")
  assert list(history["top1"]) == [70.0, 80.0, 60.0, 65.0] and "res" in history.columns
  with pytest.raises(ValueError, match=r"missing columns \['top1'\].*top1_column='top1'"):
    generic.read_history(path)


def test_fraction_tables_are_refused_or_converted():
  fractions = _frame(top1=(0.70, 0.80, 0.60, 0.65))
  with pytest.raises(ValueError, match="0-1 table; set history.top1_scale=1"):
    generic.read_history(fractions, top1_column="acc")
  converted = generic.read_history(fractions, top1_column="acc", top1_scale=1)
  np.testing.assert_allclose(converted["top1"], [70.0, 80.0, 60.0, 65.0])
  with pytest.raises(ValueError, match="0..1"):
    generic.read_history(_frame(top1=(0.7, 80.0, 0.6, 0.6)), top1_column="acc", top1_scale=1)
  with pytest.raises(ValueError, match="top1_scale"):
    generic.read_history(_frame(), top1_column="acc", top1_scale=10)


def test_repeated_pairs_follow_the_declared_rule():
  frame = pd.concat([_frame(), _frame(top1=(72.0, 80.0, 60.0, 65.0)).iloc[:1]])
  with pytest.raises(ValueError, match="duplicates='max'"):
    generic.read_history(frame, top1_column="acc")
  best = generic.read_history(frame, top1_column="acc", duplicates="max")
  mean = generic.read_history(frame, top1_column="acc", duplicates="mean")
  assert len(best) == 4 and best["top1"].iloc[0] == 72.0 and mean["top1"].iloc[0] == 71.0
  same = pd.concat([_frame(), _frame().iloc[:1].assign(res=1)])  # same accuracy: one run
  assert len(generic.read_history(same, top1_column="acc")) == 4


def test_declared_fields_join_their_group_tokens():
  declared = generic.declared_fields("res=numeric:m:log,domain=categorical:d")
  assert declared[0] == {"name": "res", "column": "res", "kind": "numeric", "group": "m",
                         "log": True}
  history = generic.read_history(_frame(), top1_column="acc")
  fields = field_encoding.resolve_fields("d,m", history.columns, field_encoding.extra_fields(declared))
  assert [f.name for f in fields] == ["dataset_id", "domain", "model_id", "res"]
  assert [f.name for f in field_encoding.resolve_fields("res", history.columns,
                                                  field_encoding.extra_fields(declared))] == ["res"]
  for bad in ("res=numeric", "res=text:m", "res=numeric:x", "res=categorical:m:log", "res"):
    with pytest.raises(ValueError, match="history.fields"):
      generic.declared_fields(bad)


def test_scores_long_or_wide_give_the_same_long_table():
  wide = pd.DataFrame({"dataset": ["a", "a"], "model": ["m1", "m2"], "logme": [1.0, 2.0],
                       "nce": [-1.0, np.nan]})
  long = generic.read_scores(wide)
  assert sorted(map(tuple, long.values.tolist())) == [
      ("a", "m1", "logme", 1.0), ("a", "m1", "nce", -1.0), ("a", "m2", "logme", 2.0)]
  again = generic.read_scores(long)
  assert len(again) == 3
  with pytest.raises(ValueError, match="long .* or wide"):
    generic.read_scores(pd.DataFrame({"dataset": ["a"], "value": [1.0]}))
