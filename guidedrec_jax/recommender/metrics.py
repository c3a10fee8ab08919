"""How well predicted accuracies rank models, per dataset and averaged over datasets.

Per dataset (the models of one target dataset): Pearson's r, Spearman's rho and Kendall's
tau-b between predicted and true accuracy, and the top-1 regret — the true accuracy of the
best model minus that of the recommended (highest-predicted) one, in accuracy points — and
the top-3 regret `regret3`: the best model's accuracy minus the best of the three
highest-predicted models' (a user who fine-tunes three).

Conventions, chosen so that every method gets a number on every dataset:

* fewer than `MIN_MODELS` (3) models: the three correlations are NaN (two points always
  correlate perfectly) and the dataset is left out of their means; the regret is still
  defined and averaged. `num_datasets` in the summary counts the datasets each mean uses.
* constant predictions (or constant truth) on a dataset with enough models: correlations are
  0 — the method says nothing about the order — not NaN, so a degenerate method cannot drop
  out of the mean.
* ties in the prediction at the top: the regret is the mean over the tied models (the
  expected regret of picking one of them at random).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MIN_MODELS = 3
CORRELATIONS = ("pearson", "spearman", "kendall")
METRICS = CORRELATIONS + ("regret", "regret3", "mae")


def top1_regret(predicted: np.ndarray, true: np.ndarray) -> float:
  """True accuracy of the best model minus the mean true accuracy of the top-predicted ones."""
  predicted, true = _check(predicted, true)
  if len(true) == 0:
    raise ValueError("predicted must hold at least one model")
  chosen = predicted == np.max(predicted)
  return float(np.max(true) - np.mean(true[chosen]))


def topk_regret(predicted: np.ndarray, true: np.ndarray, k: int) -> float:
  """True accuracy of the best model minus the best true accuracy among the k top-predicted.

  Models tied at the k-th place fill the remaining places at random: the expected value over
  that draw, as `top1_regret` does for ties at the top. 0 when k >= the number of models.
  """
  predicted, true = _check(predicted, true)
  if len(true) == 0:
    raise ValueError("predicted must hold at least one model")
  if k >= len(true):
    return 0.0
  order = np.argsort(-predicted, kind="stable")
  threshold = predicted[order[k - 1]]
  sure = true[predicted > threshold]
  tied = np.sort(true[predicted == threshold])[::-1]
  free = k - len(sure)
  # Pick `free` of the tied models at random: the best chosen tied model is tied[i] with
  # probability C(n-1-i, free-1) / C(n, free).
  n = len(tied)
  probs = np.array([_comb(n - 1 - i, free - 1) for i in range(n)], np.float64) / _comb(n, free)
  best_sure = np.max(sure) if len(sure) else -np.inf
  expected = float(np.sum(probs * np.maximum(tied, best_sure)))
  return float(np.max(true) - expected)


def _comb(n: int, r: int) -> float:
  return float(math.comb(n, r)) if 0 <= r <= n else 0.0


def _check(predicted, true) -> tuple[np.ndarray, np.ndarray]:
  predicted = np.asarray(predicted, np.float64).reshape(-1)
  true = np.asarray(true, np.float64).reshape(-1)
  if predicted.shape != true.shape:
    raise ValueError(f"predicted and true must have the same length, got {predicted.shape} "
                     f"and {true.shape}")
  if not (np.all(np.isfinite(predicted)) and np.all(np.isfinite(true))):
    raise ValueError("predicted and true must be finite")
  return predicted, true


def dataset_metrics(predicted: np.ndarray, true: np.ndarray,
                    top1: np.ndarray | None = None) -> dict[str, float]:
  """All metrics of one dataset's models (see the module docstring for the conventions).

  `top1`: a predicted top-1 (percent) per model, for `mae`, the mean absolute error in
  points; NaN when not given.
  """
  predicted, true = _check(predicted, true)
  mae = float("nan")
  if top1 is not None and np.all(np.isfinite(np.asarray(top1, np.float64))):
    mae = float(np.mean(np.abs(np.asarray(top1, np.float64).reshape(-1) - true)))
  out = {"num_models": len(true), "regret": top1_regret(predicted, true),
         "regret3": topk_regret(predicted, true, 3), "mae": mae}
  if len(true) < MIN_MODELS:
    return out | {name: float("nan") for name in CORRELATIONS}
  if np.ptp(predicted) == 0 or np.ptp(true) == 0:
    return out | {name: 0.0 for name in CORRELATIONS}
  from scipy import stats  # pylint: disable=import-outside-toplevel  # slow; rankings skip it
  out["pearson"] = float(stats.pearsonr(predicted, true)[0])
  out["spearman"] = float(stats.spearmanr(predicted, true)[0])
  out["kendall"] = float(stats.kendalltau(predicted, true)[0])
  return out


def per_dataset(frame: pd.DataFrame, predicted: np.ndarray, dataset_column: str = "dataset",
                target_column: str = "top1", top1: np.ndarray | None = None) -> pd.DataFrame:
  """Metrics of each dataset in `frame` (rows aligned with `predicted` and `top1`, a
  predicted top-1 per row, for `mae`), sorted by dataset."""
  predicted = np.asarray(predicted, np.float64).reshape(-1)
  top1 = np.full(len(predicted), np.nan) if top1 is None else np.asarray(top1, np.float64)
  if len(predicted) != len(frame):
    raise ValueError(f"predicted has {len(predicted)} rows, frame has {len(frame)}")
  for column in (dataset_column, target_column):
    if column not in frame.columns:
      raise ValueError(f"frame has no column {column!r}")
  rows = []
  for name, index in frame.groupby(dataset_column, sort=True).indices.items():
    truth = frame[target_column].to_numpy(np.float64)[index]
    rows.append({"dataset": name} | dataset_metrics(predicted[index], truth, top1[index]))
  return pd.DataFrame(rows, columns=["dataset", "num_models", *METRICS])


def mean_pearson(predicted: np.ndarray, true: np.ndarray, datasets: np.ndarray) -> float:
  """The mean over datasets of `per_dataset`'s Pearson (NaN if no dataset has
  `MIN_MODELS` models), computed in numpy alone: for loops that score many candidates."""
  predicted, true = _check(predicted, true)
  datasets = np.asarray(datasets)
  values = []
  for name in np.unique(datasets):
    at = datasets == name
    if at.sum() < MIN_MODELS:
      continue
    a, b = predicted[at] - predicted[at].mean(), true[at] - true[at].mean()
    norm = np.sqrt((a @ a) * (b @ b))
    values.append(float(a @ b / norm) if norm > 0 else 0.0)
  return float(np.mean(values)) if values else float("nan")


def mean_over_datasets(table: pd.DataFrame) -> dict[str, float]:
  """Means over datasets of each metric (NaN entries left out) and how many entered each."""
  if table.empty:
    raise ValueError("table must hold at least one dataset")
  out: dict[str, float] = {}
  for name in METRICS:
    values = table[name].to_numpy(np.float64)
    finite = np.isfinite(values)
    out[name] = float(values[finite].mean()) if finite.any() else float("nan")
  out["num_datasets"] = int(np.isfinite(table["pearson"].to_numpy(np.float64)).sum())
  return out
