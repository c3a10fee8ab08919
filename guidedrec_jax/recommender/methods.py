"""The methods the protocols compare, and the builder of a learned method from a config block.

A method has a `name` and `fit_predict(train, test) -> predictions`: `train` and `test` are
history tables (rows of (dataset, model) pairs), predictions float [len(test)], higher =
better model. Learned methods (`RidgeMethod`, `RecommenderMethod`) also split into
`fit(train) -> fitted.Fitted` and `Fitted.predict(frame)`; `fit_predict` is the two in a row.
Baselines read a column of `test` (a raw MS score, signed by the scores registry, or an
MS-free heuristic) or average the training history.

`method_from_config(block)` builds the learned method a config block describes; the block's
keys are those of `default_method_config()`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import ml_collections
import numpy as np
import pandas as pd

from guidedrec_jax.history import generic
from guidedrec_jax.recommender import features, fitted
from guidedrec_jax.recommender import train as train_lib
from guidedrec_jax.recommender.preprocess import (SCORE_NORMS, TARGETS, Preprocess,
                                                  within_dataset)


class Method(Protocol):
  name: str

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    ...


def _fill_missing(values: pd.Series) -> np.ndarray:
  """Float values with NaN replaced by the median of the others (0 if none is finite)."""
  values = values.to_numpy(np.float64)
  finite = np.isfinite(values)
  return np.where(finite, values, np.median(values[finite]) if finite.any() else 0.0)


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


def standardize_within_datasets(frame: pd.DataFrame) -> pd.DataFrame:
  """`frame` with `top1` z-scored within each dataset (a constant dataset's becomes 0).

  Training on these targets weighs every dataset's ranking equally, however wide its spread
  of accuracies; Pearson, Spearman, Kendall and regret are unchanged by it per dataset.
  """
  z = within_dataset(frame["top1"].astype(float), frame["dataset"], "dataset_z")
  return frame.assign(top1=z.fillna(0.0))


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


def design_matrix(pairs) -> np.ndarray:
  """Dense [R, num_features] design matrix of encoded pairs."""
  out = np.zeros((len(pairs.targets), pairs.num_features))
  np.put_along_axis(out, pairs.feature_ids.astype(np.int64), pairs.values.astype(np.float64),
                    axis=1)
  return out


def _encode(fields: str, train: pd.DataFrame, preprocess: Preprocess, d_interactions: str,
            extra: tuple = ()):
  rows = preprocess.training_rows(train)
  encoder = features.FeatureEncoder(features.with_dataset_interactions(
      features.resolve_fields(fields, rows.columns, features.extra_fields(extra)),
      d_interactions))
  return encoder, encoder.fit_transform(rows)


@dataclasses.dataclass
class RidgeMethod:
  """Closed-form ridge regression on the encoded fields (LR without an optimiser)."""
  name: str
  fields: str
  l2: float = 1.0
  target: str = "raw"
  score_norm: str = "global_z"
  extra_fields: tuple = ()  # declared fields (features.extra_fields)

  def fit(self, train: pd.DataFrame) -> fitted.Fitted:
    if not self.l2 > 0:
      raise ValueError(f"method {self.name!r}: l2 must be > 0, got {self.l2}")
    preprocess = Preprocess(self.target, self.score_norm)
    encoder, pairs = _encode(self.fields, train, preprocess, "all", self.extra_fields)
    x, y = design_matrix(pairs), pairs.targets.astype(np.float64)
    gram = x.T @ x + self.l2 * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x.T @ (y - y.mean()))
    params = {"bias": np.array([y.mean()], np.float32), "w": weights[None].astype(np.float32)}
    info = {"name": self.name, "fields": self.fields, "l2": float(self.l2)}
    return fitted.Fitted("ridge", encoder, params, preprocess, info)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)


@dataclasses.dataclass
class RecommenderMethod:
  """LR / FM / FFM trained with `train.fit`, an ensemble over `num_seeds` training seeds.

  Members use seeds `config.seed, config.seed + 1, ...`; `last_fit` keeps (encoder,
  FitResult) of the first member of the last fit, for plots.
  """
  name: str
  fields: str
  config: train_lib.TrainConfig
  target: str = "raw"
  score_norm: str = "global_z"
  num_seeds: int = 1
  d_interactions: str = "all"
  extra_fields: tuple = ()  # declared fields (features.extra_fields)
  last_fit: tuple | None = dataclasses.field(default=None, repr=False)

  def fit(self, train: pd.DataFrame) -> fitted.Fitted:
    if int(self.num_seeds) < 1:
      raise ValueError(f"method {self.name!r}: num_seeds must be >= 1, got {self.num_seeds}")
    preprocess = Preprocess(self.target, self.score_norm)
    encoder, pairs = _encode(self.fields, train, preprocess, self.d_interactions,
                             self.extra_fields)
    results = [train_lib.fit(pairs, self.config._replace(seed=self.config.seed + i),
                             interact=encoder.interaction_weights())
               for i in range(int(self.num_seeds))]
    self.last_fit = (encoder, results[0])
    info = {"name": self.name, "fields": self.fields, "train": self.config._asdict(),
            "best_epochs": [r.best_epoch for r in results]}
    return fitted.Fitted(self.config.model, encoder,
                         fitted.stack_members([r.params for r in results]), preprocess, info)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)


def default_method_config() -> ml_collections.ConfigDict:
  """Every key `method_from_config` reads, with defaults."""
  train = train_lib.TrainConfig()._asdict()
  return ml_collections.ConfigDict(dict(
      name="",                 # "" = "<MODEL> (<fields>)"
      model="fm",              # lr | fm | ffm | ridge
      fields="d,m",            # features.resolve_fields spec
      target="dataset_z",      # preprocess.TARGETS
      score_norm="dataset_z",  # preprocess.SCORE_NORMS
      ridge_l2=1.0,            # ridge only
      num_seeds=1,             # ensemble members (training seeds seed, seed+1, ...)
      d_interactions="id_only",  # features.D_INTERACTIONS: all | id_only
      extra_fields={},         # declared columns: name -> "<kind>:<group>[:log]"
      seed=0,
      train={k: v for k, v in train.items() if k not in ("model", "seed")},
  ))


def method_from_config(block: ml_collections.ConfigDict | dict[str, Any],
                       seed: int | None = None) -> RidgeMethod | RecommenderMethod:
  """The learned method a config block (keys of `default_method_config`) describes.

  Args:
    block: the block; missing keys take their defaults, unknown keys are an error.
    seed: overrides `block.seed` when given.

  Raises:
    ValueError: an unknown key or a bad value, naming it.
  """
  given = block.to_dict() if isinstance(block, ml_collections.ConfigDict) else dict(block)
  defaults = default_method_config().to_dict()
  unknown = sorted(set(given) - set(defaults))
  if unknown:
    raise ValueError(f"method config has unknown keys {unknown}; known: {sorted(defaults)}")
  train_given = dict(given.pop("train", {}) or {})
  bad_train = sorted(set(train_given) - set(defaults["train"]))
  if bad_train:
    raise ValueError(f"method config train has unknown keys {bad_train}")
  cfg = {**defaults, **given, "train": {**defaults["train"], **train_given}}
  if cfg["model"] not in fitted.KINDS:
    raise ValueError(f"model must be one of {fitted.KINDS}, got {cfg['model']!r}")
  if cfg["target"] not in TARGETS or cfg["score_norm"] not in SCORE_NORMS:
    raise ValueError(f"target must be in {TARGETS} and score_norm in {SCORE_NORMS}, got "
                     f"{cfg['target']!r}, {cfg['score_norm']!r}")
  name = cfg["name"] or f"{cfg['model'].upper()} ({cfg['fields']})"
  extra = generic.declared_fields(cfg["extra_fields"] or {})
  if cfg["model"] == "ridge":
    return RidgeMethod(name, cfg["fields"], float(cfg["ridge_l2"]), cfg["target"],
                       cfg["score_norm"], extra)
  config = train_lib.check_config(train_lib.TrainConfig(
      **cfg["train"], model=cfg["model"], seed=int(cfg["seed"] if seed is None else seed)))
  return RecommenderMethod(name, cfg["fields"], config, cfg["target"], cfg["score_norm"],
                           int(cfg["num_seeds"]), cfg["d_interactions"], extra)
