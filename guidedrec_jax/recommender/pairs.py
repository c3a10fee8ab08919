"""The encoded form of (dataset, model) pairs that every recommender model consumes.

Each row has exactly one active entry per field (libffm's "field:feature:value" with one
triple per field): a categorical field contributes its category's feature id with value 1, a
numeric field its single feature id with the (transformed) value. Column j of `feature_ids`
and `values` always belongs to field j, so FFM needs no separate field array per row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class EncodedPairs(NamedTuple):
  """Rows ready for LR / FM / FFM.

  Attributes:
    feature_ids: int32 [R, F], global feature index in 0..num_features-1 of field j's entry.
    values: float32 [R, F], the value of that entry (1 for a one-hot category).
    targets: float32 [R], what to predict (fine-tuning top-1, a rating, ...); NaN-free.
    groups: int32 [R], the group a row is ranked within (the dataset), for ranking losses
      and per-dataset metrics.
    field_names: the F field names, in column order.
    num_features: total number of feature ids over all fields.
  """
  feature_ids: np.ndarray
  values: np.ndarray
  targets: np.ndarray
  groups: np.ndarray
  field_names: tuple[str, ...]
  num_features: int

  @property
  def num_fields(self) -> int:
    return len(self.field_names)

  def take(self, rows: np.ndarray) -> "EncodedPairs":
    """Returns the subset of rows `rows` (indices or a boolean mask)."""
    return self._replace(feature_ids=self.feature_ids[rows], values=self.values[rows],
                         targets=self.targets[rows], groups=self.groups[rows])

  def validate(self) -> "EncodedPairs":
    """Raises `ValueError` naming the attribute that breaks the contract above."""
    rows, fields = self.feature_ids.shape
    if fields != len(self.field_names):
      raise ValueError(f"feature_ids has {fields} columns but {len(self.field_names)} field_names")
    for name in ("values",):
      if getattr(self, name).shape != (rows, fields):
        raise ValueError(f"{name} must have shape {(rows, fields)}, got {getattr(self, name).shape}")
    for name in ("targets", "groups"):
      if getattr(self, name).shape != (rows,):
        raise ValueError(f"{name} must have shape ({rows},), got {getattr(self, name).shape}")
    if rows and (self.feature_ids.min() < 0 or self.feature_ids.max() >= self.num_features):
      raise ValueError(f"feature_ids must lie in 0..{self.num_features - 1}")
    if not np.all(np.isfinite(self.values)) or not np.all(np.isfinite(self.targets)):
      raise ValueError("values and targets must be finite")
    return self
