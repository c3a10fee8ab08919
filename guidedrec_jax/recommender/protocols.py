"""The protocols: one fold list, one out-of-fold loop, the three settings on top.

A method has a `name` and `fit(train) -> fitted` with `fitted.predict(frame)` over history
tables (`recommender/registry.py` builds them from config blocks); learned methods fit on
`train` only. Every leave-one-dataset-out in the project — setting 3, regret@k, the blend's
inner folds, `recommend.py --task` — takes its folds from `dataset_folds` and runs them
through `out_of_fold`, so every caller sees the same folds.

Settings (all return one metrics row per (method, repeat, dataset), see `metrics`):

1. `setting1`: one dataset; its models split at random 80/20, `repeats` times with seeds
   `seed, seed+1, ...` (`model_folds`); train on the 80 %, rank the 20 % unseen models.
2. `setting2`: train on every row of `train_datasets`, rank all models on `test_datasets`.
3. `setting3`: leave one dataset out: for each dataset, train on all the others.

A fitted method with `predict_top1` (the recommender, the model mean) also gets the mean
absolute error of its top-1 prediction in percentage points (`mae`); others get NaN.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, Sequence

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import metrics


class Method(Protocol):
  name: str

  def fit(self, train: pd.DataFrame) -> Any:
    ...


class Fold(NamedTuple):
  """Row indices (into the frame the folds were made for) to fit on and to predict."""
  train: np.ndarray
  test: np.ndarray
  held_out: str  # the held-out dataset, or "models <i>" for a fold of models


def dataset_folds(frame: pd.DataFrame, datasets: Sequence[str] | None = None,
                  max_folds: int = 0, seed: int = 0) -> list[Fold]:
  """Leave one dataset out: one fold per dataset of `datasets` (all of `frame`'s if None).

  `max_folds` > 0 keeps a seeded draw of that many datasets (it bounds an inner loop's cost);
  folds come in dataset order.
  """
  names = frame["dataset"].astype(str).to_numpy()
  datasets = sorted(set(names)) if datasets is None else [str(d) for d in datasets]
  if 0 < max_folds < len(datasets):
    datasets = sorted(np.random.default_rng(seed).choice(datasets, max_folds, replace=False))
  return [Fold(np.flatnonzero(names != d), np.flatnonzero(names == d), d) for d in datasets]


def model_folds(frame: pd.DataFrame, num_folds: int, seed: int = 0) -> list[Fold]:
  """`num_folds` seeded folds of `frame`'s rows (one dataset: folds of models)."""
  if num_folds < 2 or num_folds > len(frame):
    raise ValueError(f"num_folds must lie in [2, {len(frame)}], got {num_folds}")
  parts = np.array_split(np.random.default_rng(seed).permutation(len(frame)), num_folds)
  return [Fold(np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(parts[i]),
               f"models {i}") for i in range(num_folds)]


def inner_folds(frame: pd.DataFrame, max_folds: int = 0, seed: int = 0,
                num_model_folds: int = 3) -> list[Fold]:
  """The folds a method fitting on `frame` validates itself on: leave one dataset out when
  `frame` has >= 3 datasets, else `num_model_folds` folds of its models."""
  if frame["dataset"].nunique() >= 3:
    return dataset_folds(frame, max_folds=max_folds, seed=seed)
  return model_folds(frame, min(num_model_folds, len(frame)), seed)


class OutOfFold(NamedTuple):
  """Predictions of rows never fitted on: `score` (ranking) and `top1` (NaN if the method
  has no top-1 prediction), aligned with the frame's rows; NaN where no fold predicted.
  `fitted`: each fold's fitted method, when asked for (`keep_fitted`)."""
  score: np.ndarray
  top1: np.ndarray
  fitted: tuple = ()


def predict_rows(fitted: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
  """(score, top1) of `fitted` on `frame`; top1 NaN without `predict_top1`. A blend scores
  once for both (`rank_columns`)."""
  if hasattr(fitted, "rank_columns"):
    score, (top1, _, _), _, _ = fitted.rank_columns(frame)
  else:
    score = fitted.predict(frame)
    top1 = (fitted.predict_top1(frame) if hasattr(fitted, "predict_top1")
            else np.full(len(frame), np.nan))
  score = np.asarray(score, np.float64)
  if score.shape != (len(frame),):
    raise ValueError(f"a fitted method returned shape {score.shape}, expected ({len(frame)},)")
  return score, np.asarray(top1, np.float64)


def out_of_fold(frame: pd.DataFrame, method: Method, folds: Sequence[Fold],
                keep_fitted: bool = False) -> OutOfFold:
  """Fits `method` on each fold's training rows and predicts its test rows."""
  frame = frame.reset_index(drop=True)
  score, top1 = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
  kept = []
  for fold in folds:
    fitted = method.fit(frame.iloc[fold.train].reset_index(drop=True))
    score[fold.test], top1[fold.test] = predict_rows(
        fitted, frame.iloc[fold.test].reset_index(drop=True))
    if keep_fitted:
      kept.append(fitted)
  return OutOfFold(score, top1, tuple(kept))


def leave_one_dataset_out(history: pd.DataFrame, method: Method,
                          datasets: Sequence[str] | None = None) -> OutOfFold:
  """`out_of_fold` over `dataset_folds(history, datasets)`: each dataset predicted by a fit on
  all the others."""
  return out_of_fold(history, method, dataset_folds(history, datasets))


def _metrics(method: Method, frame: pd.DataFrame, predicted: OutOfFold,
             repeat: int) -> pd.DataFrame:
  table = metrics.per_dataset(frame, predicted.score, top1=predicted.top1)
  return table.assign(method=method.name, repeat=repeat)


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
    fold = Fold(np.sort(order[num_test:]), np.sort(order[:num_test]), f"split {repeat}")
    test = rows.iloc[fold.test].reset_index(drop=True)
    for method in methods:
      predicted = out_of_fold(rows, method, [fold])
      tables.append(_metrics(method, test, OutOfFold(predicted.score[fold.test],
                                                     predicted.top1[fold.test]), repeat))
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
  tables = []
  for method in methods:
    score, top1 = predict_rows(method.fit(train), test)
    tables.append(_metrics(method, test, OutOfFold(score, top1), 0))
  return _results(tables)


def setting3(history: pd.DataFrame, methods: Sequence[Method],
             datasets: Sequence[str] | None = None) -> pd.DataFrame:
  """Leave one dataset out, for each of `datasets` (all of the history's when None)."""
  datasets = sorted(history["dataset"].unique()) if datasets is None else list(datasets)
  _check(history, methods, datasets, "datasets")
  if history["dataset"].nunique() < 2:
    raise ValueError("setting3 needs a history with at least 2 datasets")
  history = history.reset_index(drop=True)
  held = history["dataset"].isin(datasets).to_numpy()
  tables = []
  for method in methods:
    predicted = leave_one_dataset_out(history, method, datasets)
    tables.append(_metrics(method, history[held].reset_index(drop=True),
                           OutOfFold(predicted.score[held], predicted.top1[held]), 0))
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
