"""The default recommender: a stacked blend of complementary methods that never gambles.

Picking one method by an inner cross-validation bets everything on a winner that may lead by
a hair and collapse on the next dataset. The blend hedges instead:

1. every member (e.g. the model mean, the similar datasets, ridge, trees, an FM) predicts
   the training rows out of fold (`protocols.inner_folds`: leave one training dataset out,
   or folds of models when there are fewer than three datasets);
2. each member's out-of-fold predictions are z-scored within each dataset (their units and
   levels differ; only the order within a dataset matters), and non-negative weights summing
   to 1 are fitted by least squares to the within-dataset z-scored accuracies, penalised by
   their distance from equal weights (`penalized_weights`, `simplex_least_squares`): a member
   that leads by a hair, or duplicates another, does not take the whole vote;
3. the weights are shrunk toward equal weights, `w = (1 - shrink) w_fit + shrink / K`:
   a member the inner folds dislike keeps a small vote, so no single member decides alone;
4. the similar-datasets member, if any, gets a further share on datasets close to a
   training dataset (`gate.py`: inner folds under-rate it where datasets come in pairs),
   fitted on the same out-of-fold rows;
5. the members are refitted on all training rows.

`BlendFitted.predict` is `sum_k w_k z_k(frame)`, each member's prediction z-scored within
each dataset of `frame`, re-standardised and mixed with the similar datasets' by the gate.
For a user's scale it is calibrated on the same out-of-fold rows —
`z = rho * standardised blend`, rho the least-squares slope of the true z-scores on it, and
the residual's standard deviation — and turned into top-1 percent by `scale.ScaleFitted`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from guidedrec_jax.history import schema
from guidedrec_jax.recommender import baselines, gate, metrics, neighbors, protocols, scale, state
from guidedrec_jax.recommender.preprocess import zscore_within

STATE_VERSION = 1


def _equality_solution(x: np.ndarray, y: np.ndarray, support: np.ndarray) -> np.ndarray:
  """Least squares on the columns `support` subject to sum(w) = 1 (KKT system)."""
  xs = x[:, support]
  k = xs.shape[1]
  kkt = np.zeros((k + 1, k + 1))
  kkt[:k, :k] = 2 * xs.T @ xs
  kkt[:k, k] = kkt[k, :k] = 1.0
  rhs = np.concatenate([2 * xs.T @ y, [1.0]])
  w = np.zeros(x.shape[1])
  w[support] = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
  return w


def simplex_least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """argmin ||x w - y||^2 over w >= 0, sum(w) = 1.

  Lawson–Hanson NNLS on the system with the constraint appended as a heavily weighted row
  finds the support; the equality-constrained solution on that support is then exact.
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  k = x.shape[1]
  if k == 1:
    return np.ones(1)
  big = 1e3 * max(1.0, float(np.sqrt((x ** 2).sum())))
  w, _ = optimize.nnls(np.vstack([x, np.full((1, k), big)]), np.concatenate([y, [big]]))
  support = w > 1e-9
  exact = _equality_solution(x, y, support)
  if support.any() and np.all(exact[support] >= 0):
    return exact
  w = np.maximum(w, 0.0)
  return w / w.sum() if w.sum() > 0 else np.full(k, 1 / k)


def penalized_weights(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
  """argmin ||x w - y||^2 / rows + penalty ||w - 1/K||^2 over the simplex.

  The penalty keeps near-equal members near equal weights: a member that leads the inner
  folds by a hair (or duplicates another) does not take the whole vote. It is the simplex
  least squares of `x`, `y` with `sqrt(penalty) I` rows appended (targets `sqrt(penalty)/K`).
  """
  rows, k = x.shape
  extra_x = np.sqrt(penalty) * np.eye(k)
  extra_y = np.full(k, np.sqrt(penalty) / k)
  return simplex_least_squares(np.vstack([x / np.sqrt(rows), extra_x]),
                               np.concatenate([y / np.sqrt(rows), extra_y]))


def brute_force_simplex_least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """The same optimum by trying every support (exponential in columns: a test reference)."""
  best, best_loss = None, np.inf
  for size in range(1, x.shape[1] + 1):
    for support in itertools.combinations(range(x.shape[1]), size):
      mask = np.zeros(x.shape[1], bool)
      mask[list(support)] = True
      w = _equality_solution(x, y, mask)
      loss = float(((x @ w - y) ** 2).sum())
      if np.all(w[mask] >= -1e-12) and loss < best_loss - 1e-12:
        best, best_loss = np.maximum(w, 0.0), loss
  return best


@dataclasses.dataclass(frozen=True, eq=False)
class BlendFitted:
  """Fitted members, their weights, the calibration and the scale (module docstring)."""
  names: tuple[str, ...]
  members: tuple[Any, ...]
  weights: np.ndarray        # float64 [K], shrunk, sum 1
  fit_weights: np.ndarray    # float64 [K], before shrinking
  rho: float                 # calibration slope of the standardised blend
  residual: float            # out-of-fold residual std (z units)
  scale: scale.ScaleFitted
  info: dict[str, Any] = dataclasses.field(default_factory=dict)
  gate: gate.Gate = gate.Gate()  # shut unless the similar-datasets member opened it
  STATE_TYPE = "blend"

  @property
  def neighbor(self) -> int:
    """The similar-datasets member the gate mixes in (the first; -1 without one)."""
    return next((k for k, m in enumerate(self.members)
                 if isinstance(m, neighbors.NeighborFitted)), -1)

  def member_predictions(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each member's prediction on `frame`, z-scored within each dataset."""
    frame = frame.reset_index(drop=True)
    datasets = frame["dataset"].astype(str).to_numpy()
    return {name: zscore_within(member.predict(frame), datasets)
            for name, member in zip(self.names, self.members)}

  def predict(self, frame: pd.DataFrame, parts: dict[str, np.ndarray] | None = None,
              share: np.ndarray | None = None) -> np.ndarray:
    """The blend's ranking score per row (higher = better); `parts` and `share`:
    `member_predictions` and `neighbor_share` of `frame` if already computed.

    A model pre-trained on the row's own dataset goes first when a similar-datasets member
    learned from the training history that such models do (`NeighborFitted.first_rows`),
    ordered among themselves by the blend: the weighted mean would otherwise bury the one
    model the history says to try first under members that know nothing of sources.
    """
    if frame.empty:
      return np.zeros((0,), np.float64)
    frame = frame.reset_index(drop=True)
    parts = self.member_predictions(frame) if parts is None else parts
    datasets = frame["dataset"].astype(str).to_numpy()
    score = zscore_within(np.stack([parts[n] for n in self.names], 1) @ self.weights, datasets)
    if self.gate.is_open:
      share = self.neighbor_share(frame) if share is None else share
      score = gate.mix(score, parts[self.names[self.neighbor]], share)
    if self.neighbor >= 0:
      score = neighbors.lift_first(score, self.members[self.neighbor].first_rows(frame),
                                   datasets)
    return score

  def neighbor_share(self, frame: pd.DataFrame) -> np.ndarray:
    """float64 [rows]: the similar datasets' share of each row's score (`gate.py`)."""
    if not self.gate.is_open or self.neighbor < 0:
      return np.zeros(len(frame))
    return self.gate.share(*self.members[self.neighbor].closeness(frame))

  def predict_z(self, frame: pd.DataFrame, score: np.ndarray | None = None) -> np.ndarray:
    """Calibrated within-dataset z-score of each row's accuracy (`score`: `predict(frame)`
    if already computed)."""
    frame = frame.reset_index(drop=True)
    score = self.predict(frame) if score is None else score
    return self.rho * zscore_within(score, frame["dataset"].astype(str).to_numpy())

  def predict_interval(self, frame: pd.DataFrame, score: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted top-1, low, high) in percent, each in [chance, 100] (`scale`)."""
    frame = frame.reset_index(drop=True)
    return self.scale.top1(frame, self.predict_z(frame, score), self.residual)

  def rank_columns(self, frame: pd.DataFrame
                   ) -> tuple[np.ndarray, tuple, dict[str, np.ndarray], np.ndarray | None]:
    """(score, (top1, low, high), member votes, neighbour share) of `frame`, each member
    predicting once: what `rank.rank` shows and `protocols.predict_rows` scores. The share
    is None where no gate mixes the similar datasets in (shut, or no such member)."""
    frame = frame.reset_index(drop=True)
    votes = self.member_predictions(frame)
    share = self.neighbor_share(frame) if self.gate.is_open and self.neighbor >= 0 else None
    score = self.predict(frame, votes, share)
    return score, self.predict_interval(frame, score), votes, share

  def predict_top1(self, frame: pd.DataFrame) -> np.ndarray:
    return self.predict_interval(frame)[0]

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {"weights": np.asarray(self.weights, np.float64),
              "fit_weights": np.asarray(self.fit_weights, np.float64)}
    metas = []
    for index, member in enumerate(self.members):
      member_arrays, meta = state.state_of(member)
      arrays.update(state.nest(f"member{index}", member_arrays))
      metas.append(meta)
    scale_arrays, scale_meta = self.scale.to_state()
    arrays.update(state.nest("scale", scale_arrays))
    return arrays, {"blend_state_version": STATE_VERSION, "names": list(self.names),
                    "members": metas, "rho": self.rho, "residual": self.residual,
                    "scale": scale_meta, "info": self.info, "gate": self.gate.to_meta()}

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "BlendFitted":
    if not isinstance(meta, dict) or meta.get("blend_state_version") != STATE_VERSION:
      raise ValueError(f"meta must be a BlendFitted state of version {STATE_VERSION}")
    names = tuple(map(str, meta["names"]))
    members = tuple(state.load_state(state.unnest(f"member{i}", arrays), m)
                    for i, m in enumerate(meta["members"]))
    weights = np.asarray(arrays["weights"], np.float64)
    if len(members) != len(names) or weights.shape != (len(names),):
      raise ValueError(f"a blend state must hold {len(names)} members and weights")
    return cls(names, members, weights, np.asarray(arrays["fit_weights"], np.float64),
               float(meta["rho"]), float(meta["residual"]),
               scale.ScaleFitted.from_state(state.unnest("scale", arrays), meta["scale"]),
               dict(meta.get("info") or {}), gate.Gate.from_meta(meta.get("gate")))


def _inner_closeness(train: pd.DataFrame, folds: Sequence[protocols.Fold],
                     fitted: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
  """Each training row's dataset closeness (and similarity), as the similar-datasets member
  fitted on that row's inner fold (`fitted`, one per fold) sees it."""
  closeness, sources = np.full(len(train), np.nan), np.full(len(train), "uniform", object)
  for fold, member in zip(folds, fitted):
    closeness[fold.test], sources[fold.test] = member.closeness(
        train.iloc[fold.test].reset_index(drop=True))
  return closeness, sources.astype(str)


@dataclasses.dataclass
class BlendMethod:
  """A stacked blend of `members` (built methods named `names`); see the module docstring."""
  name: str
  members: Sequence[Any]
  names: Sequence[str]
  shrink: float = 0.1
  max_inner_folds: int = 0
  seed: int = 0
  penalty: float = 0.02
  signs: tuple = ()
  gate: bool = True  # gate the similar-datasets member by closeness (gate.py); False: never

  def __post_init__(self):
    if not self.members or len(self.members) != len(self.names):
      raise ValueError(f"method {self.name!r}: members must be non-empty, one name each")
    if len(set(self.names)) != len(self.names):
      raise ValueError(f"method {self.name!r}: member names must be distinct, got "
                       f"{list(self.names)}")
    if not self.penalty >= 0.0:
      raise ValueError(f"method {self.name!r}: penalty must be >= 0, got {self.penalty}")
    if not 0.0 <= self.shrink <= 1.0:
      raise ValueError(f"method {self.name!r}: shrink must lie in [0, 1], got {self.shrink}")

  def fit(self, train: pd.DataFrame) -> BlendFitted:
    train = train.reset_index(drop=True)
    datasets = train["dataset"].astype(str).to_numpy()
    folds = protocols.inner_folds(train, int(self.max_inner_folds), int(self.seed))
    rows = np.sort(np.concatenate([f.test for f in folds]))
    neighbor = next((k for k, m in enumerate(self.members)
                     if self.gate and isinstance(m, neighbors.NeighborMethod)), -1)
    predicted = [protocols.out_of_fold(train, m, folds, keep_fitted=k == neighbor)
                 for k, m in enumerate(self.members)]
    oof = np.stack([p.score[rows] for p in predicted], 1)
    x = np.stack([zscore_within(oof[:, k], datasets[rows]) for k in range(oof.shape[1])], 1)
    y = baselines.dataset_z(train.iloc[rows].reset_index(drop=True))
    true = train[schema.TARGET_COLUMN].to_numpy(np.float64)[rows]
    inner = {name: metrics.mean_pearson(oof[:, k], true, datasets[rows])
             for k, name in enumerate(self.names)}
    fit_weights = penalized_weights(x, y, float(self.penalty))
    weights = (1 - self.shrink) * fit_weights + self.shrink / len(self.members)
    blended = zscore_within(x @ weights, datasets[rows])
    fitted_gate = gate.Gate()
    if neighbor >= 0:
      closeness, sources = _inner_closeness(train, folds, predicted[neighbor].fitted)
      fitted_gate = gate.fit_gate(blended, x[:, neighbor], y, datasets[rows], closeness[rows],
                                  sources[rows])
      blended = zscore_within(gate.mix(blended, x[:, neighbor], fitted_gate.share(
          closeness[rows], sources[rows])), datasets[rows])
    rho = float(np.clip((blended @ y) / max(blended @ blended, 1e-12), 0.0, 1.0))
    residual = float(np.sqrt(np.mean((y - rho * blended) ** 2)))
    members = tuple(m.fit(train) for m in self.members)
    info = {"name": self.name, "inner_pearson": inner, "inner_folds": [f.held_out for f in folds],
            "weights": dict(zip(self.names, map(float, weights)))}
    return BlendFitted(tuple(self.names), members, weights, fit_weights, rho, residual,
                       scale.fit_scale(train), info, fitted_gate)

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)
