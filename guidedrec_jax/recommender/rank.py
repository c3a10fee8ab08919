"""One ranker behind `recommend.py --task` and `--dataset`: a fitted method, the rows of one
dataset's zoo, the user's filters, one ordered table.

`rank(fitted, rows, filters)` predicts every row first — a model's prediction never depends
on which others the filters keep — then keeps the models the filters allow and orders them
by the fitted method's score (ties by name). Where the method predicts on the user's scale
(the blend's `rank_columns`), `predicted_top1` and its interval `predicted_low` /
`predicted_high` come with it; they are monotone in the score within a dataset, so the
table's order, its `predicted_top1` column and its plot agree. Each member's within-dataset
z-score is a column too (`z: <member>`), so a user sees who voted for what.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema

SIZE_FILTERS = (("max_params", "params_m"), ("max_gmacs", "gmacs"),
                ("max_input_size", "input_size"))
LIST_FILTERS = ("families", "models")
FILTERS = (*(k for k, _ in SIZE_FILTERS), *LIST_FILTERS)  # every filter a ranking takes
TASK_FILTERS = ("max_params", "max_gmacs")  # those `recommend.py --task` takes
PREDICTION_COLUMNS = ("predicted_top1", "predicted_low", "predicted_high", "score")
META_COLUMNS = ("params_m", "gmacs", "input_size", "family", "pretrain_domain")
VOTE_PREFIX = "z: "  # a blend member's vote column: VOTE_PREFIX + the member's name


def check_filters(filters: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  """The filters with defaults for the missing ones (0 / ()); errors name `prefix` + key.

  Raises:
    ValueError: a negative or non-numeric size limit, a bare string for a list, or an
      unknown filter name.
  """
  known = set(FILTERS)
  unknown = sorted(set(filters) - known)
  if unknown:
    raise ValueError(f"unknown filters {unknown}; known: {sorted(known)}")
  out: dict[str, Any] = {}
  for key, _ in SIZE_FILTERS:
    value = filters.get(key, 0)
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                       and value >= 0):
      raise ValueError(f"{prefix}{key} must be a number >= 0 (0 = no limit), got {value!r}")
    out[key] = value
  for key in LIST_FILTERS:
    value = filters.get(key, ())
    if isinstance(value, str):
      raise ValueError(f"{prefix}{key} must be a sequence of names, got the string {value!r}")
    out[key] = tuple(value)
  return out


def keep_mask(rows: pd.DataFrame, filters: dict[str, Any]) -> np.ndarray:
  """bool [rows]: the rows the filters keep.

  Raises:
    ValueError: a model or family the rows lack, or filters that leave no row.
  """
  filters = check_filters(filters)
  names, families = list(rows["model"].astype(str)), sorted(set(rows["family"].astype(str)))
  for key, known in (("models", names), ("families", families)):
    unknown = [v for v in filters[key] if v not in known]
    if unknown:
      raise ValueError(f"{key} {unknown} are not in the zoo; known: {known}")
  keep = np.ones(len(rows), bool)
  if filters["models"]:
    keep &= rows["model"].isin(filters["models"]).to_numpy()
  if filters["families"]:
    keep &= rows["family"].isin(filters["families"]).to_numpy()
  for key, column in SIZE_FILTERS:
    if filters[key]:
      keep &= pd.to_numeric(rows[column], errors="coerce").to_numpy(np.float64) <= filters[key]
  if not keep.any():
    applied = {k: v for k, v in filters.items() if v}
    raise ValueError(f"the filters {applied} leave no zoo model")
  return keep


def rank(fitted: Any, rows: pd.DataFrame, filters: dict[str, Any] | None = None
         ) -> pd.DataFrame:
  """The ranked table of one dataset's zoo rows (module docstring).

  Columns: rank, model, predicted_top1 / _low / _high (NaN if the method has no scale),
  score, `z: <member>` per blend member, the meta columns, each `ms_*` column, and
  `measured_top1` where the rows carry `top1` (a benchmark task held out);
  `table.attrs["neighbor_share"]`: the similar datasets' share of a blend's ranking
  (`blend.BlendFitted.neighbor_share`); None where no gate mixes them in, or for a single
  method.

  Raises:
    ValueError: rows of more than one dataset, or bad filters (before predicting).
  """
  if rows["dataset"].nunique() != 1:
    raise ValueError(f"rows must hold one dataset's zoo, got {sorted(rows['dataset'].unique())}")
  keep = keep_mask(rows, filters or {})
  rows = rows.reset_index(drop=True)
  votes, share = {}, None
  if hasattr(fitted, "rank_columns"):  # a blend: its members predict once
    score, (top1, low, high), votes, share = fitted.rank_columns(rows)
  else:  # a single method: its score alone
    score = np.asarray(fitted.predict(rows), np.float64)
    top1 = low = high = np.full(len(rows), np.nan)
  table = pd.DataFrame({"model": rows["model"].astype(str), "predicted_top1": top1,
                        "predicted_low": low, "predicted_high": high,
                        "score": np.asarray(score, np.float64)})
  for name, values in votes.items():
    table[VOTE_PREFIX + name] = values
  for column in (*META_COLUMNS, *schema.score_columns(rows)):
    if column in rows.columns:
      table[column] = rows[column].to_numpy()
  if "input_size" in table.columns:
    table["input_size"] = pd.to_numeric(table["input_size"]).round().astype("Int64")
  if schema.TARGET_COLUMN in rows.columns:
    table["measured_top1"] = rows[schema.TARGET_COLUMN].to_numpy()
  table = table[keep].sort_values(["score", "model"], ascending=[False, True])
  table.insert(0, "rank", np.arange(1, len(table) + 1))
  table = table.reset_index(drop=True)
  table.attrs["neighbor_share"] = float(share[0]) if share is not None and len(share) else None
  return table
