"""The three evaluation settings, and the methods they compare.

A method is anything with a `name` and `fit_predict(train, test) -> predictions`, where
`train` and `test` are history tables (rows of (dataset, model) pairs) and the predictions
are float [len(test)], higher = better model. Learned methods fit their feature encoder on
`train` only, on raw `top1` or (`target="dataset_z"`) on `top1` z-scored within each
training dataset; baselines read a column of `test` (a raw MS score or an MS-free
heuristic) or average the training history.

Settings (all return one metrics row per (method, repeat, dataset), see `metrics`):

1. `setting1`: one dataset; its models split at random 80/20, `repeats` times with seeds
   `seed, seed+1, ...`; train on the 80 %, rank the 20 % unseen models.
2. `setting2`: train on every row of `train_datasets`, rank all models on `test_datasets`.
3. `setting3`: leave one dataset out: for each dataset, train on all the others.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import features, metrics
from guidedrec_jax.recommender import train as train_lib


class Method(Protocol):
  name: str

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    ...


@dataclasses.dataclass
class ColumnBaseline:
  """Ranks models by one column of the test rows (`sign` -1: lower is better).

  Missing values get the median of the others, so such a model is neither chosen first nor
  pushed last for lack of a score.
  """
  name: str
  column: str
  sign: float = 1.0

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    if self.column not in test.columns:
      raise ValueError(f"method {self.name!r}: test rows have no column {self.column!r}")
    return self.sign * _fill_missing(pd.to_numeric(test[self.column], errors="coerce"))


@dataclasses.dataclass
class HistoryMeanBaseline:
  """Ranks a model by its mean accuracy on the training datasets, z-scored within each.

  The MS-free "good elsewhere, good here" heuristic for settings 2 and 3; models without
  training rows get the median (in setting 1 every test model is unseen: no information).
  """
  name: str = "model mean (train)"

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    standardized = standardize_within_datasets(train)["top1"]
    return _fill_missing(test["model"].map(standardized.groupby(train["model"]).mean()))


def standardize_within_datasets(frame: pd.DataFrame) -> pd.DataFrame:
  """`frame` with `top1` z-scored within each dataset (a constant dataset's becomes 0).

  Training on these targets weighs every dataset's ranking equally, however wide its spread
  of accuracies; Pearson, Spearman, Kendall and regret are unchanged by it per dataset.
  """
  by_dataset = frame.groupby("dataset")["top1"]
  spread = by_dataset.transform("std", ddof=0).replace(0.0, 1.0)
  return frame.assign(top1=(frame["top1"] - by_dataset.transform("mean")) / spread)


TARGETS = ("raw", "dataset_z")


def _training_rows(train: pd.DataFrame, target: str) -> pd.DataFrame:
  if target not in TARGETS:
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
  return standardize_within_datasets(train) if target == "dataset_z" else train


def _fill_missing(values: pd.Series) -> np.ndarray:
  """Float values with NaN replaced by the median of the others (0 if none is finite)."""
  values = values.to_numpy(np.float64)
  finite = np.isfinite(values)
  return np.where(finite, values, np.median(values[finite]) if finite.any() else 0.0)


@dataclasses.dataclass
class RidgeMethod:
  """Closed-form ridge regression on the encoded fields (LR without an optimiser)."""
  name: str
  fields: str
  l2: float = 1.0
  target: str = "raw"

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    if not self.l2 > 0:
      raise ValueError(f"method {self.name!r}: l2 must be > 0, got {self.l2}")
    train = _training_rows(train, self.target)
    encoder = features.FeatureEncoder(features.resolve_fields(self.fields, train.columns))
    train_pairs = encoder.fit_transform(train)
    x, y = _design(train_pairs), train_pairs.targets.astype(np.float64)
    gram = x.T @ x + self.l2 * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x.T @ (y - y.mean()))
    return _design(encoder.transform(test)) @ weights + y.mean()


def _design(pairs) -> np.ndarray:
  """Dense [R, num_features] design matrix of encoded pairs."""
  out = np.zeros((len(pairs.targets), pairs.num_features))
  np.put_along_axis(out, pairs.feature_ids.astype(np.int64), pairs.values.astype(np.float64),
                    axis=1)
  return out


@dataclasses.dataclass
class RecommenderMethod:
  """LR / FM / FFM trained with `train.fit`; keeps the last fit for plots (`last_fit`)."""
  name: str
  fields: str
  config: train_lib.TrainConfig
  target: str = "raw"
  last_fit: tuple | None = dataclasses.field(default=None, repr=False)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    train = _training_rows(train, self.target)
    encoder = features.FeatureEncoder(features.resolve_fields(self.fields, train.columns))
    result = train_lib.fit(encoder.fit_transform(train), self.config)
    self.last_fit = (encoder, result)
    return train_lib.predict(self.config.model, result.params, encoder.transform(test))


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
