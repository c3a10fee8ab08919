"""The history-table contract: its columns and how a history CSV is written.

One row per fine-tuned (dataset, model) pair. The torch half writes it (the sweep's best job
per pair, `finetune.history_writer`); the JAX half reads and validates it
(`history.schema.load_history`, which documents each column's meaning). The scores table
(`SCORE_COLUMNS`, long form) is the other file the recommender reads.

Imports the standard library only: both halves use it.
"""

from __future__ import annotations

import csv
import io as std_io
import os
import pathlib
from typing import Mapping, Sequence

from guidedrec_jax import io

KEY_COLUMNS = ("dataset", "model")
TARGET_COLUMN = "top1"
DATASET_COLUMNS = ("num_train", "num_classes")
MODEL_COLUMNS = ("family", "input_size", "params_m", "gmacs", "pretrain_domain")
# The job that produced a row; imported histories leave them out.
JOB_COLUMNS = ("lr", "weight_decay", "epochs", "seed", "wall_s", "job_key")
REQUIRED_COLUMNS = KEY_COLUMNS + (TARGET_COLUMN,) + DATASET_COLUMNS + MODEL_COLUMNS
NUMERIC_COLUMNS = ("num_train", "num_classes", "input_size", "params_m", "gmacs")
# A sweep's history: every column, in this order.
HISTORY_COLUMNS = REQUIRED_COLUMNS + JOB_COLUMNS
SCORE_COLUMNS = ("dataset", "model", "score", "value")


def write_history(path: str | os.PathLike, rows: Sequence[Mapping[str, object]]
                  ) -> pathlib.Path:
  """Writes history rows as CSV (header always, `HISTORY_COLUMNS` order) atomically.

  Raises:
    ValueError: a row lacks a history column (named, with its pair).
  """
  for row in rows:
    missing = [c for c in HISTORY_COLUMNS if c not in row]
    if missing:
      raise ValueError(f"history row {row.get('dataset')}/{row.get('model')} lacks {missing}")
  buffer = std_io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
  writer.writeheader()
  writer.writerows(rows)
  path = pathlib.Path(path)
  io.write_text_atomic(path, buffer.getvalue())
  return path
