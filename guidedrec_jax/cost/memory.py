"""Memory budgets: how much of the machine a stacked score group may use, and how to split it.

`scores.zoo.score_zoo` stacks each group of models to one `[M, N, D]` array (float64 for
most scores). At the paper's zoo size a single group can outgrow the machine, so a group is
scored in chunks along the model axis whose estimated working set stays under a budget.

The estimate (`group_bytes`) counts `STACK_COPIES` copies of the stacked inputs (features
and source probabilities) per model: the host stack, the device buffer JAX makes of it, and
one more for the buffers the jitted call holds besides. It is an estimate, not a bound: the
measured peak of a run is what the report gives. Imports neither torch nor JAX.
"""

from __future__ import annotations

import math
import numbers
import os

STACK_COPIES = 3
# The default budget: this share of the machine's physical memory, so that the loaded zoo
# (held by the caller in float32), the JAX runtime and other processes fit beside it.
DEFAULT_SHARE = 8


def machine_memory_bytes() -> int:
  """Physical memory of this machine in bytes (POSIX `sysconf`)."""
  return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))


def default_max_bytes() -> int:
  """The default working-set budget of one scored chunk: 1/`DEFAULT_SHARE` of the memory."""
  return machine_memory_bytes() // DEFAULT_SHARE


def resolve_max_bytes(max_bytes: int | None) -> int:
  """The budget to use: `max_bytes` checked, or `default_max_bytes()` for None.

  Raises:
    ValueError: `max_bytes` is neither None nor a positive int (a bool is not an int here).
  """
  if max_bytes is None:
    return default_max_bytes()
  if not isinstance(max_bytes, numbers.Integral) or isinstance(max_bytes, bool) or max_bytes < 1:
    raise ValueError(f"max_bytes must be a positive int (bytes) or None, got {max_bytes!r}")
  return int(max_bytes)


def group_bytes(num_models: int, num_samples: int, dim: int, probs_dim: int,
                itemsize: int) -> int:
  """Estimated working set (bytes) of scoring `num_models` stacked models in one call."""
  return STACK_COPIES * itemsize * num_models * num_samples * (dim + probs_dim)


def chunk_sizes(num_models: int, per_model_bytes: int, max_bytes: int) -> list[int]:
  """Splits `num_models` into near-equal chunks of at most `max_bytes // per_model_bytes`.

  Near-equal, so that a padded last chunk (see `scores.zoo`) wastes less than one model per
  chunk and every chunk shares one compilation.

  `max_bytes` is a resolved budget (`resolve_max_bytes`); only its fit is checked here.

  Raises:
    ValueError: a single model exceeds `max_bytes` (named), or a count is not positive.
  """
  if num_models < 1 or per_model_bytes < 1:
    raise ValueError(f"num_models and per_model_bytes must be >= 1, got {num_models}, "
                     f"{per_model_bytes}")
  if max_bytes < per_model_bytes:
    raise ValueError(f"max_bytes={max_bytes!r} is below one model's working set "
                     f"({per_model_bytes} bytes): raise it")
  per_chunk = max_bytes // per_model_bytes
  chunks = math.ceil(num_models / per_chunk)
  size = math.ceil(num_models / chunks)
  return [size] * (chunks - 1) + [num_models - size * (chunks - 1)]
