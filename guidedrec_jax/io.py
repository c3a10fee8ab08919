"""Files that connect the halves and record runs: atomic writes, checked caches, run logs.

A cache is an `.npz` (no pickle) plus a JSON sidecar that says what made it. Both are written
to a temporary file in the same folder and renamed, so a crash leaves either the old pair or
the new one, never a half file that looks whole. The sidecar is written last: an `.npz` without
a matching sidecar is treated as absent. The sidecar records the sha256 of the `.npz`
(`CONTENT_HASH`), and every load checks it: a damaged file (truncated, or a flipped byte the
zip format does not notice) or one from before hashes were recorded is a `CacheError`, so the
caller recomputes it. Stage stamps (`write_stamp` / `verified_stamp`) do the same for the
outputs a finished stage vouches for.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import pathlib
import tempfile
import time
from typing import Any, Iterator, Mapping, Sequence

from absl import logging
import numpy as np

from guidedrec_jax.benchmark import layout

PathLike = str | os.PathLike
# The sidecar entry holding the sha256 of the `.npz` bytes.
CONTENT_HASH = "npz_sha256"


class CacheError(ValueError):
  """A cache file exists but is unreadable or does not match what was asked for."""


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[pathlib.Path]:
  """Yields a temporary path beside `path`; renames it onto `path` if the block succeeds."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
  os.close(fd)
  tmp_path = pathlib.Path(tmp)
  try:
    yield tmp_path
    with open(tmp_path, "rb+") as f:
      os.fsync(f.fileno())
    os.replace(tmp_path, path)
  finally:
    tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: PathLike, text: str) -> None:
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as tmp:
    tmp.write_text(text)


def write_json_atomic(path: PathLike, obj: Any) -> None:
  """Writes `obj` as indented, key-sorted JSON to `path` atomically."""
  write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
  if isinstance(obj, (np.integer, np.floating)):
    return obj.item()
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, pathlib.Path):
    return str(obj)
  raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sidecar_path(npz_path: PathLike) -> pathlib.Path:
  """Returns the JSON sidecar path of an `.npz` cache (`x.npz` -> `x.json`)."""
  return pathlib.Path(npz_path).with_suffix(".json")


def save_arrays(path: PathLike, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> str:
  """Saves `arrays` to `path` (.npz, no pickle) and `meta` to its sidecar, both atomically;
  returns the `.npz`'s sha256 (what the sidecar records).

  The sidecar gains `arrays` (name -> [shape, dtype]), `written_at` and `CONTENT_HASH`
  (sha256 of the `.npz` as written); it is written after the arrays so that a crash between
  the two leaves a cache that `load_arrays` rejects.
  """
  path = pathlib.Path(path)
  if path.suffix != ".npz":
    raise ValueError(f"path must end in .npz, got {str(path)!r}")
  arrays = {name: np.asarray(value) for name, value in arrays.items()}
  for name, value in arrays.items():
    if value.dtype == object:
      raise ValueError(f"array {name!r} has dtype object; caches hold numeric arrays only")
  sidecar_path(path).unlink(missing_ok=True)
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      np.savez(f, **arrays)
    digest = file_sha256(tmp)
  full_meta = dict(meta)
  full_meta["arrays"] = {name: [list(v.shape), str(v.dtype)] for name, v in arrays.items()}
  full_meta["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
  full_meta[CONTENT_HASH] = digest
  write_json_atomic(sidecar_path(path), full_meta)
  return digest


def file_sha256(path: PathLike) -> str:
  """SHA-256 (hex) of a file's bytes, read in chunks."""
  with open(path, "rb") as f:
    return hashlib.file_digest(f, "sha256").hexdigest()


def verify_arrays(path: PathLike) -> dict[str, Any]:
  """Checks that a cache's `.npz` is the file its sidecar describes; returns the sidecar.

  Cheaper than `load_arrays` (one read of the bytes, no decompression): what stage checks use
  to vouch for caches they do not load.

  Raises:
    FileNotFoundError: the file or its sidecar is missing.
    CacheError: the sidecar is unreadable or records no content hash (written before hashes
      were recorded), or the file's sha256 differs from it (damaged or replaced).
  """
  path = pathlib.Path(path)
  side = sidecar_path(path)
  if not path.exists() or not side.exists():
    raise FileNotFoundError(f"cache {path} or its sidecar {side.name} is missing")
  try:
    meta = json.loads(side.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise CacheError(f"sidecar {side} is not valid JSON: {e}") from e
  if not isinstance(meta, dict):
    raise CacheError(f"sidecar {side} holds {type(meta).__name__}, not an object")
  recorded = meta.get(CONTENT_HASH)
  if recorded is None:
    raise CacheError(f"cache {path}: its sidecar records no {CONTENT_HASH} (written before "
                     "content hashes were recorded)")
  actual = file_sha256(path)
  if actual != recorded:
    raise CacheError(f"cache {path} is damaged: its sha256 {actual[:16]}... differs from "
                     f"the {recorded[:16]}... its sidecar records")
  return meta


def load_arrays(path: PathLike, expect: Mapping[str, Any] | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """Loads a cache written by `save_arrays`, checking it against its sidecar and `expect`.

  Args:
    path: the `.npz` file.
    expect: sidecar entries that must be equal (e.g. model, dataset, probe seed).

  Returns:
    (arrays, sidecar).

  Raises:
    FileNotFoundError: the file or its sidecar is missing.
    CacheError: as `verify_arrays`; or the sidecar does not match `expect`, or the arrays
      are unreadable or differ in shape/dtype from what the sidecar records.
  """
  path = pathlib.Path(path)
  meta = verify_arrays(path)
  for key, value in (expect or {}).items():
    if meta.get(key) != _jsonable(value):
      raise CacheError(f"cache {path}: sidecar {key}={meta.get(key)!r}, expected {value!r}")
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {name: data[name] for name in data.files}
  except Exception as e:  # zipfile/ValueError/EOFError: all mean a damaged file.
    raise CacheError(f"cache {path} is unreadable ({type(e).__name__}: {e})") from e
  recorded = meta.get("arrays", {})
  actual = {name: [list(v.shape), str(v.dtype)] for name, v in arrays.items()}
  if recorded != actual:
    raise CacheError(f"cache {path} holds {actual}, its sidecar records {recorded}")
  return arrays, meta


def verified_sha256(path: PathLike) -> str | None:
  """The content hash of an intact cache; None if it is missing or damaged.

  A damaged cache (see `verify_arrays`) is logged as a warning naming the file and why, so
  that the stage about to recompute it says so.
  """
  try:
    return verify_arrays(path)[CONTENT_HASH]
  except FileNotFoundError:
    return None
  except CacheError as e:
    logging.warning("recomputing: %s", e)
    return None


def _jsonable(value: Any) -> Any:
  return json.loads(json.dumps(value, default=_json_default))


def read_json(path: PathLike) -> Any | None:
  """A JSON file's value; None if it is missing, or unreadable (logged as a warning)."""
  path = pathlib.Path(path)
  if not path.exists():
    return None
  try:
    return json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    logging.warning("ignoring %s, not valid JSON (%s): recomputing what it records", path, e)
    return None


def write_stamp(path: PathLike, outputs: Sequence[PathLike], **record: Any) -> None:
  """Writes a stage's stamp: `record` plus the sha256 of each output (files beside or below
  the stamp, recorded by relative path so that a moved folder keeps its stamps)."""
  path = pathlib.Path(path)
  hashes = {pathlib.Path(out).relative_to(path.parent).as_posix(): file_sha256(out)
            for out in outputs}
  write_json_atomic(path, {**record, "outputs": hashes})


def verified_stamp(path: PathLike) -> dict[str, Any] | None:
  """A stamp's record if every output it vouches for is there with its recorded sha256;
  None (the stage must run again) if the stamp is missing, or, logged as a warning naming the
  file and why, unreadable, from before outputs were hashed, or an output is missing or
  changed."""
  path = pathlib.Path(path)
  record = read_json(path)
  if record is None:
    return None
  outputs = record.get("outputs") if isinstance(record, dict) else None
  if not outputs:
    logging.warning("stamp %s records no output hashes: recomputing its stage", path)
    return None
  for name, recorded in outputs.items():
    out = path.parent / name
    if not out.is_file():
      logging.warning("%s is missing although %s vouches for it: recomputing", out, path.name)
      return None
    if file_sha256(out) != recorded:
      logging.warning("%s is damaged or changed: its sha256 differs from the one %s records; "
                      "recomputing", out, path.name)
      return None
  return record


def write_config(workdir: PathLike, config: Any) -> pathlib.Path:
  """Writes `workdir/config.json` (`layout.CONFIG`) from an ml-collections config or a
  mapping."""
  as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
  path = pathlib.Path(workdir) / layout.CONFIG
  write_json_atomic(path, as_dict)
  return path


class MetricsWriter:
  """Appends one JSON object per line to `workdir/metrics.jsonl` (`layout.METRICS`, where
  results.py reads a run's log), flushed at every write."""

  def __init__(self, workdir: PathLike, name: str = layout.METRICS):
    self.path = pathlib.Path(workdir) / name
    self.path.parent.mkdir(parents=True, exist_ok=True)

  def write(self, **record: Any) -> None:
    record.setdefault("time", time.time())
    with open(self.path, "a") as f:
      f.write(json.dumps(record, sort_keys=True, default=_json_default) + "\n")
      f.flush()


# How a table cell shows a missing value (NaN): a dash reads as "no figure", "nan" as a bug.
MISSING = "–"


def table_cell(value: Any, float_format: str = "{:.3f}", exact: bool = False) -> str:
  """A Markdown table cell: a float by `float_format`, NaN as `MISSING`, others by `str`.

  Unless `exact`, a small value keeps 3 significant digits: a weight decay of 5e-4 must not
  print as a rounded 0.001 / 0.000; below 1e-6 it is round-off noise in these tables (a score
  of -1e-14) and prints by `float_format`. `exact`: every float by `float_format`, for a
  document that states its figures' decimals (RESULTS.md).
  """
  if not isinstance(value, float):
    return str(value)
  if math.isnan(value):
    return MISSING
  if not exact and 1e-6 <= abs(value) < 0.01:
    return f"{value:.3g}"
  return float_format.format(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], float_format: str = "{:.3f}",
                   exact: bool = False, columns: Sequence[Any] | None = None) -> str:
  """Renders rows (dicts sharing keys) as a GitHub Markdown table, cells by `table_cell`.

  `columns`: the header, by default the first row's keys; given, a table without rows still
  shows its header (otherwise it renders as "").
  """
  if columns is None:
    if not rows:
      return ""
    columns = list(rows[0].keys())
  lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(table_cell(r.get(c, ""), float_format, exact) for c in columns)
            + " |" for r in rows]
  return "\n".join(lines) + "\n"


def write_table(workdir: PathLike, name: str, rows: list[Mapping[str, Any]]) -> tuple[pathlib.Path, pathlib.Path]:
  """Writes rows as `workdir/name.csv` and `workdir/name.md`; returns both paths."""
  workdir = pathlib.Path(workdir)
  columns = list(rows[0].keys()) if rows else []
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=columns)
  writer.writeheader()
  writer.writerows(rows)
  csv_path, md_path = workdir / f"{name}.csv", workdir / f"{name}.md"
  write_text_atomic(csv_path, buffer.getvalue())
  write_text_atomic(md_path, markdown_table(list(rows)))
  return csv_path, md_path


def json_fingerprint(*parts: Any) -> str:
  """SHA-256 of `parts` as sorted JSON (non-JSON values by `str`): a cache or stage key."""
  return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
