"""Per-dataset metrics against scipy and hand-computed values, and the documented edge cases."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from guidedrec_jax.recommender import metrics


def test_against_scipy_and_regret_by_hand():
  rng = np.random.default_rng(0)
  true, predicted = rng.uniform(50, 90, 20), rng.normal(size=20)
  out = metrics.dataset_metrics(predicted, true)
  assert out["pearson"] == pytest.approx(stats.pearsonr(predicted, true)[0])
  assert out["spearman"] == pytest.approx(stats.spearmanr(predicted, true)[0])
  assert out["kendall"] == pytest.approx(stats.kendalltau(predicted, true)[0])
  assert out["regret"] == pytest.approx(true.max() - true[np.argmax(predicted)])


def test_perfect_and_reversed_rankings():
  true = np.array([60.0, 70.0, 90.0, 80.0])
  perfect = metrics.dataset_metrics(true, true)
  assert np.isnan(perfect.pop("mae"))  # no top-1 prediction given
  assert perfect == {
      "num_models": 4, "regret": 0.0, "regret3": 0.0, "pearson": pytest.approx(1.0),
      "spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0)}
  reversed_ = metrics.dataset_metrics(-true, true)
  assert reversed_["spearman"] == pytest.approx(-1.0) and reversed_["regret"] == 30.0
  assert reversed_["regret3"] == 10.0  # the three worst: 60, 70, 80


def test_fewer_than_three_models_nan_correlations_but_regret():
  out = metrics.dataset_metrics([1.0, 2.0], [70.0, 60.0])
  assert np.isnan(out["pearson"]) and np.isnan(out["kendall"]) and out["regret"] == 10.0


def test_constant_predictions_zero_correlation_and_expected_regret():
  out = metrics.dataset_metrics([1.0, 1.0, 1.0], [60.0, 70.0, 80.0])
  assert out["pearson"] == out["spearman"] == out["kendall"] == 0.0
  assert out["regret"] == pytest.approx(10.0)  # 80 - mean(60, 70, 80)


def test_per_dataset_and_mean_skip_small_datasets():
  frame = pd.DataFrame({"dataset": ["b"] * 3 + ["a"] * 2, "top1": [1.0, 2.0, 3.0, 5.0, 4.0]})
  table = metrics.per_dataset(frame, np.array([1.0, 2.0, 3.0, 0.0, 1.0]))
  assert list(table["dataset"]) == ["a", "b"]
  summary = metrics.mean_over_datasets(table)
  assert summary["pearson"] == pytest.approx(1.0) and summary["num_datasets"] == 1
  assert summary["regret"] == pytest.approx(0.5)  # (1 + 0) / 2 over both datasets


def test_mae_is_the_mean_absolute_top1_error():
  rng = np.random.default_rng(1)
  true, top1 = rng.uniform(40, 90, 7), rng.uniform(40, 90, 7)
  out = metrics.dataset_metrics(rng.normal(size=7), true, top1)
  assert out["mae"] == pytest.approx(sum(abs(a - b) for a, b in zip(top1, true)) / 7,
                                     rel=1e-12)
  assert metrics.dataset_metrics([1.0, 2.0], [70.0, 60.0], [65.0, 65.0])["mae"] == 5.0
  assert np.isnan(metrics.dataset_metrics(true, true, np.where(true > 60, top1, np.nan))["mae"])
  frame = pd.DataFrame({"dataset": ["a", "a", "b", "b", "b"], "top1": [1.0, 3, 5, 6, 7]})
  table = metrics.per_dataset(frame, np.arange(5.0), top1=np.array([2.0, 2, 5, 5, 5]))
  np.testing.assert_allclose(table["mae"], [1.0, 1.0])
  assert metrics.mean_over_datasets(table)["mae"] == 1.0
  assert metrics.per_dataset(frame, np.arange(5.0))["mae"].isna().all()


def test_bad_input_raises():
  with pytest.raises(ValueError, match="same length"):
    metrics.dataset_metrics([1.0], [1.0, 2.0])
  with pytest.raises(ValueError, match="finite"):
    metrics.dataset_metrics([np.nan, 1.0, 2.0], [1.0, 2.0, 3.0])
  with pytest.raises(ValueError, match="predicted has 1 rows"):
    metrics.per_dataset(pd.DataFrame({"dataset": ["a", "a"], "top1": [1.0, 2.0]}), [1.0])


def test_top3_regret_against_brute_force_over_tie_orders():
  import itertools
  rng = np.random.default_rng(0)
  for trial in range(30):
    n = int(rng.integers(1, 7))
    predicted = rng.integers(0, 3, n).astype(float)  # many ties
    true = rng.normal(size=n)
    orders = [p for p in itertools.permutations(range(n))
              if all(predicted[p[i]] >= predicted[p[i + 1]] for i in range(n - 1))]
    want = np.mean([true.max() - true[list(p[:3])].max() for p in orders])
    assert metrics.topk_regret(predicted, true, 3) == pytest.approx(want), trial
  assert metrics.dataset_metrics(np.array([3.0, 2, 1, 0]), np.array([1.0, 2, 3, 4]))[
      "regret3"] == 1.0


def test_mean_pearson_is_the_per_dataset_tables_mean():
  rng = np.random.default_rng(3)
  sizes = {"a": 7, "b": 2, "c": 5, "d": 9}  # "b": too few models, left out by both
  frame = pd.DataFrame({"dataset": np.repeat(list(sizes), list(sizes.values())),
                        "top1": rng.normal(size=sum(sizes.values()))})
  predicted = rng.normal(size=len(frame))
  predicted[frame["dataset"].to_numpy() == "c"] = 1.0  # constant: Pearson 0 in both
  want = metrics.mean_over_datasets(metrics.per_dataset(frame, predicted))["pearson"]
  got = metrics.mean_pearson(predicted, frame["top1"].to_numpy(), frame["dataset"].to_numpy())
  assert got == pytest.approx(want, abs=1e-12)
  assert np.isnan(metrics.mean_pearson(np.ones(2), np.ones(2), np.array(["x", "x"])))
