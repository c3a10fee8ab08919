"""The torch stages of the micro benchmark, run as a child process of the JAX driver.

`python -m guidedrec_jax.benchmark.torch_stages <workdir>` reads `<workdir>/config.json`
(written by `pipeline.run_benchmark`) and runs each stage's jobs through the executor the
config's `ray_address` selects (`distributed.executor_from_config`): spawned one-thread
worker processes here for "" (one pool shared by the three stages), Ray tasks reserving
`config.resources.<stage>` otherwise:

1. pre-trains small timm architectures from random init on source tasks, saving each best
   checkpoint atomically under `<workdir>/pretrained/` with a JSON sidecar (reused when the
   sidecar matches), and writes the zoo manifest `<workdir>/zoo_manifest.json`: the
   `ModelSpec`s of every model this run adds to the zoo (ImageNet models at 32 px, the
   pre-trained-here ones), which every worker re-registers (`torch_common.register_manifest`);
2. fine-tunes every (model, task) pair over the HPO grid (`finetune.run_sweep`: jobs log,
   resume, history CSV under `<workdir>/sweep/`);
3. fine-tunes every model again on `config.noise_ceiling.tasks` with another seed (same grid;
   `<workdir>/noise_ceiling/`): the noise ceiling of the history;
4. extracts probe-set features of every (model, task) (`zoo.extract_features`, cached).

It ends by writing `<workdir>/torch_stages.json`: what each stage executed or reused. What
this child shares with the user path's (`user_torch`) is in `torch_common`; the paths are
`layout`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import sys
import time
from typing import Any

from absl import logging
import numpy as np
import torch

import guidedrec_jax
from guidedrec_jax import io
from guidedrec_jax.benchmark import layout, plan, torch_common
from guidedrec_jax.data import load_dataset, probe_set
from guidedrec_jax.distributed import Executor, executor_from_config
from guidedrec_jax.finetune import HyperParams, finetune, split_train_val
from guidedrec_jax.zoo import create_model, feature_cache_path, get_spec
from guidedrec_jax.zoo.registry import input_spec


@dataclasses.dataclass(frozen=True)
class PretrainJob:
  """One source model to pre-train: the random-init zoo architecture and the source task."""
  architecture: str
  source: str
  checkpoint: str


def _pretrain_description(job: PretrainJob, cfg: dict[str, Any], num_train: int
                          ) -> dict[str, Any]:
  return {"architecture": job.architecture, "source": job.source, "num_train": num_train,
          **{k: cfg[k] for k in ("num_val", "epochs", "lr", "weight_decay", "batch_size",
                                 "seed")}}


def cached_pretrain(job: PretrainJob, cfg: dict[str, Any], num_train: int
                    ) -> dict[str, Any] | None:
  """The sidecar record of a finished checkpoint made by the same job, else None.

  The record holds the checkpoint's sha256: a damaged or replaced checkpoint (or one from
  before hashes were recorded) is logged and trained again, never reused.
  """
  checkpoint = pathlib.Path(job.checkpoint)
  if not checkpoint.is_file():
    return None
  record = io.read_json(checkpoint.with_suffix(".json"))
  if not isinstance(record, dict) or record.get("job") != _pretrain_description(job, cfg,
                                                                              num_train):
    return None
  if record.get("sha256") != io.file_sha256(checkpoint):
    logging.warning("checkpoint %s is damaged or not the one its sidecar records: "
                    "pre-training it again", checkpoint)
    return None
  return record


def _source_train_size(source: str, cfg: dict[str, Any]) -> tuple[Any, int]:
  """The source task's training split and how many of its images pre-training uses."""
  data = load_dataset(source, "train", seed=cfg["seed"])
  if len(data) <= cfg["num_val"] + 1:
    raise ValueError(f"pretrain.num_val={cfg['num_val']} leaves no training images of "
                     f"{source!r} ({len(data)} images)")
  return data, min(cfg["num_train"], len(data) - cfg["num_val"])


def pretrain_one(job: PretrainJob, cfg: dict[str, Any]) -> dict[str, Any]:
  """Trains `job.architecture` from random init on `job.source`, keeping the best epoch.

  The checkpoint holds the whole model, the source head included (its softmax feeds LEEP);
  its sidecar, written after it, records the job, so a sidecar means a whole checkpoint.
  """
  torch.set_num_threads(1)
  # A stale sidecar beside a checkpoint about to be replaced must not vouch for it.
  pathlib.Path(job.checkpoint).with_suffix(".json").unlink(missing_ok=True)
  data, num_train = _source_train_size(job.source, cfg)
  train, val = split_train_val(data, num_train, cfg["num_val"], cfg["seed"])
  # As `sweep.run_job` does: anything drawing from the global generator (dropout, drop path)
  # then starts from the same state whichever jobs ran in this worker before.
  torch.manual_seed(cfg["seed"])
  hparams = HyperParams(lr=cfg["lr"], weight_decay=cfg["weight_decay"], epochs=cfg["epochs"],
                        batch_size=cfg["batch_size"])
  model = create_model(job.architecture, num_classes=train.num_classes, pretrained=False,
                       seed=cfg["seed"])
  spec = input_spec(job.architecture)
  result = finetune(model, train, val, hparams, spec, cfg["seed"], cfg["device"] or None,
                    save_path=job.checkpoint)
  record = {"job": _pretrain_description(job, cfg, num_train), "num_classes": train.num_classes,
            "val_top1": result.top1, "wall_s": round(result.wall_s, 2),
            "sha256": io.file_sha256(job.checkpoint)}
  io.write_json_atomic(pathlib.Path(job.checkpoint).with_suffix(".json"), record)
  return record


def _manifest_entries(config: dict[str, Any],
                      pretrained: dict[PretrainJob, dict[str, Any]]) -> list[dict[str, Any]]:
  """`ModelSpec` fields of the models this run adds: ImageNet ones at the configured size,
  then the pre-trained-here ones (the source head's size comes from their training record)."""
  size = config["zoo"]["imagenet_input_size"]
  families = config["zoo"]["families"]
  entries = [dict(name=plan.imagenet_name(arch, size), architecture=arch,
                  family=families.get(arch) or get_spec(arch).family, pretrain_domain="in1k",
                  weights="timm",
                  input_size=size, num_source_classes=1000, timm_kwargs={})
             for arch in config["zoo"]["imagenet"]]
  for job, record in pretrained.items():
    base = get_spec(job.architecture)
    entries.append(dict(name=plan.pretrained_name(job.architecture, job.source),
                        architecture=base.architecture, family=base.family,
                        pretrain_domain=job.source, weights=job.checkpoint,
                        input_size=base.input_size, num_source_classes=record["num_classes"],
                        timm_kwargs=dict(base.timm_kwargs)))
  return entries


def _pretrain(config: dict[str, Any], workdir: pathlib.Path, pool: Executor
              ) -> tuple[pathlib.Path, dict[str, Any]]:
  """Pre-trains the source models not already cached, then writes and registers the manifest."""
  jobs = [PretrainJob(arch, source,
                      str(layout.pretrained(workdir, plan.pretrained_name(arch, source))))
          for arch, source in config["pretrain"]["models"]]
  cfg = {**config["pretrain"], "seed": config["seed"], "device": config["device"]}
  sizes = {source: _source_train_size(source, cfg)[1]
           for source in {job.source for job in jobs}}
  done = {job: cached_pretrain(job, cfg, sizes[job.source]) for job in jobs}
  reused = sum(record is not None for record in done.values())
  done.update(pool.map_unordered(pretrain_one, [j for j in jobs if done[j] is None], cfg))
  manifest = workdir / layout.MANIFEST
  entries = _manifest_entries(config, {job: done[job] for job in jobs})
  if not manifest.exists() or json.loads(manifest.read_text()) != entries:
    io.write_json_atomic(manifest, entries)
  torch_common.register_manifest(manifest)
  return manifest, {"executed": len(jobs) - reused, "reused": reused,
                    "val_top1": {j.architecture + "/" + j.source: done[j]["val_top1"]
                                 for j in jobs}}


def _task_data(config: dict[str, Any]) -> dict[str, Any]:
  """Each task's training split, subsampled to what the sweep and the probe set use.

  With `config.tfds_mock_examples` > 0, TFDS tasks read TFDS's generated mock data
  (`tfds.testing.mock_data`, random images and labels: plumbing checks only), materialised
  here because the mock exists only inside this call.
  """
  sweep, mock = config["sweep"], config["tfds_mock_examples"]
  context = contextlib.nullcontext()
  if mock:
    import tensorflow_datasets as tfds  # only for mock runs
    context = tfds.testing.mock_data(num_examples=mock)
  with context:
    data = {task: load_dataset(task, "train", seed=config["seed"],
                               max_examples=sweep["num_train"] + sweep["num_val"])
            for task in config["tasks"]}
    if mock:
      data = {t: d.replace(images=np.asarray(d.images[np.arange(len(d))]))
              for t, d in data.items()}
  return data


def _extract(config: dict[str, Any], workdir: pathlib.Path, manifest: pathlib.Path,
             names: list[str], data: dict[str, Any], pool: Executor
             ) -> dict[str, Any]:
  """Extracts every (task, model) probe set's features; returns counts and the stage key.

  Checking a cache costs a model build and a weights hash; a rerun with the same stage key
  (config, manifest, code) whose caches are all intact and the ones it recorded (the content
  hash of each sidecar, checked against the file's bytes) skips even that. A damaged cache
  is logged here and recomputed by `extract_features`.
  """
  probe = config["probe"]
  cache_root = layout.cache_root(config, workdir)
  key = io.json_fingerprint(
      config["tasks"], config["seed"], config["sweep"]["num_train"], config["sweep"]["num_val"],
      probe, cache_root, names, plan.extraction_options(config["sweep"]), manifest.read_text(),
      guidedrec_jax.__version__)
  jobs = [(task, name) for task in config["tasks"] for name in names]
  paths = {f"{t}/{m}": feature_cache_path(cache_root, t, m) for t, m in jobs}
  hashes = {k: io.verified_sha256(p) for k, p in paths.items()}  # logs every damaged one
  last = (io.read_json(workdir / layout.TORCH_RECORD) or {}).get("extract", {})
  if (last.get("stage_key") == key and None not in hashes.values()
      and last.get("hashes") == hashes):
    return {**last, "computed": 0, "reused": len(jobs)}
  context = {"manifest": str(manifest), "batch_size": probe["batch_size"],
             **plan.extraction_options(config["sweep"]),
             "cache_root": cache_root,
             "probes": {t: probe_set(d, config["seed"], probe["max_images"],
                                     probe["max_per_class"]) for t, d in data.items()}}
  computed = sum(done for _, done in pool.map_unordered(torch_common.extract_one, jobs,
                                                        context))
  caches: dict[str, dict[str, str]] = {}
  for task, model in jobs:
    caches.setdefault(task, {})[model] = str(paths[f"{task}/{model}"])
  return {"computed": computed, "reused": len(jobs) - computed, "cache_root": cache_root,
          "caches": caches, "stage_key": key,
          "hashes": {k: io.verify_arrays(p)[io.CONTENT_HASH] for k, p in paths.items()}}


def _noise_rerun(config: dict[str, Any], workdir: pathlib.Path, manifest: pathlib.Path,
                 names: list[str], data: dict[str, Any], pool: Executor
                 ) -> dict[str, Any] | None:
  """The sweep again on `config.noise_ceiling.tasks` with another seed (the noise ceiling).

  Same grid, models and subset sizes; the seed changes the train/validation cut, the head
  initialisation and the batch order. Written under `<workdir>/noise_ceiling/` (its own
  jobs log and history); None when no task is listed.
  """
  noise, sweep_cfg = config["noise_ceiling"], config["sweep"]
  if not noise["tasks"]:
    return None
  return torch_common.sweep({t: data[t] for t in noise["tasks"]}, names, manifest, sweep_cfg,
                            workdir / layout.NOISE_CEILING, num_train=sweep_cfg["num_train"],
                            num_val=sweep_cfg["num_val"], seed=noise["seed"], executor=pool,
                            device=config["device"])


STAGES = ("pretrain", "sweep", "extract")


def stage_executors(config: dict[str, Any]) -> dict[str, Executor]:
  """The executor of each torch stage, from the config (`distributed.executor_from_config`).

  Without Ray (`ray_address` ""), one pool of `num_workers` processes serves the three
  stages, so its workers start once; on Ray each stage reserves its own
  `config.resources.<stage>`, and the stages share the connection the first one opens.
  """
  if config["ray_address"] == "":
    shared = executor_from_config(config, "sweep", local_workers=config["num_workers"])
    return {stage: _Shared(shared) if stage != "pretrain" else shared for stage in STAGES}
  return {stage: executor_from_config(config, stage) for stage in STAGES}


class _Shared:
  """An executor used by a later stage of the same `with` block: closed only by its owner."""

  def __init__(self, executor: Executor):
    self._executor = executor

  def map_unordered(self, fn, jobs, context):
    return self._executor.map_unordered(fn, jobs, context)

  def __enter__(self) -> "_Shared":
    return self

  def __exit__(self, *exc_info: object) -> None:
    pass


def run_torch_stages(workdir: str | pathlib.Path) -> dict[str, Any]:
  """Runs the three torch stages for `<workdir>/config.json`; returns (and writes) the record."""
  # Absolute: the manifest's checkpoint paths must not depend on a worker's directory.
  workdir = pathlib.Path(workdir).resolve()
  config = json.loads((workdir / layout.CONFIG).read_text())
  torch.set_num_threads(1)
  seconds: dict[str, float] = {}
  with contextlib.ExitStack() as stack:
    pools = {stage: stack.enter_context(pool) for stage, pool in stage_executors(config).items()}
    start = time.perf_counter()
    manifest, pretrain = _pretrain(config, workdir, pools["pretrain"])
    seconds["pretrain"] = time.perf_counter() - start
    names, data = plan.zoo_names(config), _task_data(config)
    sweep_cfg = config["sweep"]
    start = time.perf_counter()
    sweep = torch_common.sweep(data, names, manifest, sweep_cfg, workdir / layout.SWEEP,
                               num_train=sweep_cfg["num_train"], num_val=sweep_cfg["num_val"],
                               seed=config["seed"], executor=pools["sweep"],
                               device=config["device"])
    seconds["sweep"] = time.perf_counter() - start
    start = time.perf_counter()
    noise = _noise_rerun(config, workdir, manifest, names, data, pools["sweep"])
    seconds["noise_rerun"] = time.perf_counter() - start
    start = time.perf_counter()
    extract = _extract(config, workdir, manifest, names, data, pools["extract"])
    seconds["extract"] = time.perf_counter() - start
  record = {"pretrain": pretrain,
            "sweep": sweep,
            "noise_rerun": noise,
            "extract": extract,
            "models": names, "manifest": str(manifest),
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}
  io.write_json_atomic(workdir / layout.TORCH_RECORD, record)
  return record


if __name__ == "__main__":
  if len(sys.argv) != 2:
    raise SystemExit("usage: python -m guidedrec_jax.benchmark.torch_stages <workdir>")
  # Through the package name, so that the pickled job functions name an importable module.
  from guidedrec_jax.benchmark import torch_stages
  torch_stages.run_torch_stages(sys.argv[1])
