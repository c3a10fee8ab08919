"""The saved recommender: a seed ensemble of fitted methods in one checked directory.

`train_saved(history, block, seeds)` fits the learned method a config block describes
(`methods.method_from_config`, keys of `methods.default_method_config`) once per seed;
`save(saved, directory)` writes

  <directory>/recommender.json    format and code version, the method block, the seeds, the
                                  training rows' fingerprint and counts, the encoder's field
                                  names, and each member file's sha256
  <directory>/member_<i>.npz/.json  member i: `Fitted.to_state()` (float32 parameters; the
                                  fitted encoder's fields, categories and statistics as JSON)

into a temporary sibling folder that replaces `directory` by rename, so a crash leaves the
old recommender or the new one, never a mix. No pickle anywhere. `load(directory, ...)`
checks all of it (format, code version, member hashes, the expected field set) and refuses a
mismatch with a ValueError naming what differs. `predict(saved, frame)` returns each row's
mean over members and their spread (population std): the ensemble's own uncertainty.

A state round trip predicts bitwise identically (same float32 arrays, same code path).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import tempfile
from typing import Any, NamedTuple, Sequence

import ml_collections
import numpy as np
import pandas as pd

import guidedrec_jax
from guidedrec_jax import io
from guidedrec_jax.recommender import fitted as fitted_lib
from guidedrec_jax.recommender import methods

FORMAT_VERSION = 1
MANIFEST = "recommender.json"
# Columns that identify a training row and its target: what the fingerprint covers.
_FINGERPRINT_COLUMNS = ("dataset", "model", "top1")


class SavedRecommender(NamedTuple):
  """A seed ensemble: `members[i]` was fitted with `seeds[i]`; `meta` is recommender.json."""
  members: tuple[fitted_lib.Fitted, ...]
  seeds: tuple[int, ...]
  meta: dict[str, Any]

  @property
  def fields(self) -> str:
    return self.meta["block"]["fields"]

  @property
  def target(self) -> str:
    return self.meta["block"]["target"]


def rows_fingerprint(history: pd.DataFrame) -> str:
  """sha256 of the training rows' (dataset, model, top1) and every joined column, row order
  free: the same rows give the same fingerprint, any changed value another."""
  columns = [c for c in history.columns if c in _FINGERPRINT_COLUMNS
             or c in ("difficulty",) or str(c).startswith("ms_")]
  frame = history[sorted(columns)].sort_values(["dataset", "model"]).reset_index(drop=True)
  return hashlib.sha256(frame.to_csv(index=False, float_format="%.9g").encode()).hexdigest()


def _block_dict(block: ml_collections.ConfigDict | dict[str, Any]) -> dict[str, Any]:
  given = block.to_dict() if isinstance(block, ml_collections.ConfigDict) else dict(block)
  return {**methods.default_method_config().to_dict(), **given, "num_seeds": 1}


def train_saved(history: pd.DataFrame, block: ml_collections.ConfigDict | dict[str, Any],
                seeds: Sequence[int]) -> SavedRecommender:
  """Fits one member per seed on `history` (rows with `top1`).

  Raises:
    ValueError: no seeds, repeated seeds, an empty history, or a bad block (named).
  """
  seeds = tuple(int(s) for s in seeds)
  if not seeds or len(set(seeds)) != len(seeds):
    raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
  if history.empty or "top1" not in history.columns:
    raise ValueError("history must hold training rows with a 'top1' column")
  block = _block_dict(block)
  members = tuple(methods.method_from_config(block, seed=s).fit(history) for s in seeds)
  meta = {"format_version": FORMAT_VERSION, "code_version": guidedrec_jax.__version__,
          "block": block, "seeds": list(seeds), "fingerprint": rows_fingerprint(history),
          "num_rows": int(len(history)), "datasets": sorted(history["dataset"].unique()),
          "models": sorted(history["model"].unique()),
          "field_names": [f.name for f in members[0].encoder.fields]}
  return SavedRecommender(members, seeds, meta)


def predict(saved: SavedRecommender, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
  """(mean, spread) over members of each row's prediction; float64 [len(frame)] each."""
  per_member = np.stack([member.predict(frame) for member in saved.members])
  return per_member.mean(axis=0), per_member.std(axis=0)


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def save(saved: SavedRecommender, directory: str | os.PathLike) -> pathlib.Path:
  """Writes `saved` to `directory` atomically (see the module docstring); returns it."""
  directory = pathlib.Path(directory)
  directory.parent.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
  try:
    hashes = {}
    for index, member in enumerate(saved.members):
      arrays, meta = member.to_state()
      path = tmp / f"member_{index}.npz"
      io.save_arrays(path, arrays, meta)
      hashes[path.name] = _sha256(path)
      hashes[io.sidecar_path(path).name] = _sha256(io.sidecar_path(path))
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


def load(directory: str | os.PathLike, fields: str | None = None,
         block: dict[str, Any] | None = None) -> SavedRecommender:
  """Loads and checks a saved recommender.

  Args:
    directory: written by `save`.
    fields: the field set the caller will encode rows for; None: any.
    block: the method block the caller's config asks for (model, fields, target, ...);
      None: any. Compared key by key on what both hold.

  Raises:
    FileNotFoundError: no recommender in `directory`.
    ValueError: another format or code version, a damaged or swapped member file, or a
      field set / method block other than asked for; the message names what differs.
  """
  directory = pathlib.Path(directory)
  manifest = directory / MANIFEST
  if not manifest.exists():
    raise FileNotFoundError(f"no saved recommender in {directory} ({MANIFEST} is missing): "
                            "run scripts/train_recommender.py or scripts/run_benchmark.py")
  meta = json.loads(manifest.read_text())
  if meta.get("format_version") != FORMAT_VERSION:
    raise ValueError(f"saved recommender {directory}: format version "
                     f"{meta.get('format_version')!r}, this code reads {FORMAT_VERSION}")
  if meta.get("code_version") != guidedrec_jax.__version__:
    raise ValueError(f"saved recommender {directory} was written by code version "
                     f"{meta.get('code_version')!r}, this is {guidedrec_jax.__version__!r}: "
                     "retrain it (scripts/train_recommender.py)")
  if fields is not None and meta["block"]["fields"] != fields:
    raise ValueError(f"saved recommender {directory} uses field set "
                     f"{meta['block']['fields']!r}, the config asks for {fields!r}: retrain it")
  for key, value in (block or {}).items():
    if key in meta["block"] and key != "num_seeds" and meta["block"][key] != value:
      raise ValueError(f"saved recommender {directory} has {key}={meta['block'][key]!r}, "
                       f"the config asks for {value!r}: retrain it")
  members = []
  for index in range(len(meta["seeds"])):
    path = directory / f"member_{index}.npz"
    for file in (path, io.sidecar_path(path)):
      if not file.exists() or _sha256(file) != meta["files"].get(file.name):
        raise ValueError(f"saved recommender {directory}: {file.name} is missing or not the "
                         "file it was saved with")
    arrays, state = io.load_arrays(path)
    members.append(fitted_lib.Fitted.from_state(arrays, state))
  names = [f.name for f in members[0].encoder.fields]
  if names != meta["field_names"]:
    raise ValueError(f"saved recommender {directory}: members encode {names}, "
                     f"{MANIFEST} records {meta['field_names']}")
  return SavedRecommender(tuple(members), tuple(meta["seeds"]), meta)
