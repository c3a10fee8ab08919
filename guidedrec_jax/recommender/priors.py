"""Out-of-dataset target statistics: a model's mean training target as a numeric feature.

A `prior` field (`field_encoding.Field(kind="prior")`) values a row with the mean training target
of its category (the model, by default) over the training datasets, leaving the row's own
dataset out. That is the "model mean" heuristic turned into a feature, so that a recommender
can learn how much to trust it and how it interacts with the other fields: a model that
was pre-trained on the target itself (`source_match`) is good there however poor its mean
elsewhere, which an additive model ID cannot express but `source_match x model_prior` can.

Why leave the own dataset out: a training row's own target is part of a mean over all
training datasets, so the plain mean would correlate with the target more on the training
rows than it can on a new dataset; leaving the dataset out makes a training row's value the
one a new dataset would see. Rows of datasets the table has not seen (a held-out or a user's
dataset) get the mean over every training dataset; categories never seen get NaN (the
encoder turns it into 0, the training mean). The target used is whatever the encoder is fit
on: `Preprocess.training_rows` makes it the within-dataset z-score or rank by default.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd


@dataclasses.dataclass(frozen=True)
class PriorTable:
  """Per-category and per-(dataset, category) sums and counts of a training target.

  Attributes:
    totals: category -> (sum, count) over the training rows.
    by_dataset: (dataset, category) -> (sum, count) over the training rows.
  """
  totals: dict[str, tuple[float, int]]
  by_dataset: dict[tuple[str, str], tuple[float, int]]

  @classmethod
  def fit(cls, datasets: pd.Series, categories: pd.Series, targets: pd.Series) -> "PriorTable":
    """Sums `targets` per category and per (dataset, category); NaN targets are left out."""
    if not len(datasets) == len(categories) == len(targets):
      raise ValueError("datasets, categories and targets must have one entry per row, got "
                       f"{len(datasets)}, {len(categories)}, {len(targets)}")
    frame = pd.DataFrame({"d": datasets.astype(str).to_numpy(),
                          "c": categories.astype(str).to_numpy(),
                          "y": pd.to_numeric(targets, errors="coerce").to_numpy(np.float64)})
    frame = frame[np.isfinite(frame["y"])]
    per_pair = frame.groupby(["d", "c"], sort=True)["y"].agg(["sum", "count"])
    per_cat = frame.groupby("c", sort=True)["y"].agg(["sum", "count"])
    return cls({str(c): (float(r["sum"]), int(r["count"])) for c, r in per_cat.iterrows()},
               {(str(d), str(c)): (float(r["sum"]), int(r["count"]))
                for (d, c), r in per_pair.iterrows()})

  def values(self, datasets: pd.Series, categories: pd.Series) -> np.ndarray:
    """float64 [rows]: the category's mean target over the other training datasets.

    A row whose dataset the table holds leaves that dataset's rows of its category out; NaN
    where no other dataset has the category.
    """
    out = np.full(len(datasets), np.nan)
    for i, (dataset, category) in enumerate(zip(datasets.astype(str), categories.astype(str))):
      total, count = self.totals.get(category, (0.0, 0))
      own_total, own_count = self.by_dataset.get((dataset, category), (0.0, 0))
      if count - own_count > 0:
        out[i] = (total - own_total) / (count - own_count)
    return out

  def to_state(self) -> dict[str, Any]:
    """Plain JSON data (lists, no tuples as keys)."""
    return {"totals": [[c, s, n] for c, (s, n) in self.totals.items()],
            "by_dataset": [[d, c, s, n] for (d, c), (s, n) in self.by_dataset.items()]}

  @classmethod
  def from_state(cls, state: dict[str, Any]) -> "PriorTable":
    try:
      return cls({str(c): (float(s), int(n)) for c, s, n in state["totals"]},
                 {(str(d), str(c)): (float(s), int(n)) for d, c, s, n in state["by_dataset"]})
    except (KeyError, TypeError, ValueError) as error:
      raise ValueError(f"state is not a PriorTable state: {error}") from error
