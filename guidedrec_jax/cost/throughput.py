"""The throughput table: images (or scored models) per second per (model, device, precision,
stage), the numbers a run's price is computed from (`cost.plan`).

A plain CSV (`throughput.csv` beside this module, or any file of the same columns):

  stage        "finetune" (one training step per image: forward + backward + update),
               "extract" (inference forward) or "score" (one model's probe set scored)
  model        timm architecture name (finetune / extract) or score name (score)
  device       "h100", "a100", ..., or "cpu" (one core)
  precision    "fp32" | "bf16" ("fp32" for score rows)
  input_size   image side (finetune / extract) or probe-set N (score)
  batch_size   images per step (0 for score rows)
  gmacs        forward GMACs per image at input_size (0 for score rows)
  per_second   images per second (finetune / extract), scored models per second (score)
  source       "measured: <date> <command>" or "estimate: <how>"

`scripts/bench_finetune.py` appends measured rows in this format; `lookup` prefers a measured
row over an estimate for the same key. `estimate_per_second` is the arithmetic behind the
"estimate" rows (FLOPs against an assumed sustained device rate, stated in the row).
Imports neither torch nor JAX.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import pathlib
from typing import Iterable, Mapping, Sequence

from guidedrec_jax.cost.rules import RESOLVED_PRECISIONS

COLUMNS = ("stage", "model", "device", "precision", "input_size", "batch_size", "gmacs",
           "per_second", "source")
STAGES = ("finetune", "extract", "score")
DEFAULT_TABLE = pathlib.Path(__file__).with_name("throughput.csv")
# A training step costs about 3 forward passes (forward, backward for activations and for
# weights); extraction is one forward pass.
PASSES = {"finetune": 3.0, "extract": 1.0}
# The assumptions behind the table's GPU "estimate" rows (no GPU measured yet): sustained
# FLOP/s of a fine-tuning / extraction step at batch 64, 224 px, per precision, and a lower
# utilisation for architectures dominated by depthwise / grouped convolutions, which are
# memory-bound (FLOP scaling alone would overrate them).
ASSUMED_FLOPS = {"h100": {"bf16": 130e12, "fp32": 55e12}}
ASSUMED_NOTE = {
    "h100": "H100 SXM sustained 130 TFLOP/s bf16 (~13% of the 989 dense peak) and 55 "
            "TFLOP/s fp32 (TF32 convolutions, fp32 matmuls), x the model's utilisation"}
LOW_UTILISATION = {"mobilenet": 0.3, "efficientnet": 0.3, "regnet": 0.5}


@dataclasses.dataclass(frozen=True)
class Row:
  """One table row (see the module docstring for the fields)."""
  stage: str
  model: str
  device: str
  precision: str
  input_size: int
  batch_size: int
  gmacs: float
  per_second: float
  source: str

  def __post_init__(self):
    if self.stage not in STAGES:
      raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
    if self.precision not in RESOLVED_PRECISIONS:
      raise ValueError(f"precision must be one of {RESOLVED_PRECISIONS}, got "
                       f"{self.precision!r}")
    if not self.per_second > 0:
      raise ValueError(f"per_second must be > 0, got {self.per_second!r} ({self.model})")
    if not self.source.startswith(("measured:", "estimate:")):
      raise ValueError(f"source must start with 'measured:' or 'estimate:', got "
                       f"{self.source!r}")

  @property
  def key(self) -> tuple[str, str, str, str, int]:
    return (self.stage, self.model, self.device, self.precision, self.input_size)

  @property
  def measured(self) -> bool:
    return self.source.startswith("measured:")


def estimate_per_second(gmacs: float, stage: str, device_flops: float,
                        utilisation: float) -> float:
  """Images per second of `stage` from forward GMACs per image and a sustained FLOP rate.

  images/s = device_flops * utilisation / (PASSES[stage] * 2 * gmacs * 1e9).

  Raises:
    ValueError: a non-positive argument or a stage without a FLOP model ("score").
  """
  if stage not in PASSES:
    raise ValueError(f"stage must be one of {tuple(PASSES)}, got {stage!r}")
  for name, value in (("gmacs", gmacs), ("device_flops", device_flops),
                      ("utilisation", utilisation)):
    if not value > 0:
      raise ValueError(f"{name} must be > 0, got {value!r}")
  return device_flops * utilisation / (PASSES[stage] * 2.0 * gmacs * 1e9)


def utilisation(model: str) -> float:
  """The estimate's utilisation factor of `model` (1 unless its name marks a depthwise /
  grouped-convolution family of `LOW_UTILISATION`)."""
  return next((u for prefix, u in LOW_UTILISATION.items() if model.startswith(prefix)), 1.0)


def estimate_rows(gmacs: Mapping[str, float], device: str, input_size: int,
                  batch_size: int) -> list[Row]:
  """Estimated finetune / extract rows (fp32 and bf16) of `device` from forward GMACs.

  Raises:
    ValueError: `device` has no `ASSUMED_FLOPS` entry.
  """
  if device not in ASSUMED_FLOPS:
    raise ValueError(f"device must be one of {sorted(ASSUMED_FLOPS)}, got {device!r}")
  rows = []
  for model, macs in gmacs.items():
    for stage in ("finetune", "extract"):
      for precision, flops in ASSUMED_FLOPS[device].items():
        rate = estimate_per_second(macs, stage, flops, utilisation(model))
        rows.append(Row(stage, model, device, precision, input_size, batch_size,
                        round(macs, 5), round(rate, 1),
                        f"estimate: {PASSES[stage]:g} x 2 x GMACs FLOP per image; "
                        f"{ASSUMED_NOTE[device]} ({utilisation(model):g})"))
  return rows


def read_table(path: str | os.PathLike | None = None) -> list[Row]:
  """Reads a throughput table (default: the project's `throughput.csv`).

  Raises:
    ValueError: a missing column or a malformed row (with its line number).
  """
  path = pathlib.Path(path) if path else DEFAULT_TABLE
  with open(path, newline="") as f:
    reader = csv.DictReader(f)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
      raise ValueError(f"throughput table {path} lacks columns {missing}")
    rows = []
    for number, raw in enumerate(reader, start=2):
      try:
        rows.append(Row(raw["stage"], raw["model"], raw["device"], raw["precision"],
                        int(raw["input_size"]), int(raw["batch_size"]), float(raw["gmacs"]),
                        float(raw["per_second"]), raw["source"]))
      except (TypeError, ValueError) as e:
        raise ValueError(f"{path}:{number}: {e}") from e
  return rows


def write_table(path: str | os.PathLike, rows: Iterable[Row], append: bool = False) -> None:
  """Writes (or appends) rows in the table's format; a header goes into a new file only."""
  path = pathlib.Path(path)
  new = not (append and path.exists())
  with open(path, "w" if new else "a", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    if new:
      writer.writeheader()
    for row in rows:
      writer.writerow(dataclasses.asdict(row))


def lookup(rows: Sequence[Row], stage: str, model: str, device: str, precision: str,
           input_size: int) -> Row:
  """The row for a key: the last measured row if any, else the last estimate.

  Raises:
    ValueError: no row for the key (named, with the models the table has for it).
  """
  key = (stage, model, device, precision, input_size)
  matches = [r for r in rows if r.key == key]
  if not matches:
    have = sorted({r.model for r in rows if r.stage == stage and r.device == device})
    raise ValueError(f"throughput table has no row for stage={stage!r} model={model!r} "
                     f"device={device!r} precision={precision!r} input_size={input_size}; "
                     f"it has {stage} rows on {device!r} for {have}")
  measured = [r for r in matches if r.measured]
  return (measured or matches)[-1]
