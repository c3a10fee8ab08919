"""The name → score table that `score_zoo`, the scripts and the configs look scores up in.

Each score module registers its variants at import time. A `ScoreSpec.core` is the pure,
unchecked `jnp` function: `core(features [N, D], labels int32 [N], num_classes, source_probs,
**prepared)` → scalar, where `num_classes` is static and `source_probs` is None unless the
score needs it; `prepare` and `prepare_labels` outputs arrive as keyword arguments. It must
be traceable under `jax.vmap` over a leading model axis of `features`
(and `source_probs`), so a zoo of models with equal D is scored in one call.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, NamedTuple

import jax
import numpy as np


class ScoreSpec(NamedTuple):
  """How to compute one registered score.

  Attributes:
    name: registry key, e.g. "logme", "parc", "leep".
    core: the pure function described in the module docstring.
    needs_source_probs: True for scores of the source model's predictions (LEEP, NCE).
    prepare: optional host-side function `prepare(num_samples, dim, num_classes) -> dict` of
      arrays that `core` receives as keyword arguments (e.g. PARC's fixed random test
      matrix); computed once per feature dimension and shared by every model of that D.
    float64: compute in float64 (inside `jax.enable_x64`); False for scores shown stable in
      float32.
    higher_is_better: the direction in which the score ranks models (`sign`).
    pad_invariant: the score is unchanged when features gain all-zero columns, so models of
      different D may be zero-padded into one batch (each claim is tested).
    prepare_labels: optional host-side `prepare_labels(labels, num_classes) -> dict` of
      arrays derived from the labels only (PARC's released label ties); computed once per
      label vector and shared by every model.
    static_argnames: keyword options of `core` that are static under `jax.jit` (e.g. PARC's
      mode); the checked entry point (`checked.score`) passes them through.
    prepare_options: the static options that `prepare` also takes as keywords.
    reads_features: False for scores of the source predictions only (LEEP, NCE): the zoo
      then groups models by source-head size alone and passes [N, 0] features.
  """
  name: str
  core: Callable[..., Any]
  needs_source_probs: bool = False
  prepare: Callable[[int, int, int], dict[str, np.ndarray]] | None = None
  float64: bool = True
  higher_is_better: bool = True
  pad_invariant: bool = False
  prepare_labels: Callable[[np.ndarray, int], dict[str, np.ndarray]] | None = None
  static_argnames: tuple[str, ...] = ()
  prepare_options: tuple[str, ...] = ()
  reads_features: bool = True


SCORES: dict[str, ScoreSpec] = {}


def register(spec: ScoreSpec) -> ScoreSpec:
  """Adds `spec` to `SCORES`; a name can be registered once."""
  if spec.name in SCORES:
    raise ValueError(f"score {spec.name!r} is already registered")
  SCORES[spec.name] = spec
  return spec


def get_score(name: str) -> ScoreSpec:
  """Returns the spec of `name`, or raises `ValueError` listing the known names."""
  if name not in SCORES:
    raise ValueError(f"unknown score {name!r}; known scores: {sorted(SCORES)}")
  return SCORES[name]


def higher_is_better(name: str) -> bool:
  """Whether a higher value of score `name` ranks a model higher (ValueError if unknown).

  Zoo-level scores (NCTI, ETran) are combined so that higher is better; their components
  keep their own direction (NCTI's `ncti_vc` is lower-is-better).
  """
  if name in ZOO_LEVEL_HIGHER_IS_BETTER:
    return ZOO_LEVEL_HIGHER_IS_BETTER[name]
  return get_score(name).higher_is_better


def sign(name: str) -> float:
  """+1.0 for a higher-is-better score, −1.0 otherwise: `sign(name) * value` ranks models
  best-first when sorted descending."""
  return 1.0 if higher_is_better(name) else -1.0


# Scores combined across the zoo (`zoo.ZOO_LEVEL_SCORES`), not registered as cores.
ZOO_LEVEL_HIGHER_IS_BETTER = {"ncti": True, "etran": True}


@contextlib.contextmanager
def precision(float64: bool) -> Iterator[None]:
  """Runs the block with 64-bit JAX types when `float64`, leaving the global setting alone."""
  with (jax.enable_x64(True) if float64 else contextlib.nullcontext()):
    yield
