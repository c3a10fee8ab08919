"""Per-dataset preprocessing of history tables: the training target and the MS-score columns.

Both are computed within each dataset of the frame they are applied to, so a frame holding
only a new dataset's rows (a user's zoo, no accuracies yet) is normalised from its own rows,
exactly as each training dataset was: nothing is fitted here and nothing needs saving beyond
the two choices (`Preprocess`).

Targets (`TARGETS`): `raw` top-1; `dataset_z`: top-1 z-scored within each dataset;
`dataset_rank`: the within-dataset rank, centred and scaled like a z-score. Per-dataset
targets remove the differences between datasets' accuracy levels, which a recommender cannot
use to rank the models of one dataset and which otherwise dominate a squared loss.

Score features (`SCORE_NORMS`): every `ms_<score>` column is first signed so that higher is
better (`score_sign`: the history's declaration, else the scores registry; an
undeclared unregistered score is refused), then `global_z` leaves it (the encoder
standardises it over the training rows), `dataset_z` z-scores it within each dataset and
`dataset_rank` replaces it by its centred within-dataset rank. A score whose level differs
between datasets (H-score grows with the number of classes) keeps only its within-dataset
signal under the last two.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema

TARGETS = ("raw", "dataset_z", "dataset_rank")
SCORE_NORMS = ("global_z", "dataset_z", "dataset_rank")


def score_sign(name: str, declared: dict[str, float] | None = None) -> float:
  """+1 if score `name` ranks higher-is-better, -1 if lower-is-better.

  The direction is the history's declaration (`declared`: score name -> +1/-1, from
  `history.fields=<score>=numeric:S:+`) or else the scores registry's
  (`scores.registry.sign`, every registered score and zoo-level score). A score neither
  declares nor registers is refused, never guessed.

  Raises:
    ValueError: naming the score and how to declare its direction.
  """
  name = str(name)
  if declared and name in declared:
    return float(declared[name])
  from guidedrec_jax.scores import registry  # pylint: disable=import-outside-toplevel
  try:
    return registry.sign(name)
  except ValueError:
    raise ValueError(
        f"score column {schema.SCORE_PREFIX}{name}: {name!r} is not a registered score, so "
        f"its direction is unknown; declare it: --config.history.fields={name}=numeric:S:+ "
        f"(higher is better) or {name}=numeric:S:- (lower is better)") from None


def within_dataset(values: pd.Series, datasets: pd.Series, how: str) -> pd.Series:
  """Per-dataset z-score or centred rank of `values` (NaN stays NaN; a constant group → 0)."""
  grouped = values.groupby(datasets)
  if how == "dataset_rank":
    values = grouped.rank(method="average")
    grouped = values.groupby(datasets)
  spread = grouped.transform("std", ddof=0)
  centred = values - grouped.transform("mean")
  return (centred / spread.where(spread > 0, 1.0)).where(values.notna())


def zscore_within(values: np.ndarray, datasets: np.ndarray) -> np.ndarray:
  """float64: `values` z-scored within each dataset; NaN and constant groups become 0."""
  z = within_dataset(pd.Series(np.asarray(values, np.float64)), pd.Series(datasets),
                     "dataset_z")
  return z.fillna(0.0).to_numpy(np.float64)


@dataclasses.dataclass(frozen=True)
class Preprocess:
  """The two per-dataset choices of a recommender (see the module docstring)."""
  target: str = "raw"
  score_norm: str = "global_z"
  signs: tuple = ()  # declared score directions: ((score name, +1 / -1), ...)

  def __post_init__(self):
    if self.target not in TARGETS:
      raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
    if self.score_norm not in SCORE_NORMS:
      raise ValueError(f"score_norm must be one of {SCORE_NORMS}, got {self.score_norm!r}")
    if any(float(v) not in (1.0, -1.0) for _, v in self.signs):
      raise ValueError(f"signs must map score names to +1 or -1, got {self.signs}")

  def features(self, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each `ms_*` column signed (higher = better) and normalised."""
    if "dataset" not in frame.columns:
      raise ValueError("frame must have a 'dataset' column")
    updates = {}
    for column in schema.score_columns(frame):
      values = pd.to_numeric(frame[column], errors="coerce").astype(float)
      values = values * score_sign(column[len(schema.SCORE_PREFIX):], dict(self.signs))
      if self.score_norm != "global_z":
        values = within_dataset(values, frame["dataset"], self.score_norm)
      updates[column] = values
    return frame.assign(**updates) if updates else frame

  def training_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
    """`features(frame)` with `top1` replaced by the chosen target."""
    frame = self.features(frame)
    if schema.TARGET_COLUMN not in frame.columns:
      raise ValueError(f"training rows need a {schema.TARGET_COLUMN!r} column")
    if self.target == "raw":
      return frame
    target = within_dataset(frame[schema.TARGET_COLUMN].astype(float), frame["dataset"],
                            self.target)
    return frame.assign(**{schema.TARGET_COLUMN: target.fillna(0.0)})

  def to_json(self) -> dict[str, Any]:
    return {"target": self.target, "score_norm": self.score_norm,
            "signs": [[str(n), float(v)] for n, v in self.signs]}

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "Preprocess":
    """Rebuilds `to_json()`'s choices; ValueError on anything else."""
    try:
      return cls(str(data["target"]), str(data["score_norm"]),
                 tuple((str(n), float(v)) for n, v in data.get("signs", ())))
    except (TypeError, KeyError) as error:
      raise ValueError(f"not a Preprocess state: {error}") from error
