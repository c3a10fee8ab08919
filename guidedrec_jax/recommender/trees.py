"""Gradient-boosted trees on the encoded fields, saved as plain arrays (no pickle).

`TreeMethod.fit` trains scikit-learn's `HistGradientBoostingRegressor` on the dense design
matrix of the encoded fields (the same encoding as ridge and the FMs) and keeps its trees as
flat node arrays: every tree's nodes concatenated, child indices made global. `TreeFitted`
walks them itself — numerical splits only (the design matrix is numeric and never NaN after
encoding; a NaN goes the side the tree learned for missing values) — so a saved forest
predicts exactly what scikit-learn's `predict` does, without sklearn objects in the state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import threadpoolctl

from guidedrec_jax.recommender import field_encoding
from guidedrec_jax.recommender.methods import design_matrix, encode
from guidedrec_jax.recommender.preprocess import Preprocess

STATE_VERSION = 1
NODE_FIELDS = ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right",
               "is_leaf")


def forest_arrays(model: Any) -> dict[str, np.ndarray]:
  """The fitted forest as flat arrays: node fields (global child ids), tree roots, baseline."""
  parts = {name: [] for name in NODE_FIELDS}
  roots, offset = [], 0
  for (predictor,) in model._predictors:  # pylint: disable=protected-access
    nodes = predictor.nodes
    if np.any(nodes["is_categorical"][~nodes["is_leaf"].astype(bool)]):
      raise ValueError("categorical splits are not supported (the design matrix is numeric)")
    roots.append(offset)
    for name in NODE_FIELDS:
      values = nodes[name]
      if name in ("left", "right"):
        values = values.astype(np.int64) + offset
      parts[name].append(values)
    offset += len(nodes)
  out = {f"node_{name}": np.concatenate(values) if values else np.zeros(0)
         for name, values in parts.items()}
  out["node_value"] = out["node_value"].astype(np.float64)
  out["node_num_threshold"] = out["node_num_threshold"].astype(np.float64)
  for name in ("feature_idx", "left", "right"):
    out[f"node_{name}"] = out[f"node_{name}"].astype(np.int64)
  for name in ("missing_go_to_left", "is_leaf"):
    out[f"node_{name}"] = out[f"node_{name}"].astype(bool)
  out["roots"] = np.asarray(roots, np.int64)
  baseline = model._baseline_prediction  # pylint: disable=protected-access
  out["baseline"] = np.asarray(baseline, np.float64).reshape(1)
  return out


def forest_predict(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
  """float64 [rows]: baseline + the sum over trees of each row's leaf value."""
  x = np.asarray(x, np.float64)
  rows = np.arange(len(x))
  out = np.full(len(x), float(arrays["baseline"][0]))
  leaf, feature = arrays["node_is_leaf"], arrays["node_feature_idx"]
  for root in arrays["roots"]:
    node = np.full(len(x), root, np.int64)
    active = ~leaf[node]
    while active.any():
      at = node[active]
      values = x[rows[active], feature[at]]
      left = np.where(np.isnan(values), arrays["node_missing_go_to_left"][at],
                      values <= arrays["node_num_threshold"][at])
      node[active] = np.where(left, arrays["node_left"][at], arrays["node_right"][at])
      active = ~leaf[node]
    out += arrays["node_value"][node]
  return out


@dataclasses.dataclass(frozen=True, eq=False)
class TreeFitted:
  """A fitted `TreeMethod`: encoder, preprocessing choices and the forest's arrays."""
  encoder: field_encoding.FeatureEncoder
  preprocess: Preprocess
  forest: dict[str, np.ndarray]
  STATE_TYPE = "trees"

  def predict(self, frame: pd.DataFrame) -> np.ndarray:
    if frame.empty:
      return np.zeros((0,), np.float64)
    rows = self.preprocess.features(frame.reset_index(drop=True))
    return forest_predict(self.forest, design_matrix(self.encoder.transform(rows)))

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return dict(self.forest), {"trees_state_version": STATE_VERSION,
                               "encoder": self.encoder.get_state(),
                               "preprocess": self.preprocess.to_json()}

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "TreeFitted":
    if not isinstance(meta, dict) or meta.get("trees_state_version") != STATE_VERSION:
      raise ValueError(f"meta must be a TreeFitted state of version {STATE_VERSION}")
    names = {f"node_{n}" for n in NODE_FIELDS} | {"roots", "baseline"}
    if set(arrays) != names:
      raise ValueError(f"arrays must hold {sorted(names)}, got {sorted(arrays)}")
    return cls(field_encoding.FeatureEncoder.from_state(meta["encoder"]),
               Preprocess.from_json(meta["preprocess"]),
               {k: np.asarray(v) for k, v in arrays.items()})


@dataclasses.dataclass
class TreeMethod:
  """`HistGradientBoostingRegressor` on the encoded fields (dense design) of the rows."""
  name: str
  fields: str
  target: str = "dataset_z"
  score_norm: str = "dataset_z"
  max_iter: int = 200
  learning_rate: float = 0.05
  min_samples_leaf: int = 10  # sklearn's 20 leaves a 5-dataset history few splits
  seed: int = 0
  extra_fields: tuple = ()  # declared fields (field_encoding.extra_fields)
  signs: tuple = ()         # declared score directions (preprocess.Preprocess.signs)

  def fit(self, train: pd.DataFrame) -> TreeFitted:
    # Imported here: ranking with saved trees never needs scikit-learn (a fast warm call).
    from sklearn import ensemble  # pylint: disable=import-outside-toplevel
    preprocess = Preprocess(self.target, self.score_norm, tuple(self.signs))
    encoder, pairs = encode(self.fields, train, preprocess, "all", self.extra_fields)
    model = ensemble.HistGradientBoostingRegressor(
        max_iter=int(self.max_iter), learning_rate=float(self.learning_rate),
        min_samples_leaf=int(self.min_samples_leaf), random_state=int(self.seed))
    # One OpenMP thread: on a few hundred rows the thread pool's start-up costs ~10x the fit
    # (and oversubscribes a shared box).
    with threadpoolctl.threadpool_limits(1):
      model.fit(design_matrix(pairs), pairs.targets)
    return TreeFitted(encoder, preprocess, forest_arrays(model))

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)
