"""How a fine-tuning or extraction step runs on its device: precision, memory format, compile.

These choices change speed (and, for bf16, the numbers) but not what a job is; they are kept
apart from `train.HyperParams` so that a CPU float32 run computes exactly what it computed
before they existed, and so that its job key (`sweep.JobSpec.job_key`) is unchanged: only
options that differ from the defaults enter the key.

* `precision`: "fp32" (no autocast), "bf16" (`torch.autocast` with bfloat16; weights,
  gradients and the optimiser stay float32, so no loss scaling is needed), or "auto": bf16 on
  CUDA, fp32 elsewhere (resolved on the worker's device, `resolve_precision`; the names and
  the rule are `cost.rules`', which the priced plan shares).
* `channels_last`: model and batches in NHWC memory format (faster convolutions with
  tensor cores; the values a CPU float32 run computes may differ in the last bits).
* `compile`: the forward pass through `torch.compile` (inductor; needs a C++ compiler on
  CPU and Triton on CUDA).

Never imports JAX.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ContextManager, Mapping

import torch

from guidedrec_jax.cost.rules import DEFAULT_PRECISION, PRECISIONS, check_precision, precision_name


def resolve_precision(precision: str, device: str | torch.device) -> str:
  """Returns "fp32" or "bf16" for `precision` on `device` ("auto": bf16 on CUDA only).

  Raises:
    ValueError: `precision` is not one of `PRECISIONS`.
  """
  return precision_name(precision, torch.device(device).type == "cuda")


def default_device() -> torch.device:
  """Returns the first CUDA device when one is available, else the CPU."""
  return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device, precision: str) -> ContextManager[Any]:
  """The forward pass's context: bf16 autocast, or nothing at all for fp32."""
  if precision == "bf16":
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
  if precision != "fp32":
    raise ValueError(f"precision must be resolved to 'fp32' or 'bf16', got {precision!r}")
  return contextlib.nullcontext()


def to_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
  """`x` (4-D) in channels-last memory format when asked, else unchanged (no copy)."""
  return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@dataclasses.dataclass(frozen=True)
class TrainOptions:
  """Device-level choices of a fine-tuning job (see the module docstring).

  Attributes:
    precision: "auto" | "fp32" | "bf16".
    channels_last: NHWC model and batches.
    compile: `torch.compile` the forward pass.
  """
  precision: str = DEFAULT_PRECISION
  channels_last: bool = False
  compile: bool = False

  def __post_init__(self):
    check_precision(self.precision)
    for name in ("channels_last", "compile"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")

  def resolved(self, device: str | torch.device) -> "TrainOptions":
    """The options with "auto" precision resolved for `device`."""
    return dataclasses.replace(self, precision=resolve_precision(self.precision, device))

  def key_fields(self) -> dict[str, Any]:
    """The entries that differ from the defaults (what a job key records; {} by default)."""
    default = TrainOptions()
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)}


def prepare_model(model: torch.nn.Module, device: torch.device, options: TrainOptions
                  ) -> tuple[torch.nn.Module, torch.nn.Module]:
  """(model on `device` in the options' memory format, the forward to call: compiled or not).

  The first keeps the parameters and the state_dict keys (a compiled module prefixes them).
  """
  model = model.to(device)
  if options.channels_last:
    model = model.to(memory_format=torch.channels_last)
  return model, (torch.compile(model) if options.compile else model)


def options_from_config(sweep: Mapping[str, Any]) -> TrainOptions:
  """`TrainOptions` from a config's `sweep` block; absent keys (older configs) mean defaults.

  Raises:
    ValueError: a present key holds a bad value (named as `config.sweep.<key>`).
  """
  values = {}
  for field in dataclasses.fields(TrainOptions):
    if field.name in sweep:
      values[field.name] = sweep[field.name]
  try:
    return TrainOptions(**values)
  except ValueError as e:
    raise ValueError(f"config.sweep: {e}") from e
