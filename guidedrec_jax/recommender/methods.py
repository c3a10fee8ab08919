"""The learned methods on encoded fields: closed-form ridge and LR / FM / FFM (Optax).

Both fit `fit(train) -> fitted.Fitted` on history tables (rows of (dataset, model) pairs)
and predict with `Fitted.predict(frame)`: float [len(frame)], higher = better model. They are
built from config blocks by `recommender/registry.py` (the one table of defaults); the
encoding both share (`encode`, `design_matrix`) is used by the trees too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import field_encoding, fitted, scale
from guidedrec_jax.recommender import train as train_lib
from guidedrec_jax.recommender.preprocess import Preprocess


def design_matrix(pairs) -> np.ndarray:
  """Dense [R, num_features] design matrix of encoded pairs."""
  out = np.zeros((len(pairs.targets), pairs.num_features))
  np.put_along_axis(out, pairs.feature_ids.astype(np.int64), pairs.values.astype(np.float64),
                    axis=1)
  return out


def encode(fields: str, train: pd.DataFrame, preprocess: Preprocess, d_interactions: str,
           extra: tuple = ()):
  """(fitted encoder, encoded training rows) of `fields` on `train`'s preprocessed rows."""
  rows = preprocess.training_rows(train)
  encoder = field_encoding.FeatureEncoder(field_encoding.with_dataset_interactions(
      field_encoding.resolve_fields(fields, rows.columns, field_encoding.extra_fields(extra)),
      d_interactions))
  return encoder, encoder.fit_transform(rows)


@dataclasses.dataclass
class RidgeMethod:
  """Closed-form ridge regression on the encoded fields (LR without an optimiser)."""
  name: str
  fields: str
  l2: float = 1.0
  target: str = "dataset_z"
  score_norm: str = "dataset_z"
  extra_fields: tuple = ()  # declared fields (field_encoding.extra_fields)
  signs: tuple = ()         # declared score directions (preprocess.Preprocess.signs)
  d_interactions: str = "id_only"

  def fit(self, train: pd.DataFrame) -> fitted.Fitted:
    if not self.l2 > 0:
      raise ValueError(f"method {self.name!r}: l2 must be > 0, got {self.l2}")
    preprocess = Preprocess(self.target, self.score_norm, tuple(self.signs))
    encoder, pairs = encode(self.fields, train, preprocess, self.d_interactions,
                            self.extra_fields)
    x, y = design_matrix(pairs), pairs.targets.astype(np.float64)
    weights = scale.ridge_solve(x, y, self.l2)
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
  target: str = "dataset_z"
  score_norm: str = "dataset_z"
  num_seeds: int = 1
  d_interactions: str = "id_only"
  extra_fields: tuple = ()  # declared fields (field_encoding.extra_fields)
  signs: tuple = ()         # declared score directions (preprocess.Preprocess.signs)
  last_fit: tuple | None = dataclasses.field(default=None, repr=False)

  def fit(self, train: pd.DataFrame) -> fitted.Fitted:
    if int(self.num_seeds) < 1:
      raise ValueError(f"method {self.name!r}: num_seeds must be >= 1, got {self.num_seeds}")
    preprocess = Preprocess(self.target, self.score_norm, tuple(self.signs))
    encoder, pairs = encode(self.fields, train, preprocess, self.d_interactions,
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
