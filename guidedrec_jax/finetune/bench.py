"""Throughput of the project's fine-tuning step and extraction against plain reference loops.

For each model and precision, in one process, on the same device, batch and random-init
weights (timm `create_model`, nothing downloaded):

* fine-tuning: the project's epoch loop (`train.train_epoch`: uint8 batches on the device,
  normalised per step, the options' autocast / channels-last / compile, losses kept on the
  device) against a reference written the way timm's `train.py` runs a step (pre-normalised
  float batches, `torch.autocast`, channels-last, `nn.CrossEntropyLoss`, SGD with momentum,
  no host read per step);
* extraction: the project's `zoo.extract._run` (host uint8 images resized and copied per
  batch, pre-logits features and float32 results) against a plain `torch.inference_mode`
  loop over the same host images.

Each loop is warmed up, then timed `repeats` times alternating project and reference, in
reversed order every other repeat (the median is kept), with the device synchronised around
each timing. The project's rates are written as measured rows of the throughput table
(`cost.throughput`), so a GPU run can replace the table's estimates, and each row is held to
the config's targets (`check_targets`). Used by `scripts/bench_finetune.py`.
"""

from __future__ import annotations

import datetime
import pathlib
import statistics
import time
from typing import Any, Callable

import numpy as np
import timm
import torch
import torch.nn.functional as F

from guidedrec_jax import io, provenance
from guidedrec_jax.cost import throughput
from guidedrec_jax.cost.rules import RESOLVED_PRECISIONS
from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.data.images import InputSpec, normalise
from guidedrec_jax.finetune import train
from guidedrec_jax.finetune.options import (TrainOptions, autocast, default_device,
                                            prepare_model)


def device_kind(device: torch.device) -> str:
  """The throughput table's device name: "cpu", or the GPU's model ("h100", "a100", ...)."""
  if device.type != "cuda":
    return "cpu"
  name = torch.cuda.get_device_name(device).lower()
  for kind in ("h200", "h100", "a100", "l40s", "a10g", "l4", "v100", "t4"):
    if kind in name:
      return kind
  return "".join(c if c.isalnum() else "_" for c in name)


def _sync(device: torch.device) -> None:
  if device.type == "cuda":
    torch.cuda.synchronize(device)


def _timed(device: torch.device, run: Callable[[], Any]) -> float:
  """Seconds `run()` takes, the device synchronised before and after."""
  _sync(device)
  start = time.perf_counter()
  run()
  _sync(device)
  return time.perf_counter() - start


def forward_gmacs(name: str, input_size: int) -> float:
  """Forward GMACs per image of `name` (headless) at `input_size`, counted as the zoo's meta
  features are (`registry.count_gmacs`), so table rows and zoo columns agree."""
  from guidedrec_jax.zoo import registry  # the torch half's zoo (timm, weights)
  return registry.count_gmacs(_model(name, 0, 0).eval(), input_size)


def _model(name: str, num_classes: int, seed: int) -> torch.nn.Module:
  """A random init of `name`: a registered zoo name (e.g. `vit_tiny_patch8_32`), else timm's."""
  from guidedrec_jax.zoo import registry  # the torch half's zoo (timm, weights)
  if name in registry.list_models():
    return registry.create_model(name, num_classes=num_classes, pretrained=False, seed=seed)
  torch.manual_seed(seed)
  return timm.create_model(name, pretrained=False, num_classes=num_classes)


def finetune_loops(name: str, device: torch.device, options: TrainOptions, batch_size: int,
                   input_size: int, num_classes: int, seed: int
                   ) -> dict[str, Callable[[int], torch.Tensor]]:
  """{"project": run(steps), "reference": run(steps)}: each runs `steps` steps on its own
  model (same init) and returns the mean loss of those steps (on the device). Both see the
  same batches in the same order, so a float32 CPU run computes the same losses."""
  spec = InputSpec(input_size)  # ImageNet mean / std
  pool = 4 * batch_size  # a few distinct batches, cycled
  rng = torch.Generator().manual_seed(seed)
  images = torch.randint(0, 256, (pool, 3, input_size, input_size), generator=rng,
                         dtype=torch.uint8).to(device)
  labels = torch.randint(0, num_classes, (pool,), generator=rng).to(device)
  hparams = train.HyperParams(lr=0.01, batch_size=batch_size)

  model, forward = prepare_model(_model(name, num_classes, seed), device, options)
  optimizer = train.make_optimizer(model, hparams)
  order = torch.arange(pool, device=device)
  model.train()

  def project(steps: int) -> torch.Tensor:
    sums = []
    for start in range(0, steps, 4):  # epochs of (at most) 4 steps over the pool
      count = min(4, steps - start)
      loss, _ = train.train_epoch(forward, optimizer, None, images, labels, order, count,
                                  hparams, spec, options, rng)
      sums.append(loss * count)
    return torch.stack(sums).sum() / steps  # the mean loss over all steps

  # The reference: timm train.py's step on pre-normalised float batches.
  ref_model = _model(name, num_classes, seed).to(device)
  if options.channels_last:
    ref_model = ref_model.to(memory_format=torch.channels_last)
  ref_model.train()
  ref_forward = torch.compile(ref_model) if options.compile else ref_model  # timm --torchcompile
  ref_optimizer = torch.optim.SGD(ref_model.parameters(), lr=0.01, momentum=0.9)
  loss_fn = torch.nn.CrossEntropyLoss()
  batches = [normalise(images[i:i + batch_size], spec) for i in range(0, pool, batch_size)]
  if options.channels_last:
    batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]

  def reference(steps: int) -> torch.Tensor:
    losses = []
    for step in range(steps):
      with autocast(device, options.precision):
        output = ref_forward(batches[step % len(batches)])
        loss = loss_fn(output, labels[(step % len(batches)) * batch_size:][:batch_size])
      ref_optimizer.zero_grad()
      loss.backward()
      ref_optimizer.step()
      losses.append(loss.detach())
    return torch.stack(losses).mean()

  return {"project": project, "reference": reference}


def extract_loops(name: str, device: torch.device, options: TrainOptions, batch_size: int,
                  input_size: int, num_images: int, seed: int
                  ) -> dict[str, Callable[[], np.ndarray]]:
  """{"project": run(), "reference": run()}: each extracts pre-logits features of the same
  `num_images` host uint8 images and returns them as float32 numpy [N, D]."""
  from guidedrec_jax.zoo import extract  # the torch half's zoo (timm, weights)
  spec = InputSpec(input_size)  # ImageNet mean / std
  rng = np.random.default_rng(seed)
  host = rng.integers(0, 256, (num_images, input_size, input_size, 3), dtype=np.uint8)
  dataset = ImageDataset("bench", "train", host, np.zeros(num_images, np.int64), ("a",))
  model = _model(name, 0, seed).eval()

  def project() -> np.ndarray:
    return extract._run(model, dataset, spec, batch_size, False, device,
                        options.resolved(device))["features"]

  ref_model = _model(name, 0, seed).eval().to(device)
  if options.channels_last:
    ref_model = ref_model.to(memory_format=torch.channels_last)

  def reference() -> np.ndarray:
    out = []
    with torch.inference_mode(), autocast(device, options.precision):
      for start in range(0, num_images, batch_size):
        x = torch.from_numpy(host[start:start + batch_size]).to(device).permute(0, 3, 1, 2)
        # The batch in the loop's memory format, as a data loader delivers it (NCHW, or
        # channels-last when asked): a permuted view would silently run channels-last.
        x = normalise(x, spec).contiguous(memory_format=torch.channels_last
                                          if options.channels_last else torch.contiguous_format)
        out.append(ref_model.forward_head(ref_model.forward_features(x), pre_logits=True)
                   .float())
    return torch.cat(out).cpu().numpy()

  return {"project": project, "reference": reference}


def _median_rates(device: torch.device, loops: dict[str, Callable[[], Any]], items: int,
                  repeats: int) -> dict[str, float]:
  """Items per second of each loop: one warm-up call each, then the median of `repeats`."""
  for loop in loops.values():
    loop()
  times = {k: [] for k in loops}
  for repeat in range(repeats):
    # Alternating, in reversed order every other repeat: drifting load and whatever the
    # loop before leaves behind (caches, allocator) hit both alike.
    keys = list(loops) if repeat % 2 == 0 else list(reversed(loops))
    for key in keys:
      times[key].append(_timed(device, loops[key]))
  return {k: items / statistics.median(v) for k, v in times.items()}


def check_config(config: Any) -> None:
  """Raises ValueError naming the first bad entry of a `configs/bench_finetune.py` config."""
  if isinstance(config.models, str) or not config.models:
    raise ValueError(f"config.models must be a non-empty sequence of timm names, "
                     f"got {config.models!r}")
  from guidedrec_jax.zoo import registry
  unknown = [n for n in config.models if n not in registry.list_models() and not timm.is_model(n)]
  if unknown:
    raise ValueError(f"config.models: {unknown} are neither zoo nor timm model names")
  if (isinstance(config.precisions, str) or not config.precisions
      or not set(config.precisions) <= set(RESOLVED_PRECISIONS)):
    raise ValueError(f"config.precisions must hold 'fp32' and/or 'bf16', got "
                     f"{config.precisions!r}")
  for key in ("num_threads", "input_size", "num_classes", "batch_size", "steps",
              "extract_batch_size", "extract_images", "repeats"):
    value = config[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise ValueError(f"config.{key} must be a positive int, got {value!r}")
  for key in ("min_ratio", "min_bf16_speedup"):
    value = config[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
      raise ValueError(f"config.{key} must be a number >= 0 (0: no target), got {value!r}")
  if isinstance(config.speedup_models, str) or not set(config.speedup_models) <= set(
      config.models):
    raise ValueError(f"config.speedup_models must be a sequence of names from config.models "
                     f"{list(config.models)}, got {config.speedup_models!r}")
  if config.min_bf16_speedup > 0 and config.speedup_models and not {"fp32", "bf16"} <= set(
      config.precisions):
    raise ValueError(f"config.min_bf16_speedup > 0 needs both 'fp32' and 'bf16' in "
                     f"config.precisions, got {config.precisions!r}")
  if config.batch_size < 2:
    raise ValueError(f"config.batch_size must be >= 2 (batch norm), got {config.batch_size}")
  TrainOptions("fp32", config.channels_last, config.compile)  # bool checks, named


def check_targets(config: Any, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
  """One row per target a result is held to: every result's `ratio` >= `config.min_ratio`,
  and the fine-tuning `speedup_vs_fp32` of each bf16 result of `config.speedup_models` >=
  `config.min_bf16_speedup`; a bound of 0 sets no target. Each row says whether it was met."""
  targets = []
  for row in results:
    checks = [("ratio", config.min_ratio)]
    if (row["stage"], row["precision"]) == ("finetune", "bf16") and (
        row["model"] in config.speedup_models):
      checks.append(("speedup_vs_fp32", config.min_bf16_speedup))
    for key, bound in checks:
      if bound > 0:
        targets.append({"target": f"{key} >= {bound:g}", "model": row["model"],
                        "stage": row["stage"], "precision": row["precision"],
                        "value": row[key], "met": bool(row[key] >= bound)})
  return targets


def run_bench(config: Any, workdir: io.PathLike
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
  """The `scripts/bench_finetune.py` job: (one result row per (model, precision, stage),
  one row per target checked, `check_targets`).

  Writes `workdir/config.json`, `metrics.jsonl` (each result as it is measured, so a run cut
  short keeps what it timed), `bench.csv|md` (rates of both loops, their ratio and the
  bf16 / fp32 speed-up of the project's loop), `targets.csv|md` and `throughput.csv` (the
  project's rates as measured throughput-table rows); appends those rows to `config.table`
  when it names a file.
  """
  check_config(config)
  workdir = pathlib.Path(workdir)
  io.write_config(workdir, config)
  metrics = io.MetricsWriter(workdir)
  metrics.write(event="run", torch=torch.__version__, timm=timm.__version__,
                **provenance.run_record())
  torch.set_num_threads(config.num_threads)
  device = torch.device(config.device) if config.device else default_device()
  if device.type == "cuda":
    torch.backends.cudnn.benchmark = True
  kind, date = device_kind(device), datetime.date.today().isoformat()
  results, table_rows = [], []
  for name in config.models:
    gmacs = round(forward_gmacs(name, config.input_size), 5)
    for precision in config.precisions:
      options = TrainOptions(precision, config.channels_last, config.compile)
      for stage in ("finetune", "extract"):
        if stage == "finetune":
          loops = finetune_loops(name, device, options, config.batch_size, config.input_size,
                                 config.num_classes, config.seed)
          rates = _median_rates(
              device, {k: (lambda f=f: f(config.steps)) for k, f in loops.items()},
              config.steps * config.batch_size, config.repeats)
        else:
          loops = extract_loops(name, device, options, config.extract_batch_size,
                                config.input_size, config.extract_images, config.seed)
          rates = _median_rates(device, loops, config.extract_images, config.repeats)
        row = {"model": name, "stage": stage, "device": kind, "precision": precision,
               "channels_last": config.channels_last, "compile": config.compile,
               "input_size": config.input_size,
               "batch_size": config.batch_size if stage == "finetune"
               else config.extract_batch_size,
               "project_per_s": round(rates["project"], 2),
               "reference_per_s": round(rates["reference"], 2),
               "ratio": round(rates["project"] / rates["reference"], 3)}
        results.append(row)
        metrics.write(event="bench", **row)
        table_rows.append(throughput.Row(
            stage, name, kind, precision, config.input_size, row["batch_size"], gmacs,
            round(rates["project"], 2),
            f"measured: {date} scripts/bench_finetune.py channels_last={config.channels_last}"
            f" compile={config.compile} threads={config.num_threads}"))
  for row in results:  # the project's bf16 / fp32 speed-up for the same model and stage
    fp32 = [r for r in results if (r["model"], r["stage"], r["precision"])
            == (row["model"], row["stage"], "fp32")]
    row["speedup_vs_fp32"] = (round(row["project_per_s"] / fp32[0]["project_per_s"], 3)
                              if fp32 else float("nan"))
  targets = check_targets(config, results)
  for target in targets:
    metrics.write(event="target", **target)
  io.write_table(workdir, "bench", results)
  if targets:
    io.write_table(workdir, "targets", targets)
  throughput.write_table(workdir / "throughput.csv", table_rows)
  if config.table:
    throughput.write_table(config.table, table_rows, append=True)
  return results, targets
