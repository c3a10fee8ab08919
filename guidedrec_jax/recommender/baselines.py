"""The history-free and history-mean baselines, fitted like every other method.

* `ColumnMethod`: ranks models by one column of the rows to rank (a raw MS score signed by
  `preprocess.score_sign`, or a meta column such as `params_m`). Fitting keeps nothing but
  the column and its sign.
* `ModelMeanMethod`: "good elsewhere, good here": a model's mean within-dataset z-scored
  accuracy over the training datasets. It also keeps each model's mean raw top-1 over them,
  the naive answer to "what accuracy will I get" (`predict_top1`), against which the
  recommender's `predicted_top1` is judged.

Models without a value (no score, no training rows) get the median of the others: neither
chosen first nor pushed last for lack of data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema
from guidedrec_jax.recommender.preprocess import zscore_within

STATE_VERSION = 1


def fill_missing(values: np.ndarray) -> np.ndarray:
  """Float values with NaN replaced by the median of the others (0 if none is finite)."""
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values)
  return np.where(finite, values, np.median(values[finite]) if finite.any() else 0.0)


def dataset_z(frame: pd.DataFrame) -> np.ndarray:
  """float64 [rows]: `top1` z-scored within each dataset (a constant dataset's becomes 0)."""
  return zscore_within(frame[schema.TARGET_COLUMN].to_numpy(np.float64),
                       frame["dataset"].to_numpy())


def _check_state(meta: dict[str, Any], kind: str) -> None:
  if not isinstance(meta, dict) or meta.get("baseline_state_version") != STATE_VERSION or (
      meta.get("kind") != kind):
    raise ValueError(f"meta must be a {kind!r} baseline state of version {STATE_VERSION}")


@dataclasses.dataclass(frozen=True)
class ColumnFitted:
  """Ranks rows by `sign * column` (module docstring)."""
  column: str
  sign: float
  STATE_TYPE = "column"

  def predict(self, frame: pd.DataFrame) -> np.ndarray:
    if self.column not in frame.columns:
      raise ValueError(f"rows to rank have no column {self.column!r}")
    return self.sign * fill_missing(pd.to_numeric(frame[self.column], errors="coerce"))

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {}, {"baseline_state_version": STATE_VERSION, "kind": "column",
                "column": self.column, "sign": self.sign}

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "ColumnFitted":
    del arrays
    _check_state(meta, "column")
    return cls(str(meta["column"]), float(meta["sign"]))


@dataclasses.dataclass
class ColumnMethod:
  """One column of the rows to rank, signed (`sign` -1: lower is better)."""
  name: str
  column: str
  sign: float = 1.0

  def __post_init__(self):
    if self.sign not in (1.0, -1.0):
      raise ValueError(f"method {self.name!r}: sign must be +1 or -1, got {self.sign}")

  def fit(self, train: pd.DataFrame) -> ColumnFitted:
    del train
    return ColumnFitted(self.column, float(self.sign))

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)


@dataclasses.dataclass(frozen=True, eq=False)
class ModelMeanFitted:
  """Each training model's mean z-scored and mean raw top-1 over the training datasets."""
  models: tuple[str, ...]
  mean_z: np.ndarray     # float64 [M]
  mean_top1: np.ndarray  # float64 [M]
  STATE_TYPE = "model_mean"

  def _lookup(self, frame: pd.DataFrame, table: np.ndarray) -> np.ndarray:
    index = {m: j for j, m in enumerate(self.models)}
    return np.array([table[index[m]] if m in index else np.nan
                     for m in frame["model"].astype(str)], np.float64)

  def predict(self, frame: pd.DataFrame) -> np.ndarray:
    return fill_missing(self._lookup(frame, self.mean_z))

  def predict_top1(self, frame: pd.DataFrame) -> np.ndarray:
    """The model's mean raw top-1 on the training datasets (percent)."""
    return fill_missing(self._lookup(frame, self.mean_top1))

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return ({"mean_z": np.asarray(self.mean_z, np.float64),
             "mean_top1": np.asarray(self.mean_top1, np.float64)},
            {"baseline_state_version": STATE_VERSION, "kind": "model_mean",
             "models": list(self.models)})

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]
                 ) -> "ModelMeanFitted":
    _check_state(meta, "model_mean")
    models = tuple(map(str, meta["models"]))
    z, top1 = np.asarray(arrays["mean_z"]), np.asarray(arrays["mean_top1"])
    if z.shape != (len(models),) or top1.shape != (len(models),):
      raise ValueError(f"mean_z and mean_top1 must have shape ({len(models)},)")
    return cls(models, z, top1)


@dataclasses.dataclass
class ModelMeanMethod:
  """A model's mean within-dataset z-scored accuracy over the training datasets."""
  name: str = "model mean"

  def fit(self, train: pd.DataFrame) -> ModelMeanFitted:
    if train.empty or schema.TARGET_COLUMN not in train.columns:
      raise ValueError(f"method {self.name!r}: train must hold rows with a 'top1' column")
    train = train.reset_index(drop=True)
    models = train["model"].astype(str)
    z = pd.Series(dataset_z(train)).groupby(models.to_numpy()).mean()
    top1 = train[schema.TARGET_COLUMN].astype(float).groupby(models.to_numpy()).mean()
    names = tuple(sorted(z.index))
    return ModelMeanFitted(names, z.reindex(names).to_numpy(np.float64),
                           top1.reindex(names).to_numpy(np.float64))

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)
