"""A fine-tuning sweep: (dataset, model) pairs x a small HPO grid, resumable, executor-agnostic.

Each dataset's training split is cut, seeded, into a training subset and a held-out validation
subset; every job fine-tunes one model with one grid point and reports its best validation
top-1. The driver (`run_sweep`) alone writes: it logs each finished job at once (see
`history_writer.JobsLog`), skips jobs already logged, and rewrites the history table (best
grid point per pair) after every job. Workers only run `run_job(job, context)` and return
the result, so an executor (see `executors`) may run them anywhere: here in order, in local
processes, or on a Ray cluster, shipping the shared `SweepContext` once per worker
and the small, picklable `JobSpec`s per job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import pathlib
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import tqdm

from guidedrec_jax import io
from guidedrec_jax.data.base import (ImageDataset, proportional_counts, sample_per_class,
                                     seeded_rng)
from guidedrec_jax.finetune import history_writer
from guidedrec_jax.distributed.local import Executor, SequentialExecutor
from guidedrec_jax.data.images import InputSpec
from guidedrec_jax.finetune.options import TrainOptions
from guidedrec_jax.finetune.train import FinetuneResult, HyperParams, finetune

# Part of every job key: bump it when a change to training makes old results incomparable.
KEY_VERSION = 1
ModelFactory = Callable[[str, int, bool], torch.nn.Module]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What the sweep needs to know about a zoo model: its history columns and its input.

  `input` is the model's `InputSpec` (size, mean/std), for a zoo model derived from its
  `ModelSpec` (`zoo.registry.input_spec`), so the constants live in one place.
  """
  name: str
  family: str
  input: InputSpec
  params_m: float
  gmacs: float
  pretrain_domain: str

  @property
  def input_size(self) -> int:
    """The input side (a history column)."""
    return self.input.input_size


def zoo_model_info(name: str) -> ModelInfo:
  """Returns the `ModelInfo` of a zoo model (history columns, input spec).

  Raises:
    ValueError: `name` is not in the zoo.
  """
  # Imported here: the zoo pulls in timm, which a sweep over other factories does not need.
  from guidedrec_jax.zoo import registry
  columns = registry.model_columns(name)
  return ModelInfo(name=name, family=columns["family"], input=registry.input_spec(name),
                   params_m=columns["params_m"], gmacs=columns["gmacs"],
                   pretrain_domain=columns["pretrain_domain"])


@dataclasses.dataclass(frozen=True)
class JobSpec:
  """One job, fully determined by its fields (all of which enter `job_key`).

  `options` (precision, channels-last, compile) enter the key only where they differ from
  the defaults, so that keys of runs from before they existed stay valid; the precision a
  job actually ran in ("auto" resolves on the worker) is in its result (`jobs.jsonl`).
  """
  dataset: str
  model: str
  hparams: HyperParams
  seed: int
  num_train: int
  num_val: int
  data_fingerprint: str
  pretrained: bool = True
  options: TrainOptions = TrainOptions()

  def fields(self) -> dict[str, Any]:
    """Returns the spec as one flat dict of JSON values (hyper-parameters and non-default
    options inlined)."""
    flat = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
            if f.name not in ("hparams", "options")}
    return {**flat, **dataclasses.asdict(self.hparams), **self.options.key_fields(),
            "key_version": KEY_VERSION}

  @property
  def job_key(self) -> str:
    """A 16-hex-digit hash of `fields()`: equal specs, equal keys, on any machine."""
    text = json.dumps(self.fields(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class SweepContext:
  """What every job of a sweep shares; shipped to a worker once, not per job.

  Attributes:
    splits: dataset name -> (train, val) subsets, images materialised as numpy arrays.
    models: model name -> `ModelInfo`.
    model_factory: `(name, num_classes, pretrained) -> torch.nn.Module`; a top-level function
      (e.g. the zoo's `create_model`) so that it pickles.
    device: forced device, or None for CUDA when available.
    num_threads: torch CPU threads per worker (1: processes, not threads, use the cores).
  """
  splits: Mapping[str, tuple[ImageDataset, ImageDataset]]
  models: Mapping[str, ModelInfo]
  model_factory: ModelFactory
  device: str | None = None
  num_threads: int = 1


def run_job(job: JobSpec, context: SweepContext) -> FinetuneResult:
  """Runs one fine-tuning job (the function a worker executes); writes nothing."""
  torch.set_num_threads(context.num_threads)
  train, val = context.splits[job.dataset]
  # Seeded before the factory: the new classifier head's initialisation is part of the job.
  torch.manual_seed(job.seed)
  model = context.model_factory(job.model, train.num_classes, job.pretrained)
  return finetune(model, train, val, job.hparams, context.models[job.model].input, job.seed,
                  context.device, options=job.options)


def hpo_grid(lrs: Sequence[float], weight_decays: Sequence[float] = (0.0,), epochs: int = 1,
             batch_size: int = 64, optimizer: str = "sgd", augment: bool = False
             ) -> tuple[HyperParams, ...]:
  """Returns the learning rate x weight decay grid (same range for every pair, as the paper).

  Raises:
    ValueError: an empty or repeated `lrs`/`weight_decays`, or any invalid hyper-parameter.
  """
  for name, values in (("lrs", lrs), ("weight_decays", weight_decays)):
    if len(values) == 0:
      raise ValueError(f"{name} must not be empty")
    if len(set(values)) != len(values):
      raise ValueError(f"{name} has repeated values: {list(values)}")
  return tuple(HyperParams(lr=lr, weight_decay=wd, epochs=epochs, batch_size=batch_size,
                           optimizer=optimizer, augment=augment)
               for lr, wd in itertools.product(lrs, weight_decays))


def split_train_val(dataset: ImageDataset, num_train: int, num_val: int, seed: int
                    ) -> tuple[ImageDataset, ImageDataset]:
  """Cuts disjoint, seeded, class-stratified training and validation subsets out of one split.

  Both subsets hold their images as numpy arrays and record the cut in `meta`.

  Raises:
    ValueError: `num_train < 2`, `num_val < 1`, or more images asked for than the split has.
  """
  if num_train < 2 or num_val < 1:
    raise ValueError(f"num_train must be >= 2 and num_val >= 1, got {num_train}, {num_val}")
  if num_train + num_val > len(dataset):
    raise ValueError(f"dataset {dataset.name!r} has {len(dataset)} images, fewer than "
                     f"num_train + num_val = {num_train + num_val}")
  labels, rng = np.asarray(dataset.labels), seeded_rng(seed, "finetune_split")
  def stratified(rows: np.ndarray, total: int) -> np.ndarray:
    counts = proportional_counts(np.bincount(labels[rows], minlength=dataset.num_classes), total)
    return rows[sample_per_class(labels[rows], counts, rng)]
  val_rows = stratified(np.arange(len(dataset)), num_val)
  train_rows = stratified(np.setdiff1d(np.arange(len(dataset)), val_rows), num_train)
  cut = {"seed": seed, "num_train": num_train, "num_val": num_val}
  def take(rows: np.ndarray, split: str) -> ImageDataset:
    # Materialised: a lazy source would be read again by every job (and shipped as a reader).
    return dataset.replace(images=np.asarray(dataset.images[rows]), labels=labels[rows],
                           split=split, meta={**(dataset.meta or {}), "finetune_cut": cut})
  return take(train_rows, "train"), take(val_rows, "val")


def data_fingerprint(train: ImageDataset, val: ImageDataset) -> str:
  """A 12-hex-digit hash of both subsets' pixels and labels (changes invalidate old jobs)."""
  digest = hashlib.sha256()
  for split in (train, val):
    for array in (np.ascontiguousarray(split.images), np.asarray(split.labels, np.int64)):
      digest.update(str(array.shape).encode())
      digest.update(array.tobytes())
  return digest.hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class SweepSummary:
  """What a sweep did: planned jobs, already-logged jobs skipped, jobs run now, history rows."""
  planned: int
  skipped: int
  executed: int
  rows: int
  history_path: pathlib.Path
  jobs_log_path: pathlib.Path


def run_sweep(datasets: Mapping[str, ImageDataset], models: Sequence[ModelInfo],
              model_factory: ModelFactory, grid: Sequence[HyperParams], workdir: io.PathLike,
              *, num_train: int, num_val: int, seed: int = 0, pretrained: bool = True,
              pairs: Sequence[tuple[str, str]] | None = None,
              executor: Executor | None = None, device: str | None = None,
              progress: bool = True, options: TrainOptions | None = None) -> SweepSummary:
  """Fine-tunes every (dataset, model) pair with every grid point, resuming from the log.

  Args:
    datasets: name -> the training split to cut train/val subsets from (its test split is
      never touched).
    models: the models to fine-tune.
    model_factory: `(name, num_classes, pretrained) -> torch.nn.Module`.
    grid: hyper-parameters, e.g. from `hpo_grid`.
    workdir: gets `jobs.jsonl` (every finished job) and `history.csv` (best job per pair).
    num_train: training images per dataset.
    num_val: held-out validation images per dataset.
    seed: seeds the subsets, the head initialisation, shuffling and augmentation.
    pretrained: passed to `model_factory`.
    pairs: the (dataset, model) pairs to run; all combinations when None.
    executor: runs the jobs; a `SequentialExecutor` when None.
    device: forced device for every job; CUDA when available when None.
    progress: show a tqdm bar.
    options: how every job's step runs (precision, channels-last, compile); defaults
      (`TrainOptions()`: bf16 on CUDA, fp32 elsewhere) when None.

  Returns:
    A `SweepSummary`.

  Raises:
    ValueError: empty datasets/models/grid, repeated names, grid points or pairs, unknown
      names in `pairs`, bad subset sizes, or a corrupt jobs log — all before any job runs.
  """
  if options is not None and not isinstance(options, TrainOptions):
    raise ValueError(f"options must be a TrainOptions, got {type(options).__name__}")
  options = options or TrainOptions()
  if not datasets or not models or not grid:
    raise ValueError(f"datasets, models and grid must be non-empty, got {len(datasets)}, "
                     f"{len(models)}, {len(grid)}")
  by_name = {m.name: m for m in models}
  if len(by_name) != len(models):
    raise ValueError(f"models has repeated names: {[m.name for m in models]}")
  if not all(isinstance(hp, HyperParams) for hp in grid) or len(set(grid)) != len(grid):
    raise ValueError("grid must hold distinct HyperParams (see hpo_grid)")
  pairs = list(pairs) if pairs is not None else list(itertools.product(datasets, by_name))
  unknown = [p for p in pairs if p[0] not in datasets or p[1] not in by_name]
  if unknown or len(set(pairs)) != len(pairs):
    raise ValueError(f"pairs must be distinct and name known datasets and models; unknown: "
                     f"{unknown[:5]}")
  splits = {name: split_train_val(datasets[name], num_train, num_val, seed)
            for name in dict.fromkeys(d for d, _ in pairs)}
  fingerprints = {name: data_fingerprint(*split) for name, split in splits.items()}
  jobs = [JobSpec(d, m, hp, seed, num_train, num_val, fingerprints[d], pretrained, options)
          for d, m in pairs for hp in grid]
  workdir = pathlib.Path(workdir)
  log = history_writer.JobsLog(workdir / "jobs.jsonl")
  history_path = workdir / "history.csv"
  log.repair()
  records = log.read()
  planned_keys = {job.job_key for job in jobs}
  done = {k: r for k, r in records.items() if k in planned_keys}
  todo = [job for job in jobs if job.job_key not in done]
  context = SweepContext(splits, by_name, model_factory, device)
  rows = _write_history(history_path, done, jobs, len(grid))
  executed = 0
  with tqdm.tqdm(total=len(jobs), initial=len(done), desc="sweep", unit="job",
                 disable=not progress) as bar:
    for job, result in (executor or SequentialExecutor()).map_unordered(run_job, todo, context):
      if job.job_key in done:  # An executor that retried a job may hand it back twice.
        continue
      record = _record(job, result, splits[job.dataset][0].num_classes, by_name[job.model])
      log.append(record)
      done[record["job_key"]] = record
      executed += 1
      rows = _write_history(history_path, done, jobs, len(grid))
      bar.set_postfix_str(f"{job.dataset}/{job.model} top1={result.top1:.1f}")
      bar.update()
  return SweepSummary(len(jobs), len(jobs) - len(todo), executed, rows, history_path, log.path)


def _record(job: JobSpec, result: FinetuneResult, num_classes: int, model: ModelInfo
            ) -> dict[str, Any]:
  """The jobs-log line: spec, result, and the dataset/model columns of the history table."""
  return {"job_key": job.job_key, **job.fields(), **dataclasses.asdict(result),
          "num_classes": num_classes,
          "family": model.family, "input_size": model.input_size, "params_m": model.params_m,
          "gmacs": model.gmacs, "pretrain_domain": model.pretrain_domain,
          "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _write_history(path: pathlib.Path, done: Mapping[str, Mapping[str, Any]],
                   jobs: Sequence[JobSpec], grid_size: int) -> int:
  """Rewrites the history with the pairs whose whole grid is logged; returns its row count.

  A pair with part of its grid logged is left out: its best so far is not its best yet.
  """
  complete: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
  for job in jobs:
    if job.job_key in done:
      complete.setdefault((job.dataset, job.model), []).append(done[job.job_key])
  records = [r for group in complete.values() if len(group) == grid_size for r in group]
  rows = history_writer.best_rows(records)
  history_writer.write_history(path, rows)
  return len(rows)
