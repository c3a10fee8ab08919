"""Predictions on the user's scale: a within-dataset z-score turned into top-1 percent.

A ranking method predicts which models are better *within* a dataset; a user also wants to
know what accuracy to expect. The two parts come from different places:

* the dataset's level and spread — what the history says about datasets like the new one.
  Each training dataset's accuracies are put on a chance-free scale,
  `a = (top1 - chance) / (100 - chance)` with `chance = 100 / num_classes`, and summarised by
  their mean (level) and standard deviation (spread). A new dataset's level is predicted from
  its descriptors (log training size, log classes, difficulty where the history has them) by
  ridge regression over the training datasets, shrunk hard toward their mean level
  (`PENALTY_PER_DATASET`); its spread is the training datasets' mean spread;
* each model's offset — the recommender's calibrated z-score `z`.

    top1 = chance + (100 - chance) * clip(level + spread * z, 0, 1)

so every prediction lies in [chance, 100]. A descriptor beyond the training datasets' range is
clipped to it: the level is never extrapolated. The interval is ± one standard deviation of what
is not known: the recommender's out-of-fold residual (in z units, times the spread) and the
training datasets' level residuals around the regression, combined in quadrature.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema

STATE_VERSION = 1


def chance(frame: pd.DataFrame) -> np.ndarray:
  """float64 [rows]: 100 / num_classes (0 where the class count is unknown or < 2)."""
  if "num_classes" not in frame.columns:
    return np.zeros(len(frame))
  classes = pd.to_numeric(frame["num_classes"], errors="coerce").to_numpy(np.float64)
  return np.where(np.isfinite(classes) & (classes >= 2), 100.0 / np.where(
      np.isfinite(classes) & (classes >= 2), classes, 1.0), 0.0)


def above_chance(frame: pd.DataFrame) -> np.ndarray:
  """float64 [rows]: `(top1 - chance) / (100 - chance)` of the training rows."""
  base = chance(frame)
  return (frame[schema.TARGET_COLUMN].to_numpy(np.float64) - base) / (100.0 - base)


DESCRIPTORS = (("num_train", True), ("num_classes", True), ("difficulty", False))


def descriptors(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
  """float64 [rows, len(names)]: the dataset descriptors (log of counts); NaN if missing."""
  logs = dict(DESCRIPTORS)
  out = np.full((len(frame), len(names)), np.nan)
  for j, name in enumerate(names):
    if name in frame.columns:
      values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
      out[:, j] = np.log(np.where(values > 0, values, np.nan)) if logs[name] else values
  return out


@dataclasses.dataclass(frozen=True, eq=False)
class ScaleFitted:
  """The level regression and mean spread of the training datasets (module docstring)."""
  names: tuple[str, ...]   # descriptors used
  centre: np.ndarray       # float64 [P]: their training mean
  width: np.ndarray        # float64 [P]: their training std
  coef: np.ndarray         # float64 [P]: ridge weights on standardised descriptors
  low: np.ndarray          # float64 [P]: the training datasets' smallest descriptor ...
  high: np.ndarray         # float64 [P]: ... and largest (a new one is clipped to them)
  mean_level: float
  spread: float
  level_residual: float

  def level(self, frame: pd.DataFrame) -> np.ndarray:
    """float64 [rows]: the predicted chance-free level of each row's dataset."""
    # Never extrapolated: a descriptor beyond the training datasets' range (a user's LogME
    # on another scale, a class count none of them had) counts as the nearest one seen.
    x = np.clip(descriptors(frame, self.names), self.low, self.high)
    x = (x - self.centre) / self.width
    return self.mean_level + np.nan_to_num(x, nan=0.0) @ self.coef

  def top1(self, frame: pd.DataFrame, z: np.ndarray, residual: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted top-1, low, high) in percent for rows of `frame` with calibrated z-scores."""
    frame = frame.reset_index(drop=True)
    base = chance(frame)
    half = np.sqrt((self.spread * residual) ** 2 + self.level_residual ** 2)
    centre = self.level(frame) + self.spread * np.asarray(z, np.float64)
    to_top1 = lambda a: base + (100.0 - base) * np.clip(a, 0.0, 1.0)  # noqa: E731
    return to_top1(centre), to_top1(centre - half), to_top1(centre + half)

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return ({"centre": self.centre, "width": self.width, "coef": self.coef, "low": self.low,
             "high": self.high},
            {"scale_state_version": STATE_VERSION, "names": list(self.names),
             "mean_level": self.mean_level, "spread": self.spread,
             "level_residual": self.level_residual})

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "ScaleFitted":
    if not isinstance(meta, dict) or meta.get("scale_state_version") != STATE_VERSION:
      raise ValueError(f"meta must be a ScaleFitted state of version {STATE_VERSION}")
    names = tuple(map(str, meta["names"]))
    parts = [np.asarray(arrays[k], np.float64)
             for k in ("centre", "width", "coef", "low", "high")]
    if any(p.shape != (len(names),) for p in parts):
      raise ValueError(f"centre, width, coef, low and high must have shape ({len(names)},)")
    return cls(names, *parts, float(meta["mean_level"]), float(meta["spread"]),
               float(meta["level_residual"]))


# Ridge penalty per training dataset on the standardised descriptors: a level regression
# over a handful of datasets overfits; at 8 per dataset it moves the mean level only where the
# descriptors say so strongly (chosen on the public histories' leave-one-out MAE against the
# mean level alone and smaller penalties; an inner choice of the penalty did worse).
PENALTY_PER_DATASET = 8.0


def ridge_solve(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
  """Ridge weights of `x` for `y - mean(y)` (the intercept is the mean, unpenalised): the
  level regression here and `methods.RidgeMethod`."""
  if not x.shape[1]:
    return np.zeros(0)
  return np.linalg.solve(x.T @ x + penalty * np.eye(x.shape[1]), x.T @ (y - y.mean()))


def fit_scale(train: pd.DataFrame) -> ScaleFitted:
  """The level regression and spread of `train`'s datasets (module docstring)."""
  train = train.reset_index(drop=True)
  key = train["dataset"].astype(str).to_numpy()
  a = pd.Series(above_chance(train)).groupby(key)
  first = train.groupby(key, sort=True).head(1).set_index(key[train.groupby(key).head(1).index])
  datasets = sorted(a.groups)
  level = a.mean().reindex(datasets).to_numpy(np.float64)
  spread = float(np.nan_to_num(a.std(ddof=0).reindex(datasets).to_numpy(np.float64)).mean())
  all_names = tuple(n for n, _ in DESCRIPTORS)
  x = descriptors(first.loc[datasets], all_names)
  usable = [j for j in range(x.shape[1])
            if np.all(np.isfinite(x[:, j])) and np.std(x[:, j]) > 0]
  names = tuple(all_names[j] for j in usable)
  x = x[:, usable]
  centre, width = x.mean(0), x.std(0)
  xs = (x - centre) / np.where(width > 0, width, 1.0)
  mean_level = float(level.mean())
  coef = ridge_solve(xs, level, PENALTY_PER_DATASET * len(datasets))
  fitted = mean_level + xs @ coef
  return ScaleFitted(names, centre, np.where(width > 0, width, 1.0), coef, x.min(0), x.max(0),
                     mean_level, spread,
                     float(np.sqrt(np.mean((level - fitted) ** 2))))
