"""The history table: one row per fine-tuned (dataset, model) pair, and its validation.

Columns (CSV, one header row):

| column | kind | meaning |
|---|---|---|
| `dataset` | str, required | target dataset name |
| `model` | str, required | model name (timm `arch` or `arch.tag`, PARC `arch.source`) |
| `top1` | float, required | the target: fine-tuning top-1 accuracy in percent, 0–100 |
| `num_train` | int, required | training images of the dataset (NaN allowed: unknown) |
| `num_classes` | int, required | classes of the dataset (NaN allowed) |
| `family` | str, required | architecture family (`resnet`, `vit`, ...) |
| `input_size` | int, required | input resolution in pixels (NaN allowed) |
| `params_m` | float, required | parameters in millions (NaN allowed) |
| `gmacs` | float, required | GMACs at `input_size` (NaN allowed) |
| `pretrain_domain` | str, required | pre-training data/task tag (`in1k`, `in21k`, `distilled`, ...) |
| `lr`, `weight_decay`, `epochs`, `seed`, `wall_s`, `job_key` | optional | the job that produced the row; imported histories leave them out |

Further columns (e.g. PARC's `source_images`) are kept as they are. Rows repeating a
(dataset, model) pair with the same `top1` collapse to one; differing `top1` is an error, since
a recommender cannot learn from two truths (a sweep writes its best job per pair).

Model-selection scores live in a separate long-form table `dataset, model, score, value`;
`join_scores` pivots it into one `ms_<score>` column per score.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

# The columns are the contract module's, shared with the torch half that writes the table.
from guidedrec_jax.contracts.history_columns import (  # noqa: F401
    DATASET_COLUMNS, JOB_COLUMNS, KEY_COLUMNS, MODEL_COLUMNS, NUMERIC_COLUMNS,
    REQUIRED_COLUMNS, SCORE_COLUMNS, TARGET_COLUMN)

SCORE_PREFIX = "ms_"


def validate_history(frame: pd.DataFrame) -> pd.DataFrame:
  """Checks a history table and returns it cleaned (types fixed, exact repeats dropped).

  Args:
    frame: a table with at least `REQUIRED_COLUMNS`.

  Returns:
    A new frame, one row per (dataset, model), in the input order.

  Raises:
    ValueError: naming missing columns, non-numeric or negative numeric columns, NaN or
      out-of-range targets (with the offending pairs), or pairs with conflicting targets.
  """
  missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
  if missing:
    raise ValueError(f"history is missing columns {missing}")
  frame = frame.copy()
  for column in KEY_COLUMNS + ("family", "pretrain_domain"):
    if frame[column].isna().any():
      raise ValueError(f"history column {column!r} has empty values in rows "
                       f"{frame.index[frame[column].isna()].tolist()[:5]}")
    frame[column] = frame[column].astype(str)
  for column in (TARGET_COLUMN,) + NUMERIC_COLUMNS:
    try:
      frame[column] = pd.to_numeric(frame[column]).astype(float)
    except (ValueError, TypeError) as e:
      raise ValueError(f"history column {column!r} must be numeric: {e}") from e
    if (frame[column] < 0).any():
      raise ValueError(f"history column {column!r} has negative values")
  bad = frame[frame[TARGET_COLUMN].isna() | (frame[TARGET_COLUMN] > 100)]
  if len(bad):
    raise ValueError(f"history column {TARGET_COLUMN!r} must be finite and in 0..100; bad pairs: "
                     f"{_pairs(bad)}")
  frame = frame.drop_duplicates(subset=list(KEY_COLUMNS) + [TARGET_COLUMN])
  conflicts = frame[frame.duplicated(subset=list(KEY_COLUMNS), keep=False)]
  if len(conflicts):
    raise ValueError(f"history has (dataset, model) pairs with conflicting {TARGET_COLUMN!r}: "
                     f"{_pairs(conflicts)}")
  return frame.reset_index(drop=True)


def _pairs(frame: pd.DataFrame, limit: int = 5) -> list[tuple[str, str]]:
  pairs = list(dict.fromkeys(zip(frame["dataset"], frame["model"])))
  return pairs[:limit] + ([("...", f"{len(pairs) - limit} more")] if len(pairs) > limit else [])


def load_history(path: str | os.PathLike) -> pd.DataFrame:
  """Reads and validates a history CSV (see the module docstring for the columns)."""
  frame = pd.read_csv(path, skip_blank_lines=True)
  try:
    return validate_history(frame)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from e


def load_scores(path: str | os.PathLike) -> pd.DataFrame:
  """Reads a long-form scores CSV (`dataset, model, score, value`), checking its columns."""
  return validate_scores(pd.read_csv(path))


def validate_scores(scores: pd.DataFrame) -> pd.DataFrame:
  """Checks a long-form scores table; repeated (dataset, model, score) must agree."""
  missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
  if missing:
    raise ValueError(f"scores table is missing columns {missing}")
  scores = scores[list(SCORE_COLUMNS)].copy()
  scores["value"] = pd.to_numeric(scores["value"], errors="raise").astype(float)
  scores = scores.drop_duplicates()
  conflicts = scores[scores.duplicated(subset=["dataset", "model", "score"], keep=False)]
  if len(conflicts):
    raise ValueError(f"scores table has conflicting values for (dataset, model, score) "
                     f"{list(conflicts[['dataset', 'model', 'score']].itertuples(index=False))[:5]}")
  return scores


def join_scores(history: pd.DataFrame, scores: pd.DataFrame,
                names: tuple[str, ...] | None = None) -> pd.DataFrame:
  """Adds one `ms_<score>` column per score to `history` (NaN where a pair has no score).

  Args:
    history: a validated history table.
    scores: long-form scores (`dataset, model, score, value`).
    names: scores to join; all of them when None. Unknown names raise `ValueError`.

  Returns:
    `history` with the new columns, rows in the same order.
  """
  scores = validate_scores(scores)
  available = sorted(scores["score"].unique())
  names = tuple(available) if names is None else tuple(names)
  unknown = [n for n in names if n not in available]
  if unknown:
    raise ValueError(f"scores {unknown} not in the scores table (has {available})")
  wide = scores[scores["score"].isin(names)].pivot(index=["dataset", "model"], columns="score",
                                                   values="value")
  wide.columns = [SCORE_PREFIX + str(c) for c in wide.columns]
  clashing = [c for c in wide.columns if c in history.columns]
  if clashing:
    raise ValueError(f"history already has columns {clashing}")
  return history.merge(wide.reset_index(), on=["dataset", "model"], how="left")


def score_columns(frame: pd.DataFrame | list[str]) -> list[str]:
  """Returns the `ms_<score>` columns of a history table (or a column list), in order."""
  columns = frame.columns if isinstance(frame, pd.DataFrame) else frame
  return [c for c in columns if str(c).startswith(SCORE_PREFIX)]


def add_difficulty(history: pd.DataFrame, scores: pd.DataFrame, score: str,
                   reference_model: str) -> pd.DataFrame:
  """Adds a `difficulty` column: the `score` of one fixed `reference_model` on each dataset.

  This is the paper's dataset-difficulty feature; datasets the reference model was not scored
  on get NaN (imputed by the encoder).
  """
  scores = validate_scores(scores)
  chosen = scores[(scores["score"] == score) & (scores["model"] == reference_model)]
  if chosen.empty:
    raise ValueError(f"no {score!r} scores for reference_model {reference_model!r}")
  per_dataset = chosen.set_index("dataset")["value"]
  return history.assign(difficulty=history["dataset"].map(per_dataset).astype(float).to_numpy())


def summarize(frame: pd.DataFrame) -> dict[str, int | float]:
  """Counts for logs: rows, datasets, models, mean target."""
  return {"rows": len(frame), "datasets": int(frame["dataset"].nunique()),
          "models": int(frame["model"].nunique()),
          "mean_top1": float(np.mean(frame[TARGET_COLUMN])) if len(frame) else float("nan")}
