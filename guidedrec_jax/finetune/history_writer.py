"""The sweep's durable record: an append-only jobs log, and the history table derived from it.

Every finished job is one JSON line in `jobs.jsonl`, written with flush + fsync before the
sweep moves on, so a crash loses at most the job that was running. A crash can also leave a
half-written last line; reading warns and ignores it, and `repair` cuts it off before the
next append so that the new line starts clean. A job logged twice (e.g. two drivers, or a
log merged by hand) counts once if its results agree and is an error if they differ.

The history table (columns and writer: `contracts/history_columns.py`, read by the JAX half's
`history/schema.py`) holds one row per
(dataset, model): the job with the best validation top-1 over the grid.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings
from typing import Any, Iterable, Mapping

from guidedrec_jax import io
from guidedrec_jax.contracts.history_columns import HISTORY_COLUMNS, write_history

# What a job produced, as opposed to when/where it ran (wall_s, device) or model metadata:
# two records of one job_key must agree on these.
RESULT_FIELDS = ("top1", "best_epoch", "final_train_loss", "diverged")
_REQUIRED_FIELDS = ("job_key", "dataset", "model") + RESULT_FIELDS


class JobsLog:
  """An append-only JSON-lines file of finished jobs, keyed by `job_key`.

  Only the sweep driver writes it; workers return results to the driver.
  """

  def __init__(self, path: io.PathLike):
    self.path = pathlib.Path(path)

  def read(self) -> dict[str, dict[str, Any]]:
    """Returns the logged records by job key, each key once.

    A half-written last line (a crash mid-append) is ignored with a `RuntimeWarning`.

    Raises:
      ValueError: a line other than the last is not a JSON object with the required fields,
        or one job key was logged with different results.
    """
    records: dict[str, dict[str, Any]] = {}
    for number, record in self._parsed_lines():
      if record is None:
        continue
      previous = records.setdefault(record["job_key"], record)
      if any(_canonical(previous.get(f)) != _canonical(record.get(f)) for f in RESULT_FIELDS):
        raise ValueError(
            f"{self.path}:{number}: job {record['job_key']} was logged twice with different "
            f"results: {[previous.get(f) for f in RESULT_FIELDS]} vs "
            f"{[record.get(f) for f in RESULT_FIELDS]}")
    return records

  def repair(self) -> None:
    """Cuts off a half-written last line (with a `RuntimeWarning`) so that the next append
    starts on a fresh line; a whole last record that only lost its newline gets it back."""
    if not self.path.exists():
      return
    data = self.path.read_bytes()
    if not data or data.endswith(b"\n"):
      return
    tail_start = data.rfind(b"\n") + 1
    if _parse(data[tail_start:]) is not None:
      # Whole record, only its newline was lost.
      with open(self.path, "ab") as f:
        f.write(b"\n")
        _sync(f)
    else:
      warnings.warn(f"{self.path}: cutting off a half-written last line ({len(data) - tail_start} "
                    f"bytes); its job will run again", RuntimeWarning)
      with open(self.path, "rb+") as f:
        f.truncate(tail_start)
        _sync(f)

  def append(self, record: Mapping[str, Any]) -> None:
    """Appends one record as a JSON line and syncs it to disk before returning.

    Raises:
      ValueError: the record lacks a required field.
    """
    missing = [f for f in _REQUIRED_FIELDS if f not in record]
    if missing:
      raise ValueError(f"record is missing fields {missing}")
    created = not self.path.exists()
    self.path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(record), sort_keys=True) + "\n"
    with open(self.path, "a") as f:
      f.write(line)
      _sync(f)
    if created:
      # A new file's directory entry must be durable too, or the whole log can vanish.
      dir_fd = os.open(self.path.parent, os.O_RDONLY)
      try:
        os.fsync(dir_fd)
      finally:
        os.close(dir_fd)

  def _parsed_lines(self) -> Iterable[tuple[int, dict[str, Any] | None]]:
    if not self.path.exists():
      return
    lines = self.path.read_bytes().split(b"\n")
    # After split, the last element is b"" when the file ends with a newline, else the tail.
    for number, raw in enumerate(lines, start=1):
      if not raw.strip():
        continue
      record = _parse(raw)
      if record is not None:
        yield number, record
      elif number == len(lines):
        warnings.warn(f"{self.path}:{number}: ignoring a half-written last line "
                      f"({len(raw)} bytes); its job will run again", RuntimeWarning)
      else:
        raise ValueError(f"{self.path}:{number}: not a complete job record: {raw[:80]!r}")


def _parse(raw: bytes) -> dict[str, Any] | None:
  """Returns the record in one line, or None if it is not a whole record."""
  try:
    record = json.loads(raw)
  except (json.JSONDecodeError, UnicodeDecodeError):
    return None
  if not isinstance(record, dict) or any(f not in record for f in _REQUIRED_FIELDS):
    return None
  return record


def _sync(f: Any) -> None:
  f.flush()
  os.fsync(f.fileno())


def _canonical(value: Any) -> str:
  # JSON text compares NaN losses equal to themselves, unlike float comparison.
  return json.dumps(value, sort_keys=True)


def best_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
  """Returns one history row per (dataset, model): its job with the best validation top-1.

  Ties go to the smaller learning rate, then weight decay, then job key, so the choice does
  not depend on the order jobs finished in.

  Args:
    records: job records holding every `HISTORY_COLUMNS` entry.

  Returns:
    Rows (dicts in `HISTORY_COLUMNS` order), sorted by dataset then model.

  Raises:
    ValueError: a record lacks a history column.
  """
  best: dict[tuple[str, str], Mapping[str, Any]] = {}
  for record in records:
    missing = [c for c in HISTORY_COLUMNS if c not in record]
    if missing:
      raise ValueError(f"job {record.get('job_key')} lacks history columns {missing}")
    pair = (record["dataset"], record["model"])
    if pair not in best or _rank(record) < _rank(best[pair]):
      best[pair] = record
  return [{c: best[pair][c] for c in HISTORY_COLUMNS} for pair in sorted(best)]


def _rank(record: Mapping[str, Any]) -> tuple[float, float, float, str]:
  return (-record["top1"], record["lr"], record["weight_decay"], record["job_key"])


def history_from_log(log_path: io.PathLike, history_path: io.PathLike,
                     job_keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
  """Rebuilds the history table from a jobs log alone; returns its rows.

  Args:
    log_path: the jobs log.
    history_path: the CSV to write.
    job_keys: only these jobs count (e.g. one sweep's plan); all logged jobs when None.
  """
  records = JobsLog(log_path).read()
  if job_keys is not None:
    wanted = set(job_keys)
    records = {k: r for k, r in records.items() if k in wanted}
  rows = best_rows(records.values())
  write_history(history_path, rows)
  return rows
