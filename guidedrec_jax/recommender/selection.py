"""Honest selection: a method that picks its own configuration by an inner cross-validation.

`SelectedMethod` holds candidate learned methods (a grid over `methods.default_method_config`
keys). `fit(train)` scores every candidate by an inner cross-validation on `train` alone —
leave one dataset out over `train`'s datasets when it has at least `MIN_INNER_DATASETS`,
else `inner_folds` random folds of its models (setting 1, one dataset) — picks the candidate
with the best mean `metric`, and refits it on all of `train`. The outer protocol's held-out
dataset (or models) is never seen by the choice, so the reported folds are not tuned on.
The choice of each fit is kept in `choices` and in the returned `Fitted.info["selection"]`.

`TreeMethod` is the gradient-boosted-trees baseline (scikit-learn's
`HistGradientBoostingRegressor`) on the same encoded features as the learned methods.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import ml_collections
import numpy as np
import pandas as pd
from sklearn import ensemble

from guidedrec_jax.history import generic
from guidedrec_jax.recommender import features, fitted, methods, metrics, neighbors
from guidedrec_jax.recommender.preprocess import Preprocess

MIN_INNER_DATASETS = 3
SELECT_METRICS = ("pearson", "spearman", "kendall", "neg_regret")


def grid_blocks(base: dict[str, Any], grid: dict[str, Any]) -> list[dict[str, Any]]:
  """Every combination of `grid` (key → candidate values; `train` → {train key → values}).

  Returns:
    One method-config block per combination over `base`, named `<base name> [key=value, ...]`.
  """
  axes = [((k,), tuple(v)) for k, v in sorted(grid.items()) if k != "train"]
  axes += [(("train", k), tuple(v)) for k, v in sorted(dict(grid.get("train", {})).items())]
  blocks = []
  for combo in itertools.product(*(values for _, values in axes)):
    block = {**base, "train": dict(base.get("train", {}))}
    for (path, _), value in zip(axes, combo):
      (block["train"] if len(path) == 2 else block)[path[-1]] = value
    label = ", ".join(f"{path[-1]}={v}" for (path, _), v in zip(axes, combo))
    block["name"] = f"{base.get('name') or 'candidate'} [{label}]"
    blocks.append(block)
  return blocks


def _inner_splits(train: pd.DataFrame, inner_folds: int, seed: int, max_inner_folds: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
  """(fit rows, validation rows) index pairs of the inner cross-validation.

  With >= `MIN_INNER_DATASETS` datasets: leave one dataset out, over at most
  `max_inner_folds` of them (a seeded draw; 0 = all), which bounds the cost on long histories.
  """
  datasets = sorted(train["dataset"].unique())
  if len(datasets) >= MIN_INNER_DATASETS:
    if 0 < max_inner_folds < len(datasets):
      rng = np.random.default_rng(seed)
      datasets = sorted(rng.choice(datasets, max_inner_folds, replace=False))
    return [(np.flatnonzero(train["dataset"].to_numpy() != d),
             np.flatnonzero(train["dataset"].to_numpy() == d)) for d in datasets]
  order = np.random.default_rng(seed).permutation(len(train))
  folds = np.array_split(order, inner_folds)
  return [(np.sort(np.concatenate(folds[:i] + folds[i + 1:])), np.sort(folds[i]))
          for i in range(inner_folds)]


@dataclasses.dataclass
class SelectedMethod:
  """Picks one of `candidates` by inner cross-validation on the training rows (module doc)."""
  name: str
  candidates: list[methods.RidgeMethod | methods.RecommenderMethod | neighbors.NeighborMethod]
  metric: str = "pearson"
  inner_folds: int = 3
  seed: int = 0
  max_inner_folds: int = 0
  choices: list[dict[str, Any]] = dataclasses.field(default_factory=list, repr=False)

  def __post_init__(self):
    if not self.candidates:
      raise ValueError(f"method {self.name!r}: candidates must not be empty")
    if self.metric not in SELECT_METRICS:
      raise ValueError(f"metric must be one of {SELECT_METRICS}, got {self.metric!r}")
    if self.inner_folds < 2:
      raise ValueError(f"inner_folds must be >= 2, got {self.inner_folds}")

  def inner_scores(self, train: pd.DataFrame) -> dict[str, float]:
    """Mean inner-validation `metric` of each candidate (higher = better)."""
    splits = _inner_splits(train.reset_index(drop=True), self.inner_folds, self.seed,
                           self.max_inner_folds)
    train = train.reset_index(drop=True)
    tables: dict[str, list[pd.DataFrame]] = {c.name: [] for c in self.candidates}
    for fit_rows, val_rows in splits:
      fit_frame, val_frame = train.iloc[fit_rows], train.iloc[val_rows].reset_index(drop=True)
      for candidate in self.candidates:
        predicted = candidate.fit_predict(fit_frame.reset_index(drop=True), val_frame)
        tables[candidate.name].append(metrics.per_dataset(val_frame, predicted))
    out = {}
    for name, parts in tables.items():
      means = metrics.mean_over_datasets(pd.concat(parts, ignore_index=True))
      value = -means["regret"] if self.metric == "neg_regret" else means[self.metric]
      out[name] = float(value) if np.isfinite(value) else -np.inf
    return out

  def fit(self, train: pd.DataFrame) -> fitted.Fitted:
    scores = self.inner_scores(train)
    best = max(self.candidates, key=lambda c: scores[c.name])  # first of equals wins
    result = best.fit(train)
    choice = {"chosen": best.name, "inner": scores, "metric": self.metric,
              "train_datasets": sorted(map(str, train["dataset"].unique()))}
    self.choices.append(choice)
    info = {**result.info, "selection": choice}
    return dataclasses.replace(result, info=info)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)


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
  extra_fields: tuple = ()  # declared fields (features.extra_fields)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    preprocess = Preprocess(self.target, self.score_norm)
    rows = preprocess.training_rows(train)
    encoder = features.FeatureEncoder(features.resolve_fields(
        self.fields, rows.columns, features.extra_fields(self.extra_fields)))
    pairs = encoder.fit_transform(rows)
    model = ensemble.HistGradientBoostingRegressor(
        max_iter=self.max_iter, learning_rate=self.learning_rate,
        min_samples_leaf=self.min_samples_leaf, random_state=self.seed)
    model.fit(methods.design_matrix(pairs), pairs.targets)
    return model.predict(methods.design_matrix(encoder.transform(preprocess.features(test))))


def default_selection_config() -> ml_collections.ConfigDict:
  """The `selection` block of an evaluation config: what `build_selected` reads."""
  return ml_collections.ConfigDict(dict(
      models=(),                # kinds (lr / fm / ffm / ridge) to add a selected method for
      fields="d,m",             # field set of the selected methods ("label=spec" allowed)
      metric="pearson",         # SELECT_METRICS: what the inner cross-validation maximises
      inner_folds=3,            # folds of models when train has < 3 datasets (setting 1)
      max_inner_folds=4,        # inner leave-one-dataset-out over at most this many; 0 = all
      num_seeds=1,              # ensemble members of the chosen configuration
      with_linear=False,        # also let the inner folds pick the model mean or ridge
      neighbor_taus=(),         # ... or the similarity-weighted model mean at these taus
      # The grid: method-config key -> candidate values; train -> {train key -> values}.
      grid=ml_collections.ConfigDict(dict(
          target=("dataset_z",), score_norm=("dataset_z",), d_interactions=("all", "id_only"),
          train=dict(loss=("squared", "listwise"), l2=(1e-3, 1e-1)))),
  ))


def build_selected(selection: ml_collections.ConfigDict, train: dict[str, Any],
                   seed: int, extra_fields: dict[str, str] | None = None
                   ) -> list[SelectedMethod]:
  """One `SelectedMethod` per kind in `selection.models`, over `selection.grid`.

  Args:
    selection: a block like `default_selection_config()`.
    train: the evaluation's shared train keys (overridden by the grid's `train`).
    seed: training seed of the candidates (and of the inner folds).
    extra_fields: declared columns (name -> "<kind>:<group>[:log]") of the history.
  """
  grid = selection.grid.to_dict()
  label, eq, spec = selection.fields.partition("=")  # "label=spec" names a long field set
  label, spec = (label, spec) if eq else (selection.fields, selection.fields)
  out = []
  for kind in selection.models:
    base = {"model": kind, "fields": spec, "train": dict(train),
            "num_seeds": int(selection.num_seeds), "name": kind.upper(),
            "extra_fields": dict(extra_fields or {})}
    if kind == "ridge":  # ridge has no training loop: its grid is target × score_norm × l2
      kept = {k: v for k, v in grid.items() if k not in ("train", "d_interactions")}
      kept["ridge_l2"] = (0.1, 1.0, 10.0)
      base = {k: v for k, v in base.items() if k not in ("train", "num_seeds")}
      blocks = grid_blocks(base, kept)
    else:
      blocks = grid_blocks(base, grid)
    candidates = [methods.method_from_config(b, seed=seed) for b in blocks]
    if selection.with_linear:
      # Linear fall-backs the inner folds may prefer: the model mean (ridge on the model ID
      # alone on within-dataset z-scores: each model's mean z-score, shrunk a little) and
      # ridge on the same fields.
      candidates += [
          methods.RidgeMethod("model mean (ridge)", "model_id", 1e-3, "dataset_z", "dataset_z"),
          methods.RidgeMethod("ridge", spec, 1.0, "dataset_z", "dataset_z",
                              generic.declared_fields(extra_fields or {}))]
    candidates += [neighbors.NeighborMethod(f"similar datasets (tau={tau:g})", float(tau))
                   for tau in selection.neighbor_taus]
    out.append(SelectedMethod(f"{kind.upper()} ({label}) selected", candidates,
                              selection.metric, int(selection.inner_folds), seed,
                              int(selection.max_inner_folds)))
  return out
