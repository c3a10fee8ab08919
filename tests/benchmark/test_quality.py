"""The history's quality table and noise ceiling, on planted histories."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.benchmark import quality


def _history(top1_by_task, num_classes):
  return pd.DataFrame([{"dataset": task, "model": f"m{i}", "top1": value,
                        "num_classes": num_classes[task]}
                       for task, values in top1_by_task.items()
                       for i, value in enumerate(values)])


def test_chance_spread_and_near_chance_share():
  history = _history({"a": [10.0, 14.9, 40.0, 90.0], "b": [50.0, 54.0, 80.0, 100.0]},
                     {"a": 10, "b": 2})
  rows = {r["task"]: r for r in quality.quality_rows(history, None)}
  assert rows["a"]["chance"] == 10.0 and rows["b"]["chance"] == 50.0
  assert rows["a"]["spread"] == 80.0 and rows["a"]["top1_median"] == pytest.approx(27.45)
  assert rows["a"]["near_chance_pct"] == 50.0  # 10.0 and 14.9 are < 10 + 5
  assert rows["b"]["near_chance_pct"] == 50.0  # 50.0 and 54.0 are < 50 + 5
  assert rows["all tasks"]["near_chance_pct"] == 50.0
  assert np.isnan(rows["a"]["noise_ceiling_pearson"])


def test_noise_ceiling_is_the_pearson_between_the_two_seeds():
  history = _history({"a": [10.0, 20.0, 30.0, 40.0], "b": [1.0, 2.0, 3.0, 4.0]},
                     {"a": 10, "b": 10})
  rerun = _history({"a": [12.0, 18.0, 35.0, 38.0]}, {"a": 10})  # only task a re-run
  expected = np.corrcoef([10, 20, 30, 40], [12, 18, 35, 38])[0, 1]
  rows = {r["task"]: r for r in quality.quality_rows(history, rerun)}
  assert rows["a"]["noise_ceiling_pearson"] == pytest.approx(expected)
  assert np.isnan(rows["b"]["noise_ceiling_pearson"])
  assert rows["all tasks"]["noise_ceiling_pearson"] == pytest.approx(expected)
  row = quality.noise_ceiling_row(history, rerun)
  assert row["method"] == quality.NOISE_METHOD and "b" not in row
  assert row["a"] == pytest.approx(expected) == row["mean_pearson"]
  assert row["mean_regret"] == 0.0  # the re-run's best model (m3) is the history's best
  assert quality.noise_ceiling_row(history, None) is None
