"""Any history in: a CSV with `dataset, model, top1` and whatever else, read as the config says.

`read_history(path, ...)` needs only the key columns and the accuracy; every other column is
kept. Columns the recommender should use beyond the standard ones of `schema` are declared,
not coded: `declared_fields("resolution=numeric:m:log,domain=categorical:d")` (or a dict)
gives encoder fields (kind `categorical` / `numeric`, group `d` / `m` / `S`, optional `log`)
that join the `d` / `m` tokens of a field spec (`field_encoding.resolve_fields(..., extra=...)`).

Checks, each an error naming the fix before any work:
* the accuracy scale: `top1_scale` = 100 (percent, the default) or 1 (fractions, converted to
  percent); a percent table whose accuracies all lie in 0..1 is refused as a likely 0–1 table;
* repeated (dataset, model) pairs: `duplicates` = `error` (the default when the copies differ),
  `max` (the best run, as a sweep keeps) or `mean`; repeats with equal accuracy always
  collapse to their first row;
* MS scores long (`dataset, model, score, value`) or wide (`dataset, model, <score>...`):
  `read_scores` returns the long form either way.
"""

from __future__ import annotations

import os

import pandas as pd

from guidedrec_jax.history import schema

DUPLICATE_RULES = ("error", "max", "mean")
TOP1_SCALES = (100.0, 1.0)
FIELD_KINDS = ("categorical", "numeric")
FIELD_GROUPS = ("d", "m", "S")
DIRECTIONS = ("+", "-")  # of a declared score: higher / lower is better


def _parse_field(column: str, spec: str) -> tuple[dict, str]:
  """(the encoder field of a declared column, its direction "+" / "-" or "")."""
  parts = [p.strip() for p in str(spec).split(":")]
  direction = parts.pop() if len(parts) >= 3 and parts[-1] in DIRECTIONS else ""
  if (len(parts) not in (2, 3) or parts[0] not in FIELD_KINDS or parts[1] not in FIELD_GROUPS
      or (len(parts) == 3 and (parts[2] != "log" or parts[0] != "numeric"))
      or (direction and parts[1] != "S")):
    raise ValueError(f"history.fields[{column!r}] must be '<kind>:<group>[:log][:+|-]' with "
                     f"kind in {FIELD_KINDS}, group in {FIELD_GROUPS} (log for numeric only; "
                     f"a direction + or - for scores, group S, only), got {spec!r}")
  field = {"name": column, "column": column, "kind": parts[0], "group": parts[1],
           "log": len(parts) == 3}
  return field, direction


def declared_signs(fields: dict[str, str] | str) -> tuple[tuple[str, float], ...]:
  """((score name, +1 / -1), ...) of declared `S` fields with a direction (`otce=numeric:S:-`).

  The name is the column's, without the `schema.SCORE_PREFIX`: it also gives the direction of
  a score of that name joined from a scores table.
  """
  out = []
  for column, spec in parse_declared(fields).items():
    _, direction = _parse_field(column, spec)
    if direction:
      out.append((column.removeprefix(schema.SCORE_PREFIX), 1.0 if direction == "+" else -1.0))
  return tuple(out)


def parse_declared(fields: dict[str, str] | str) -> dict[str, str]:
  """`{"col": "numeric:m:log"}`, or the command-line form `col=numeric:m:log,col2=...`."""
  if isinstance(fields, str):
    out = {}
    for part in filter(None, (p.strip() for p in fields.split(","))):
      column, eq, spec = part.partition("=")
      if not eq or not column.strip():
        raise ValueError(f"history.fields entry {part!r} must be <column>=<kind>:<group>[:log]")
      out[column.strip()] = spec.strip()
    return out
  return dict(fields)


def declared_fields(fields: dict[str, str] | str) -> tuple[dict, ...]:
  """Encoder field descriptions (kwargs of `field_encoding.Field`) of declared extra columns."""
  return tuple(_parse_field(column, spec)[0] for column, spec in parse_declared(fields).items())


def read_history(path: str | os.PathLike | pd.DataFrame, top1_column: str = "top1",
                 top1_scale: float = 100.0, duplicates: str = "error",
                 required: tuple[str, ...] = ()) -> pd.DataFrame:
  """Reads a history with at least `dataset, model` and the accuracy column.

  Args:
    path: a CSV path, or a frame already read.
    top1_column: the accuracy column's name in the file (renamed to `top1`).
    top1_scale: 100 if accuracies are percent, 1 if fractions (they are converted).
    duplicates: what to do with repeated (dataset, model) pairs (module docstring).
    required: further columns that must be present (e.g. declared fields).

  Returns:
    One row per (dataset, model) in first-seen order, `top1` in percent, the standard
    numeric columns of `schema` (where present) as floats.

  Raises:
    ValueError: a missing column, a bad scale or rule, accuracies out of range, repeats.
  """
  name = path if not isinstance(path, pd.DataFrame) else "history"
  frame = pd.read_csv(path) if not isinstance(path, pd.DataFrame) else path.copy()
  if duplicates not in DUPLICATE_RULES:
    raise ValueError(f"history.duplicates must be one of {DUPLICATE_RULES}, got {duplicates!r}")
  if float(top1_scale) not in TOP1_SCALES:
    raise ValueError(f"history.top1_scale must be 100 (percent) or 1 (fractions), got "
                     f"{top1_scale!r}")
  if top1_column != schema.TARGET_COLUMN:
    if schema.TARGET_COLUMN in frame.columns:
      raise ValueError(f"{name}: has both {top1_column!r} and {schema.TARGET_COLUMN!r}")
    frame = frame.rename(columns={top1_column: schema.TARGET_COLUMN})
  missing = [c for c in schema.KEY_COLUMNS + (schema.TARGET_COLUMN,) + tuple(required)
             if c not in frame.columns]
  if missing:
    raise ValueError(f"{name}: missing columns {missing} (the accuracy column is "
                     f"history.top1_column={top1_column!r})")
  for column in schema.KEY_COLUMNS:
    if frame[column].isna().any():
      raise ValueError(f"{name}: column {column!r} has empty values")
    frame[column] = frame[column].astype(str)
  top1 = pd.to_numeric(frame[schema.TARGET_COLUMN], errors="coerce").astype(float)
  if top1.isna().any():
    raise ValueError(f"{name}: {top1_column!r} must be numeric, bad rows "
                     f"{frame.index[top1.isna()].tolist()[:5]}")
  if float(top1_scale) == 100.0 and top1.max() <= 1.0:
    raise ValueError(f"{name}: every {top1_column!r} lies in 0..1: this looks like a 0-1 "
                     f"table; set history.top1_scale=1 to read fractions (or 100 for percent)")
  top1 = top1 * (100.0 / float(top1_scale))
  if (top1 < 0).any() or (top1 > 100).any():
    raise ValueError(f"{name}: {top1_column!r} must lie in 0..{top1_scale:g}")
  frame[schema.TARGET_COLUMN] = top1
  for column in schema.NUMERIC_COLUMNS:
    if column in frame.columns:
      frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
  return _collapse(frame, duplicates, name)


def _collapse(frame: pd.DataFrame, duplicates: str, name) -> pd.DataFrame:
  keys = list(schema.KEY_COLUMNS)
  # As `schema.validate_history`: repeats of a pair with the same accuracy are one run
  # written twice (job columns may differ), whatever the rule.
  frame = frame.drop_duplicates(subset=keys + [schema.TARGET_COLUMN])
  repeated = frame.duplicated(subset=keys, keep=False)
  if not repeated.any():
    return frame.reset_index(drop=True)
  if duplicates == "error":
    pairs = list(dict.fromkeys(zip(frame.loc[repeated, "dataset"], frame.loc[repeated, "model"])))
    raise ValueError(f"{name}: repeated (dataset, model) pairs with differing accuracies, "
                     f"e.g. {pairs[:3]}; set history.duplicates='max' (best run) or 'mean'")
  agg = {c: "first" for c in frame.columns if c not in keys}
  agg[schema.TARGET_COLUMN] = duplicates
  return frame.groupby(keys, sort=False, as_index=False).agg(agg)[list(frame.columns)]


def read_scores(path: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
  """MS scores, long (`dataset, model, score, value`) or wide (one column per score).

  Returns:
    The long form, validated by `schema.validate_scores`.
  """
  frame = pd.read_csv(path) if not isinstance(path, pd.DataFrame) else path
  if set(schema.SCORE_COLUMNS) <= set(frame.columns):
    return schema.validate_scores(frame)
  missing = [c for c in schema.KEY_COLUMNS if c not in frame.columns]
  names = [c for c in frame.columns if c not in schema.KEY_COLUMNS]
  if missing or not names:
    raise ValueError(f"scores table must be long ({list(schema.SCORE_COLUMNS)}) or wide "
                     f"(dataset, model, one column per score); got columns {list(frame.columns)}")
  long = frame.melt(id_vars=list(schema.KEY_COLUMNS), value_vars=names, var_name="score",
                    value_name="value").dropna(subset=["value"])
  long[list(schema.KEY_COLUMNS)] = long[list(schema.KEY_COLUMNS)].astype(str)
  return schema.validate_scores(long)

