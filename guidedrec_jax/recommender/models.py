"""LR, FM and FFM as pure functions of a dict of parameters.

Every model reads `EncodedPairs` rows: `feature_ids` int32 [B, F] and `values` float32 [B, F]
with column j belonging to field j. Parameters:

  bias: float32 []          the global offset (all models)
  w:    float32 [n]         one linear weight per feature (all models)
  v:    float32 [n, k]      FM: one latent vector per feature
        float32 [n, F, k]   FFM: one latent vector per (feature, field)

`w` and `v` are the *row tables*: their leading axis is the feature id, so a batch touches only
the rows it names. `apply_rows` takes those rows already gathered (`w_rows` [B, F], `v_rows`
[B, F, ...]); the row-sparse trainer differentiates with respect to them, and `apply` is
`apply_rows` after the gather, so both paths share one formula.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

MODELS = ("lr", "fm", "ffm")
ROW_TABLES = ("w", "v")  # parameters indexed by feature id; "bias" is dense.

Params = dict[str, Any]


def check_model(model: str) -> str:
  """Returns `model` or raises `ValueError` listing the known models."""
  if model not in MODELS:
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")
  return model


def init_params(model: str, num_features: int, num_fields: int, rank: int, key: jax.Array,
                init_scale: float = 0.1) -> Params:
  """Returns freshly initialised parameters (float32).

  Latent vectors start as N(0, init_scale²), linear weights and bias at zero: zero latent
  vectors would be a saddle point of the interaction term (all its gradients vanish).

  Args:
    model: "lr", "fm" or "ffm".
    num_features: n, the number of feature ids.
    num_fields: F, the number of fields (columns of `feature_ids`).
    rank: k, the latent dimension (ignored by "lr").
    key: a `jax.random` key.
    init_scale: standard deviation of the latent vectors.

  Returns:
    {"bias": [], "w": [n]} plus "v": [n, k] (FM) or [n, F, k] (FFM).

  Raises:
    ValueError: unknown model or non-positive sizes, naming the argument.
  """
  check_model(model)
  for name, value in (("num_features", num_features), ("num_fields", num_fields)):
    if int(value) < 1:
      raise ValueError(f"{name} must be >= 1, got {value}")
  if model != "lr" and int(rank) < 1:
    raise ValueError(f"rank must be >= 1 for {model}, got {rank}")
  if not init_scale > 0:
    raise ValueError(f"init_scale must be > 0, got {init_scale}")
  params = {"bias": jnp.zeros((), jnp.float32), "w": jnp.zeros((num_features,), jnp.float32)}
  if model == "fm":
    shape = (num_features, rank)
  elif model == "ffm":
    shape = (num_features, num_fields, rank)
  else:
    return params
  params["v"] = init_scale * jax.random.normal(key, shape, jnp.float32)
  return params


def gather_rows(params: Params, feature_ids: jax.Array) -> Params:
  """Returns the rows of the row tables that `feature_ids` [B, F] names ([B, F, ...] each)."""
  return {name: params[name][feature_ids] for name in ROW_TABLES if name in params}


def apply_rows(model: str, bias: jax.Array, rows: Params, values: jax.Array,
               interact: jax.Array | None = None) -> jax.Array:
  """Scores rows from already gathered table rows.

  Args:
    model: "lr", "fm" or "ffm".
    bias: float32 [].
    rows: "w" [B, F] and, for FM/FFM, "v" [B, F, k] / [B, F, F, k] (see `gather_rows`).
    values: float32 [B, F].
    interact: float32 [F] or None (all ones): field j enters the pairwise interactions with
      weight interact[j]; 0 keeps it a main effect only (its linear weight), so a dataset
      descriptor with a handful of training values cannot act as a dataset ID interacting
      with every model field.

  Returns:
    float32 [B].
  """
  linear = bias + jnp.sum(rows["w"] * values, axis=-1)
  if model == "lr":
    return linear
  if interact is not None:
    values = values * interact
  if model == "fm":
    # Rendle's identity: sum_{i<j} <v_i, v_j> x_i x_j in O(F k) instead of O(F² k).
    scaled = rows["v"] * values[..., None]                        # [B, F, k]
    sum_sq = jnp.square(jnp.sum(scaled, axis=1))                  # [B, k]
    sq_sum = jnp.sum(jnp.square(scaled), axis=1)                  # [B, k]
    return linear + 0.5 * jnp.sum(sum_sq - sq_sum, axis=-1)
  # FFM: rows["v"][b, i, j] is feature i's vector for field j; the (i, j) interaction pairs
  # it with feature j's vector for field i, i.e. the transpose over the two field axes.
  v = rows["v"]                                                   # [B, F, F, k]
  dots = jnp.einsum("bijk,bjik->bij", v, v)                       # [B, F, F]
  num_fields = values.shape[1]
  upper = jnp.triu(jnp.ones((num_fields, num_fields), v.dtype), k=1)
  pair_values = values[:, :, None] * values[:, None, :]           # [B, F, F]
  return linear + jnp.sum(dots * pair_values * upper, axis=(1, 2))


def apply(model: str, params: Params, feature_ids: jax.Array, values: jax.Array,
          interact: jax.Array | None = None) -> jax.Array:
  """Scores rows: float32 [B] from `feature_ids` int32 [B, F] and `values` float32 [B, F].

  `interact` [F] as in `apply_rows`.

  Raises:
    ValueError: unknown model, or `feature_ids`/`values` not of equal shape [B, F].
  """
  check_model(model)
  if feature_ids.ndim != 2 or feature_ids.shape != values.shape:
    raise ValueError(f"feature_ids and values must share shape [B, F], got "
                     f"{feature_ids.shape} and {values.shape}")
  return apply_rows(model, params["bias"], gather_rows(params, feature_ids), values, interact)
