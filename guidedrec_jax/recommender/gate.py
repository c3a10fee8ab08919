"""The neighbour gate: how far the blend follows the similar datasets on one dataset.

A blend's weights are one vote for every dataset, fitted on inner leave-one-dataset-out folds.
They under-rate the similar-datasets member exactly where it shines: when datasets come in
close pairs (two pet datasets, two bird datasets, digits beside MNIST), the inner fold that
holds one of a pair out has already lost the other to the outer fold, so inside, the member
looks no better than the model mean, while on the outer dataset — whose partner is in the
training set — it is far better. What the member knows about a dataset says when to trust it:
its *closeness*, the largest raw similarity of the dataset to a training dataset
(`NeighborFitted.closeness`; unknown when no similarity applies).

The gate mixes the two within-dataset z-scored rankings,

    score = (1 - share) * blend + share * neighbours,   share = sigmoid(a + b * c),

`c` the closeness standardised over the inner datasets. `(a, b)` maximise the mean within-
dataset Pearson of the inner out-of-fold rows over a fixed grid, `b >= 0` (closer, more
trust); the grid starts with the gate shut (share 0) and keeps the first best, so the gate only
opens when the inner folds gain from it. A dataset whose closeness is unknown, or comes from
another kind of similarity than the one fitted, gets share 0: the blend alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from guidedrec_jax.recommender import metrics

OFFSETS = (-np.inf, *np.linspace(-3.0, 3.0, 13))  # a; -inf = the gate shut
SLOPES = (0.0, 1.0, 2.0, 4.0)                      # b, per sd of closeness


@dataclasses.dataclass(frozen=True)
class Gate:
  """A fitted gate (module docstring); `offset = -inf` is a shut gate."""
  offset: float = -np.inf
  slope: float = 0.0
  mean: float = 0.0     # closeness standardisation, from the inner datasets
  scale: float = 1.0
  source: str = ""      # the similarity the closeness was measured with

  @property
  def is_open(self) -> bool:
    return bool(np.isfinite(self.offset))

  def share(self, closeness: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """float64 [rows]: the neighbours' share of each row's score, in [0, 1)."""
    closeness = np.asarray(closeness, np.float64)
    if not self.is_open:
      return np.zeros(closeness.shape)
    known = np.isfinite(closeness) & (np.asarray(sources).astype(str) == self.source)
    logit = self.offset + self.slope * (np.where(known, closeness, self.mean) - self.mean) \
        / self.scale
    return np.where(known, 1.0 / (1.0 + np.exp(-logit)), 0.0)

  def to_meta(self) -> dict[str, Any]:
    return {"offset": float(self.offset) if self.is_open else None,
            "slope": self.slope, "mean": self.mean, "scale": self.scale, "source": self.source}

  @classmethod
  def from_meta(cls, meta: dict[str, Any] | None) -> "Gate":
    if not meta:
      return cls()
    offset = meta.get("offset")
    return cls(-np.inf if offset is None else float(offset), float(meta["slope"]),
               float(meta["mean"]), float(meta["scale"]), str(meta["source"]))


def mix(blend_z: np.ndarray, neighbor_z: np.ndarray, share: np.ndarray) -> np.ndarray:
  """The gated score (module docstring); inputs z-scored within each dataset."""
  return (1.0 - share) * blend_z + share * neighbor_z


def fit_gate(blend_z: np.ndarray, neighbor_z: np.ndarray, target_z: np.ndarray,
             datasets: np.ndarray, closeness: np.ndarray, sources: np.ndarray) -> Gate:
  """The grid's best gate on out-of-fold rows (module docstring).

  Args:
    blend_z, neighbor_z, target_z: float [rows], z-scored within each dataset.
    datasets: [rows] dataset names.
    closeness, sources: [rows] each row's dataset closeness (NaN unknown) and its similarity.

  Returns:
    The fitted gate; shut when fewer than two datasets have a closeness of one similarity.
  """
  datasets = np.asarray(datasets).astype(str)
  closeness, sources = np.asarray(closeness, np.float64), np.asarray(sources).astype(str)
  known = np.isfinite(closeness)
  if not known.any():
    return Gate()
  kinds, counts = np.unique(sources[known], return_counts=True)
  source = str(kinds[np.argmax(counts)])
  per_dataset = {d: c for d, c, s, k in zip(datasets, closeness, sources, known)
                 if k and s == source}
  if len(per_dataset) < 2:
    return Gate()
  values = np.array(list(per_dataset.values()))
  mean, scale = float(values.mean()), float(values.std()) or 1.0
  best, best_value = Gate(), -np.inf
  for slope in SLOPES:
    for offset in OFFSETS:
      if not np.isfinite(offset) and slope > 0:
        continue
      gate = Gate(float(offset), slope, mean, scale, source)
      score = mix(blend_z, neighbor_z, gate.share(closeness, sources))
      value = metrics.mean_pearson(score, target_z, datasets)
      if value > best_value + 1e-9:
        best, best_value = gate, value
  return best
