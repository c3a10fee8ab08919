"""The rules of a fine-tuning step that the trainer follows and the priced plan counts.

Written once here, so that `cost.plan` prices exactly what `finetune.train` runs: the
precision names and how "auto" resolves on a device (`finetune.options`), and how many
batches (and images) an epoch trains on. Imports neither torch nor JAX, so that the plan and
the benchmark's config checks can use them without pulling in torch.
"""

from __future__ import annotations

import math

PRECISIONS = ("auto", "fp32", "bf16")
# What "auto" and the explicit choices resolve to: the precisions a step actually runs in
# (and the throughput table's rows are measured in).
RESOLVED_PRECISIONS = ("fp32", "bf16")
# `finetune.options.TrainOptions`' default: a job that passes no options runs in it.
DEFAULT_PRECISION = "auto"


def check_precision(precision: str, name: str = "precision") -> None:
  """Raises ValueError (naming `name`) unless `precision` is one of `PRECISIONS`."""
  if precision not in PRECISIONS:
    raise ValueError(f"{name} must be one of {PRECISIONS}, got {precision!r}")


def precision_name(precision: str, is_cuda: bool, name: str = "precision") -> str:
  """"fp32" or "bf16" for `precision` on a CUDA device or not ("auto": bf16 on CUDA only).

  Raises:
    ValueError: `precision` is not one of `PRECISIONS` (named as `name`).
  """
  check_precision(precision, name)
  if precision != "auto":
    return precision
  return "bf16" if is_cuda else "fp32"


def steps_per_epoch(num_train: int, batch_size: int) -> int:
  """Training steps of one epoch: every batch, less a last batch of one (batch norm fails in
  training mode on a single sample, so that image is dropped); at least one step."""
  return max(1, math.ceil(num_train / batch_size) - (num_train % batch_size == 1))


def train_images_per_epoch(num_train: int, batch_size: int) -> int:
  """Images one epoch trains on: all, less a dropped last batch of one (`steps_per_epoch`)."""
  return min(num_train, steps_per_epoch(num_train, batch_size) * batch_size)
