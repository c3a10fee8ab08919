"""The three evaluation settings over the methods of `methods` (re-exported here).

A method has a `name` and `fit_predict(train, test) -> predictions` over history tables;
learned methods fit everything on `train` only (see `methods` and `fitted`).

Settings (all return one metrics row per (method, repeat, dataset), see `metrics`):

1. `setting1`: one dataset; its models split at random 80/20, `repeats` times with seeds
   `seed, seed+1, ...`; train on the 80 %, rank the 20 % unseen models.
2. `setting2`: train on every row of `train_datasets`, rank all models on `test_datasets`.
3. `setting3`: leave one dataset out: for each dataset, train on all the others.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import metrics
# The methods live in `methods`; re-exported here, where the protocols' callers look for them.
from guidedrec_jax.recommender.methods import (ColumnBaseline, HistoryMeanBaseline, Method,  # noqa: F401
                                               RecommenderMethod, RidgeMethod,
                                               standardize_within_datasets)


def _evaluate(methods: Sequence[Method], train: pd.DataFrame, test: pd.DataFrame,
              repeat: int) -> list[pd.DataFrame]:
  tables = []
  for method in methods:
    predicted = np.asarray(method.fit_predict(train, test), np.float64)
    if predicted.shape != (len(test),):
      raise ValueError(f"method {method.name!r} returned shape {predicted.shape}, "
                       f"expected ({len(test)},)")
    table = metrics.per_dataset(test, predicted)
    tables.append(table.assign(method=method.name, repeat=repeat))
  return tables


def _check(history: pd.DataFrame, methods: Sequence[Method], datasets: Sequence[str],
           argument: str) -> None:
  if not methods:
    raise ValueError("methods must not be empty")
  names = [m.name for m in methods]
  if len(set(names)) != len(names):
    raise ValueError(f"methods must have distinct names, got {names}")
  known = set(history["dataset"])
  unknown = [d for d in datasets if d not in known]
  if unknown or not datasets:
    raise ValueError(f"{argument} must name datasets of the history; unknown {unknown}")


def _results(tables: list[pd.DataFrame]) -> pd.DataFrame:
  columns = ["method", "repeat", "dataset", "num_models", *metrics.METRICS]
  return pd.concat(tables, ignore_index=True)[columns]


def setting1(history: pd.DataFrame, dataset: str, methods: Sequence[Method], repeats: int = 10,
             test_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
  """Unseen models on one dataset: `repeats` random model splits (the same for every method)."""
  _check(history, methods, [dataset], "dataset")
  if repeats < 1:
    raise ValueError(f"repeats must be >= 1, got {repeats}")
  if not 0 < test_fraction < 1:
    raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
  rows = history[history["dataset"] == dataset].reset_index(drop=True)
  num_test = int(round(test_fraction * len(rows)))
  if num_test < 1 or num_test >= len(rows):
    raise ValueError(f"dataset {dataset!r} has {len(rows)} models: too few to split "
                     f"{test_fraction:.0%} off")
  tables = []
  for repeat in range(repeats):
    order = np.random.default_rng(seed + repeat).permutation(len(rows))
    test, train = rows.iloc[np.sort(order[:num_test])], rows.iloc[np.sort(order[num_test:])]
    tables += _evaluate(methods, train, test, repeat)
  return _results(tables)


def setting2(history: pd.DataFrame, train_datasets: Sequence[str],
             test_datasets: Sequence[str], methods: Sequence[Method]) -> pd.DataFrame:
  """Train on the history of `train_datasets`; rank all models on each of `test_datasets`."""
  _check(history, methods, list(train_datasets), "train_datasets")
  _check(history, methods, list(test_datasets), "test_datasets")
  overlap = sorted(set(train_datasets) & set(test_datasets))
  if overlap:
    raise ValueError(f"train_datasets and test_datasets overlap: {overlap}")
  train = history[history["dataset"].isin(train_datasets)].reset_index(drop=True)
  test = history[history["dataset"].isin(test_datasets)].reset_index(drop=True)
  return _results(_evaluate(methods, train, test, repeat=0))


def setting3(history: pd.DataFrame, methods: Sequence[Method],
             datasets: Sequence[str] | None = None) -> pd.DataFrame:
  """Leave one dataset out, for each of `datasets` (all of the history's when None)."""
  datasets = sorted(history["dataset"].unique()) if datasets is None else list(datasets)
  _check(history, methods, datasets, "datasets")
  if history["dataset"].nunique() < 2:
    raise ValueError("setting3 needs a history with at least 2 datasets")
  tables = []
  for held_out in datasets:
    is_test = (history["dataset"] == held_out).to_numpy()
    train = history[~is_test].reset_index(drop=True)
    test = history[is_test].reset_index(drop=True)
    tables += _evaluate(methods, train, test, repeat=0)
  return _results(tables)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
  """One row per method: mean over datasets per repeat, then mean and std over repeats.

  Repeats are the model splits of setting 1, or the training seeds `evaluate` runs settings 2
  and 3 with; `*_std` is 0 with a single repeat.
  """
  if results.empty:
    raise ValueError("results must not be empty")
  rows = []
  for method, by_method in results.groupby("method", sort=False):
    per_repeat = pd.DataFrame([metrics.mean_over_datasets(table)
                               for _, table in by_method.groupby("repeat")])
    row: dict = {"method": method, "repeats": len(per_repeat)}
    for name in metrics.METRICS:
      row[f"{name}_mean"] = float(per_repeat[name].mean())
      row[f"{name}_std"] = float(per_repeat[name].std(ddof=0))
    row["num_datasets"] = int(per_repeat["num_datasets"].max())
    rows.append(row)
  return pd.DataFrame(rows)
