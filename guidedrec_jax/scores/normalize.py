"""Optional feature normalisation before scoring a heterogeneous zoo.

Scale-dependent scores (TransRate's absolute ε, LogME's evidence, H-score's pseudo-inverse
cut) rank models partly by the scale of their features. Normalising every model the same
way removes that nuisance when a zoo mixes architectures. All functions are pure `jnp`,
shape [N, D] → [N, D], jit- and vmap-able, and map constant columns / zero rows to zeros
instead of NaN; `normalize_features` applies one by name to a host array (as `score_zoo`
does before scoring).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import registry


def identity(features: jax.Array) -> jax.Array:
  """Returns `features` unchanged."""
  return features


def standardize(features: jax.Array) -> jax.Array:
  """Per-dimension zero mean and unit (population) variance; constant columns become 0.

  Args:
    features: [N, D] float.

  Returns:
    [N, D] standardised features.
  """
  centred = features - jnp.mean(features, axis=0)
  std = jnp.sqrt(jnp.mean(centred ** 2, axis=0))
  # Rounding leaves ~eps·|mean| of "spread" in a constant column: treat that as constant.
  floor = jnp.finfo(features.dtype).eps * (jnp.max(jnp.abs(features), axis=0) + 1.0)
  return jnp.where(std > floor, centred / jnp.where(std > floor, std, 1.0), 0.0)


def l2_rows(features: jax.Array) -> jax.Array:
  """Scales every row to unit Euclidean norm; all-zero rows stay zero.

  Args:
    features: [N, D] float.

  Returns:
    [N, D] row-normalised features.
  """
  norms = jnp.linalg.norm(features, axis=1, keepdims=True)
  return features / jnp.where(norms > 0, norms, 1.0)


NORMALIZERS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "none": identity,
    "standardize": standardize,
    "l2": l2_rows,
}


def get_normalizer(name: str) -> Callable[[jax.Array], jax.Array]:
  """Returns the normaliser called `name` ("none", "standardize" or "l2").

  Raises:
    ValueError: unknown `name`, listing the known ones.
  """
  if name not in NORMALIZERS:
    raise ValueError(f"name must be one of {sorted(NORMALIZERS)}, got {name!r}")
  return NORMALIZERS[name]


_JITTED = {name: jax.jit(fn) for name, fn in NORMALIZERS.items()}


def normalize_features(features, name: str) -> np.ndarray:
  """Applies the normaliser `name` to host features, in float64.

  Args:
    features: [N, D] float array (already validated, e.g. by `checks.check_features`).
    name: "none", "standardize" or "l2".

  Returns:
    float64 [N, D] NumPy array.

  Raises:
    ValueError: unknown `name`.
  """
  get_normalizer(name)
  with registry.precision(True):
    return np.asarray(_JITTED[name](jnp.asarray(features, jnp.float64)))
