"""A benchmark run priced before it starts: jobs, epochs, images and device-hours per stage.

Counts follow the main job (`benchmark/torch_stages.py`, `finetune/train.py`) exactly:

* fine-tuning: (tasks x zoo models) pairs x (lrs x weight decays) grid points, plus the noise
  ceiling's re-run (noise tasks x models x grid) and the pre-training jobs; each job runs
  `epochs` epochs of `num_train` images (less one when a batch of one would be left, which
  the loop drops: `rules.train_images_per_epoch`, the loop's own rule) and evaluates
  `num_val` images after each epoch. Divergence stops are not modelled, so it is an upper
  bound. Pre-training is priced in the default precision it runs in, the sweep and the
  extraction in `config.sweep.precision`.
* extraction: tasks x models probe sets of at most `probe.max_images` images (an upper bound:
  a probe set also stops at `max_per_class` per class).
* scoring: tasks x models x scores, one model's probe set per unit.

Seconds = images / (images per second of the throughput table, `cost.throughput`), training
images at the "finetune" rate and validation images at the "extract" rate. A stage runs on
the GPU kind asked for when its `config.resources.<stage>.num_gpus` > 0, else on "cpu" (one
core). The wall clock on K GPUs assumes perfect packing of the GPU stages (many small jobs;
a lower bound). Imports neither torch nor JAX.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from guidedrec_jax.benchmark.plan import pretrained_name, zoo_architectures
from guidedrec_jax.cost import throughput
from guidedrec_jax.cost.rules import DEFAULT_PRECISION, precision_name, train_images_per_epoch


def _precision(precision: str, device: str) -> str:
  """The precision a stage on `device` ("cpu" or a GPU kind) runs in (`rules.precision_name`)."""
  return precision_name(precision, device != "cpu", "config.sweep.precision")


@dataclasses.dataclass(frozen=True)
class StageCost:
  """One stage's counts and time.

  Attributes:
    stage: "pretrain", "sweep", "noise_ceiling", "extract" or "scores".
    device: "cpu" or the GPU kind its seconds are priced on.
    jobs: fine-tuning jobs, or (task, model) extractions, or (task, model, score) units.
    epochs: training epochs over all jobs (0 outside fine-tuning).
    images: training images (fine-tuning) or forward-pass images (extraction); 0 for scores.
    eval_images: validation images evaluated (fine-tuning only).
    seconds: device-seconds at the table's rates.
    sources: the table rows' `source` values used (measured / estimate provenance).
  """
  stage: str
  device: str
  jobs: int
  epochs: int
  images: int
  eval_images: int
  seconds: float
  sources: tuple[str, ...]

  @property
  def hours(self) -> float:
    return self.seconds / 3600.0


def _row(rows: Sequence[throughput.Row], stage: str, model: str, device: str,
         precision: str, size: int | None) -> throughput.Row:
  if size is not None:
    return throughput.lookup(rows, stage, model, device, precision, size)
  key = (stage, model, device, precision)
  sizes = sorted({r.input_size for r in rows if (r.stage, r.model, r.device, r.precision) == key})
  if len(sizes) != 1:
    raise ValueError(f"throughput table: {stage} {model!r} on {device!r} ({precision}) needs "
                     f"exactly one input size when the config does not give it, has {sizes}")
  return throughput.lookup(rows, stage, model, device, precision, sizes[0])


def _device(config: Mapping[str, Any], stage: str, gpu: str) -> str:
  return gpu if float(config["resources"][stage]["num_gpus"]) > 0 else "cpu"


def _finetune_stage(name: str, jobs_per_model: int, hp: Mapping[str, Any], models, rows,
                    device: str, precision: str) -> StageCost:
  per_epoch = train_images_per_epoch(hp["num_train"], hp["batch_size"])
  seconds, sources = 0.0, []
  for _, arch, size in models:
    train = _row(rows, "finetune", arch, device, precision, size)
    evaluate = _row(rows, "extract", arch, device, precision, size)
    seconds += jobs_per_model * hp["epochs"] * (per_epoch / train.per_second
                                                + hp["num_val"] / evaluate.per_second)
    sources += [train.source, evaluate.source]
  jobs = jobs_per_model * len(models)
  return StageCost(name, device, jobs, jobs * hp["epochs"], jobs * hp["epochs"] * per_epoch,
                   jobs * hp["epochs"] * hp["num_val"], seconds, tuple(dict.fromkeys(sources)))


def plan_cost(config: Mapping[str, Any], rows: Sequence[throughput.Row], gpu: str = "h100",
              num_gpus: int = 1) -> tuple[list[StageCost], dict[str, float]]:
  """Prices a benchmark config (`configs/micro_zoo.py` keys) on `num_gpus` GPUs of kind `gpu`.

  Returns:
    (per-stage costs, totals): totals hold `gpu_hours` (the GPU stages), `cpu_hours` (the
    CPU stages, one core each), and `wall_hours_gpu` = gpu_hours / num_gpus.

  Raises:
    ValueError: `num_gpus` < 1, or a model / score the table has no row for (named).
  """
  if not isinstance(num_gpus, int) or num_gpus < 1:
    raise ValueError(f"num_gpus must be an int >= 1, got {num_gpus!r}")
  sweep, tasks = config["sweep"], list(config["tasks"])
  models = zoo_architectures(config)
  grid = len(sweep["lrs"]) * len(sweep["weight_decays"])
  stages = []
  device = _device(config, "sweep", gpu)
  precision = _precision(sweep.get("precision", DEFAULT_PRECISION), device)
  if config["pretrain"]["models"]:
    pre = _device(config, "pretrain", gpu)
    pre_models = [(n, a, None) for n, a, _ in models if n in
                  {pretrained_name(a, s) for a, s in config["pretrain"]["models"]}]
    # Pre-training passes no options (`torch_stages.pretrain_one`): it runs in the default
    # precision whatever the sweep asks for, and is priced so.
    stages.append(_finetune_stage("pretrain", 1, config["pretrain"], pre_models, rows, pre,
                                  _precision(DEFAULT_PRECISION, pre)))
  stages.append(_finetune_stage("sweep", len(tasks) * grid, sweep, models, rows, device,
                                precision))
  noise_tasks = list(config["noise_ceiling"]["tasks"])
  if noise_tasks:
    stages.append(_finetune_stage("noise_ceiling", len(noise_tasks) * grid, sweep, models,
                                  rows, device, precision))
  ex_device = _device(config, "extract", gpu)
  # Extraction takes the sweep's precision choice (one setting for the torch stages).
  ex_precision = _precision(sweep.get("precision", DEFAULT_PRECISION), ex_device)
  probe = config["probe"]["max_images"]
  seconds, sources = 0.0, []
  for _, arch, size in models:
    row = _row(rows, "extract", arch, ex_device, ex_precision, size)
    seconds += len(tasks) * probe / row.per_second
    sources.append(row.source)
  jobs = len(tasks) * len(models)
  stages.append(StageCost("extract", ex_device, jobs, 0, jobs * probe, 0, seconds,
                          tuple(dict.fromkeys(sources))))
  sc_device = _device(config, "scores", gpu)
  seconds, sources = 0.0, []
  for score in config["scores"]:
    row = throughput.lookup(rows, "score", score, sc_device, "fp32", probe)
    seconds += len(tasks) * len(models) / row.per_second
    sources.append(row.source)
  stages.append(StageCost("scores", sc_device, len(tasks) * len(models) * len(config["scores"]),
                          0, 0, 0, seconds, tuple(dict.fromkeys(sources))))
  gpu_hours = sum(s.hours for s in stages if s.device != "cpu")
  totals = {"gpu_hours": gpu_hours, "cpu_hours": sum(s.hours for s in stages if s.device == "cpu"),
            "wall_hours_gpu": gpu_hours / num_gpus}
  return stages, totals


def format_plan(stages: Sequence[StageCost], totals: Mapping[str, float], gpu: str,
                num_gpus: int) -> str:
  """The plan as a text table plus totals and the throughput rows' provenance."""
  lines = [f"{'stage':<14}{'device':>7}{'jobs':>9}{'epochs':>9}{'images':>14}"
           f"{'eval imgs':>12}{'hours':>11}"]
  for s in stages:
    lines.append(f"{s.stage:<14}{s.device:>7}{s.jobs:>9,}{s.epochs:>9,}{s.images:>14,}"
                 f"{s.eval_images:>12,}{s.hours:>11.4f}")
  lines.append(f"GPU-hours ({gpu}): {totals['gpu_hours']:.4f}; on {num_gpus} GPU(s): "
               f"{totals['wall_hours_gpu']:.4f} h wall (perfect packing, a lower bound)")
  lines.append(f"CPU core-hours: {totals['cpu_hours']:.4f}")
  estimates = sorted({src for s in stages for src in s.sources if src.startswith("estimate")})
  measured = sorted({src for s in stages for src in s.sources if src.startswith("measured")})
  lines.append(f"throughput rows used: {len(measured)} measured source(s), "
               f"{len(estimates)} estimate source(s)")
  lines += [f"  {src}" for src in measured + estimates]
  return "\n".join(lines) + "\n"


def run_plan_cost(config: Mapping[str, Any], table: str = "", gpu: str = "h100",
                  num_gpus: int = 1) -> str:
  """The `scripts/plan_cost.py` job: reads the throughput table (`table`, "" = the project's),
  prices `config` and returns the text to print.

  Raises:
    ValueError: bad `num_gpus`, a malformed table, or a model / score missing from it.
  """
  rows = throughput.read_table(table or None)
  stages, totals = plan_cost(config, rows, gpu, num_gpus)
  return format_plan(stages, totals, gpu, num_gpus)
