"""The one checked entry point behind every public per-score function.

`score(spec, features, labels, source_probs=None, **options)` runs, for any `ScoreSpec`:
input checks on the host (a `ValueError` naming the argument, before any JAX work) → the
spec's host-side `prepare` / `prepare_labels` → the spec's precision → one cached `jax.jit`
of the core per spec (static: `num_classes` and the spec's `static_argnames`) → host values.
The public functions (`logme.logme`, `parc.parc`, ...) validate their own options, pick a
spec and call it; `jitted(spec)` is the compiled function the retrace tests watch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import checks, registry


@functools.lru_cache(maxsize=None)
def jitted(spec: registry.ScoreSpec) -> Callable[..., jax.Array]:
  """`jax.jit(spec.core)` with `num_classes` and the spec's options static; one per spec."""
  return jax.jit(spec.core, static_argnames=("num_classes",) + spec.static_argnames)


def checked_inputs(spec: registry.ScoreSpec, features, labels, source_probs=None
                   ) -> tuple[np.ndarray | None, np.ndarray, int, np.ndarray | None]:
  """Host checks: returns (features or None, int32 labels, K, source_probs or None).

  `features` may be None for scores of the source predictions only (LEEP, NCE); N then
  comes from `source_probs`.
  """
  probs = None
  if features is None:
    if not spec.needs_source_probs:
      raise ValueError(f"features are required by score {spec.name!r}")
    probs = np.asarray(source_probs)
    if probs.ndim != 2:
      raise ValueError(f"source_probs must be 2-D [N, Cs], got shape {probs.shape}")
    num_samples = probs.shape[0]
  else:
    features = checks.check_features(features)
    num_samples = features.shape[0]
  labels, num_classes = checks.check_labels(labels, num_samples)
  if spec.needs_source_probs:
    if source_probs is None:
      raise ValueError(f"source_probs are required by score {spec.name!r}")
    probs = checks.check_probabilities(source_probs, num_samples)
  return features, labels, num_classes, probs


def compute(spec: registry.ScoreSpec, features, labels, source_probs=None, **options: Any
            ) -> Any:
  """Checks, prepares and runs `spec.core` once; returns its value(s) as float64 host arrays
  (the core's pytree: an array, or e.g. LogME's `LogMEDetails`).

  Args:
    spec: the score (registered or a module's unregistered variant).
    features: [N, D] float features, or None for source-prediction scores.
    labels: [N] integers using every class 0..K-1.
    source_probs: [N, Cs] source softmax when `spec.needs_source_probs`.
    **options: the core's static options (`spec.static_argnames`), already validated.

  Raises:
    ValueError: bad inputs (naming the argument), or shape limits from `spec.prepare`.
  """
  unknown = set(options) - set(spec.static_argnames)
  if unknown:
    raise ValueError(f"score {spec.name!r} takes options {spec.static_argnames}, got "
                     f"{sorted(unknown)}")
  features, labels, num_classes, probs = checked_inputs(spec, features, labels, source_probs)
  prepared: dict[str, np.ndarray] = {}
  if spec.prepare is not None:
    dim = features.shape[1] if features is not None else 0
    prepared.update(spec.prepare(labels.shape[0], dim, num_classes,
                                 **{k: options[k] for k in spec.prepare_options if k in options}))
  if spec.prepare_labels is not None:
    prepared.update(spec.prepare_labels(labels, num_classes))
  dtype = np.float64 if spec.float64 else np.float32
  with registry.precision(spec.float64):
    value = jitted(spec)(
        None if features is None else jnp.asarray(features, dtype), jnp.asarray(labels),
        num_classes=num_classes,
        source_probs=None if probs is None else jnp.asarray(probs, dtype),
        **{k: jnp.asarray(v) for k, v in prepared.items()}, **options)
    return jax.tree.map(lambda v: np.asarray(v, np.float64), value)


def score(spec: registry.ScoreSpec, features, labels, source_probs=None, **options: Any
          ) -> float:
  """`compute` for a scalar score, as a Python float."""
  return float(compute(spec, features, labels, source_probs, **options))
