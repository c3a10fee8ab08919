"""The saved recommender: one fitted method (by default the blend) in one checked directory.

`train_saved(history, block, declared)` builds the method a registry block describes
(`recommender/registry.py`) and fits it on `history`; everything a ranking needs is chosen
here, at training time, so `recommend.py` never retrains to rank. `save(saved, directory)`
writes

  <directory>/recommender.json   format and code version, the resolved method block, the
                                 declared history fields, the training rows' fingerprint,
                                 datasets and models, and the state file's sha256
  <directory>/state.npz/.json    `state.state_of(fitted)`: float arrays and plain JSON (a
                                 blend: every member's state, its weights, its calibration)

into a temporary sibling folder that replaces `directory` by rename, so a crash leaves the
old recommender or the new one, never a mix. No pickle anywhere. `load(directory, block)`
checks all of it (format, code version, state hash, the method block asked for) and refuses
a mismatch with a ValueError naming what differs. A round trip predicts identically.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import tempfile
from typing import Any, NamedTuple

import pandas as pd

import guidedrec_jax
from guidedrec_jax import io
from guidedrec_jax.recommender import registry, state

FORMAT_VERSION = 2
MANIFEST = "recommender.json"
STATE_FILE = "state.npz"
# Columns that identify a training row and its target: what the fingerprint covers.
_FINGERPRINT_COLUMNS = ("dataset", "model", "top1")


class SavedRecommender(NamedTuple):
  """A fitted method and its manifest (`recommender.json`)."""
  fitted: Any
  meta: dict[str, Any]

  @property
  def name(self) -> str:
    return registry.label(self.meta["block"])


def rows_fingerprint(history: pd.DataFrame) -> str:
  """sha256 of the training rows' (dataset, model, top1) and every joined column, row order
  free: the same rows give the same fingerprint, any changed value another."""
  columns = [c for c in history.columns if c in _FINGERPRINT_COLUMNS
             or c in ("difficulty",) or str(c).startswith("ms_")]
  frame = history[sorted(columns)].sort_values(["dataset", "model"]).reset_index(drop=True)
  return hashlib.sha256(frame.to_csv(index=False, float_format="%.9g").encode()).hexdigest()


def train_saved(history: pd.DataFrame, block: Any, declared: dict[str, str] | str = ""
                ) -> SavedRecommender:
  """Fits the method `block` describes on `history` (rows with `top1`).

  Raises:
    ValueError: an empty history or a bad block (named), before any fitting.
  """
  if history.empty or "top1" not in history.columns:
    raise ValueError("history must hold training rows with a 'top1' column")
  resolved = registry.resolve(block)
  fitted = registry.build(resolved, declared).fit(history)
  meta = {"format_version": FORMAT_VERSION, "code_version": guidedrec_jax.__version__,
          "block": resolved, "declared": declared if isinstance(declared, str) else dict(declared),
          "fingerprint": rows_fingerprint(history), "num_rows": int(len(history)),
          "datasets": sorted(map(str, history["dataset"].unique())),
          "models": sorted(map(str, history["model"].unique()))}
  return SavedRecommender(fitted, meta)


def save(saved: SavedRecommender, directory: str | os.PathLike) -> pathlib.Path:
  """Writes `saved` to `directory` atomically (see the module docstring); returns it."""
  directory = pathlib.Path(directory)
  directory.parent.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
  try:
    arrays, meta = state.state_of(saved.fitted)
    path = tmp / STATE_FILE
    side = io.sidecar_path(path)
    hashes = {path.name: io.save_arrays(path, arrays, meta), side.name: io.file_sha256(side)}
    io.write_json_atomic(tmp / MANIFEST, {**saved.meta, "files": hashes})
    old = directory.with_name(f".{directory.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
      os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return directory


def load(directory: str | os.PathLike, block: Any = None) -> SavedRecommender:
  """Loads and checks a saved recommender.

  Args:
    directory: written by `save`.
    block: the method block the caller's config asks for; None: any. Compared after both
      are resolved over the registry's defaults.

  Raises:
    FileNotFoundError: no recommender in `directory`.
    ValueError: another format or code version, a damaged or swapped state file, or another
      method block than asked for; the message names what differs.
  """
  directory = pathlib.Path(directory)
  manifest = directory / MANIFEST
  if not manifest.exists():
    raise FileNotFoundError(f"no saved recommender in {directory} ({MANIFEST} is missing): "
                            "run scripts/train_recommender.py or scripts/run_benchmark.py")
  meta = json.loads(manifest.read_text())
  if meta.get("format_version") != FORMAT_VERSION:
    raise ValueError(f"saved recommender {directory}: format version "
                     f"{meta.get('format_version')!r}, this code reads {FORMAT_VERSION}: "
                     "retrain it (scripts/train_recommender.py)")
  if meta.get("code_version") != guidedrec_jax.__version__:
    raise ValueError(f"saved recommender {directory} was written by code version "
                     f"{meta.get('code_version')!r}, this is {guidedrec_jax.__version__!r}: "
                     "retrain it (scripts/train_recommender.py)")
  if block is not None:
    asked = json.loads(json.dumps(registry.resolve(block)))
    if asked != meta["block"]:
      differ = sorted(k for k in set(asked) | set(meta["block"])
                      if asked.get(k) != meta["block"].get(k))
      raise ValueError(f"saved recommender {directory} was trained with another method block "
                       f"(keys {differ} differ from the config's): retrain it")
  path, files = directory / STATE_FILE, meta.get("files", {})
  def not_saved(name: str) -> ValueError:
    return ValueError(f"saved recommender {directory}: {name} is missing or not the file it "
                      "was saved with")
  side = io.sidecar_path(path)
  if not path.exists():
    raise not_saved(path.name)
  if not side.exists() or io.file_sha256(side) != files.get(side.name):
    raise not_saved(side.name)
  # The intact sidecar records the state file's sha256, which `io.load_arrays` checks against
  # the file: comparing the manifest's hash with that record hashes the state file only once.
  if json.loads(side.read_text()).get(io.CONTENT_HASH) != files.get(path.name):
    raise not_saved(path.name)
  try:
    arrays, state_meta = io.load_arrays(path)
  except (FileNotFoundError, io.CacheError) as e:
    raise not_saved(path.name) from e
  return SavedRecommender(state.load_state(arrays, state_meta), meta)
