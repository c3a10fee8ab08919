"""The JAX driver of `recommend.py --dataset`: a user's dataset -> one history row per zoo model.

Steps (all outputs under `<workdir>/user/<slug>/`, `<workdir>` a finished benchmark run;
every path is `layout`'s):

1. the zoo's model columns (`user_torch` "meta"), cached in `<workdir>/user/zoo_meta.json`
   per (zoo, manifest, code version): measured once, read on every later call;
2. the probe features of the models asked for plus the difficulty model, in the torch child
   (`user_torch` "extract"), cached in the run's feature cache; a call whose models' caches
   are intact and the ones last checked (`extract.json`: each file's content hash) starts no
   child;
3. the configured MS scores (`benchmark.score_stage.score_task` -> `scores.zoo.score_zoo`),
   cached in `scores.csv` per model and feature sidecar, the file's hash in `scores.json`.

Every cache is verified before reuse: a damaged one (unreadable JSON, a file whose sha256
differs from the one recorded) is logged as a warning and recomputed, never kept.
4. the rows: dataset columns (`num_train`: what the guided fine-tuning trains on, as in the
   benchmark's history; `num_classes`; `difficulty`: the configured score of the configured
   fixed model), each model's columns, one `ms_<score>` column per score.

The driver never imports torch: the child is `python -m guidedrec_jax.benchmark.user_torch`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import pathlib
from typing import Any, Iterator, Sequence

import ml_collections
import pandas as pd

import guidedrec_jax
from guidedrec_jax import io
from guidedrec_jax.benchmark import layout, plan, score_stage, user_dataset
from guidedrec_jax.distributed.local import run_module
from guidedrec_jax.history import schema

CHILD = "guidedrec_jax.benchmark.user_torch"


@contextlib.contextmanager
def dataset_lock(folder: pathlib.Path) -> Iterator[None]:
  """Holds `<folder>/.lock` (an exclusive `flock`) for the block: a second `recommend.py` on
  the same (workdir, dataset) waits here, then finds the first one's caches and reuses them
  instead of extracting the zoo again. The lock dies with its process (no stale locks)."""
  folder.mkdir(parents=True, exist_ok=True)
  with open(folder / layout.LOCK, "a+") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def run_child(request: dict[str, Any], folder: pathlib.Path) -> dict[str, Any]:
  """Runs one `user_torch` request in a child process (one thread each); returns its result.

  Raises:
    RuntimeError: the child failed (its traceback is on stderr above).
  """
  folder.mkdir(parents=True, exist_ok=True)
  request = {**request, "result": str(folder / f"{request['mode']}_result.json")}
  path = folder / f"{request['mode']}_request.json"
  io.write_json_atomic(path, request)
  pathlib.Path(request["result"]).unlink(missing_ok=True)
  run_module(CHILD, str(path), what=f"the torch child ({request['mode']})")
  return json.loads(pathlib.Path(request["result"]).read_text())


def manifest_path(workdir: pathlib.Path) -> pathlib.Path:
  path = workdir / layout.MANIFEST
  if not path.exists():
    raise FileNotFoundError(f"{path} is missing: run scripts/run_benchmark.py with this "
                            "config and workdir first")
  return path


def zoo_meta(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> pd.DataFrame:
  """One row per zoo model: `model` and the history's model columns (cached, see above)."""
  names = plan.zoo_names(config)
  manifest = manifest_path(workdir)
  key = io.json_fingerprint(names, manifest.read_text(), guidedrec_jax.__version__)
  cache = workdir / layout.ZOO_META
  cached = io.read_json(cache)  # None if missing or damaged (then measured again)
  if isinstance(cached, dict) and cached.get("key") == key and "meta" in cached:
    meta = cached["meta"]
  else:
    meta = run_child({"mode": "meta", "models": names, "manifest": str(manifest)},
                     workdir / layout.USER)["meta"]
    io.write_json_atomic(cache, {"key": key, "meta": meta})
  return pd.DataFrame([{"model": name, **meta[name]} for name in names])


def extract(config: ml_collections.ConfigDict, workdir: pathlib.Path,
            user: user_dataset.UserDataset, models: Sequence[str]) -> dict[str, Any]:
  """Probe features of `models` on the user's dataset; returns counts and model -> cache path.

  `extract.json` records, under a key of everything but the model list, each model's cache
  and its content hash; a call whose models' caches are all intact and match starts no
  child. A damaged cache is logged (`io.verified_sha256`) and recomputed by the child.
  """
  folder = layout.user_dir(workdir, user.name)
  cache_root = layout.cache_root(config, workdir)
  request = {"mode": "extract", "dataset": user_dataset.to_plan(user, config.seed),
             "manifest": str(manifest_path(workdir)), "cache_root": cache_root,
             "probe": config.probe.to_dict(), "seed": config.seed,
             "num_workers": config.num_workers, **plan.extraction_options(config.sweep)}
  key = io.json_fingerprint(request, manifest_path(workdir).read_text(), guidedrec_jax.__version__)
  stamp = folder / layout.EXTRACT_STAMP
  record = io.read_json(stamp) or {}
  known = record.get("models", {}) if record.get("key") == key else {}
  fresh = {m: known[m] for m in models if m in known
           and known[m].get("sha256") == io.verified_sha256(known[m]["cache"])}
  result = {"computed": 0, "reused": len(models), "child": False,
            "probe_images": record.get("probe_images")}
  if len(fresh) < len(models):
    todo = [m for m in models if m not in fresh]
    child = run_child({**request, "models": todo}, folder)
    fresh.update({m: {"cache": c, "sha256": io.verify_arrays(c)[io.CONTENT_HASH]}
                  for m, c in child["caches"].items()})
    result = {"computed": child["computed"], "reused": len(models) - child["computed"],
              "child": True, "probe_images": child["probe_images"]}
    io.write_json_atomic(stamp, {"key": key, "probe_images": child["probe_images"],
                                 "models": {**known, **fresh}})
  return {**result, "caches": {m: fresh[m]["cache"] for m in models}}


def scores(config: ml_collections.ConfigDict, folder: pathlib.Path, name: str,
           caches: dict[str, str]) -> tuple[pd.DataFrame, bool]:
  """Long-form scores of the cached models; True if any was computed.

  Every score here depends on one model's features and the probe labels only, so
  `scores.csv` keeps each model's rows under the hash of its sidecar (which holds the
  features' content hash) and the score list; only models without current rows are scored.
  `scores.json` vouches for `scores.csv` by its sha256: a damaged table is scored again.
  """
  path, stamp = folder / layout.SCORES, folder / layout.SCORES_STAMP
  keys = {m: io.json_fingerprint(io.sidecar_path(p).read_text(), tuple(config.scores))
          for m, p in caches.items()}
  known = (io.verified_stamp(stamp) or {}).get("models", {})
  table = pd.read_csv(path) if known else pd.DataFrame(columns=list(schema.SCORE_COLUMNS))
  todo = {m: p for m, p in caches.items() if known.get(m) != keys[m]}
  if todo:
    rows = score_stage.score_task(name, {"caches": {name: todo},
                                         "scores": tuple(config.scores)})
    table = pd.concat([table[~table["model"].isin(list(todo))],
                       pd.DataFrame(rows, columns=list(schema.SCORE_COLUMNS))],
                      ignore_index=True)
    io.write_text_atomic(path, table.to_csv(index=False))
    io.write_stamp(stamp, [path], models={**known, **{m: keys[m] for m in todo}})
  return table[table["model"].isin(list(caches))].reset_index(drop=True), bool(todo)


def guided_sizes(num_images: int, sweep: ml_collections.ConfigDict) -> tuple[int, int]:
  """(num_train, num_val) of fine-tuning on a pool of `num_images`: the sweep's, or a
  quarter held out and the rest trained on when the pool is smaller."""
  num_val = min(sweep.num_val, max(1, num_images // 4))
  return min(sweep.num_train, num_images - num_val), num_val


def dataset_rows(config: ml_collections.ConfigDict, user: user_dataset.UserDataset,
                 meta: pd.DataFrame, models: Sequence[str], long_scores: pd.DataFrame
                 ) -> pd.DataFrame:
  """The history rows (no `top1`) of `models` on the user's dataset, scores joined."""
  history_cfg = config.evaluation.history
  num_train, _ = guided_sizes(len(user.dataset), config.sweep)
  rows = meta[meta["model"].isin(models)].assign(
      dataset=user.name, num_train=float(num_train), num_classes=float(user.dataset.num_classes))
  frame = schema.join_scores(rows.reset_index(drop=True),
                             long_scores.assign(dataset=user.name))
  if history_cfg.difficulty_score:
    frame = schema.add_difficulty(frame, long_scores.assign(dataset=user.name),
                                  history_cfg.difficulty_score, history_cfg.difficulty_model)
  return frame[frame["model"].isin(models)].reset_index(drop=True)
