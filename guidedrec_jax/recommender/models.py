"""LR, FM and FFM as a registry of `ModelSpec`s over `flax.struct` parameters.

Every model reads `EncodedPairs` rows: `feature_ids` int32 [B, F] and `values` float32 [B, F]
with column j belonging to field j. Parameters are a `Params` dataclass (a pytree):

  bias:        float32 []          the global offset (all models)
  tables["w"]: float32 [n]         one linear weight per feature (all models)
  tables["v"]: float32 [n, k]      FM: one latent vector per feature
               float32 [n, F, k]   FFM: one latent vector per (feature, field)

`tables` are the *row tables*: their leading axis is the feature id, so a batch touches only
the rows it names, and the row-sparse trainer updates only those. A spec's `apply_rows` takes
the rows already gathered ([B, F, ...] each); the trainer differentiates with respect to them,
and `apply` is `apply_rows` after the gather, so both paths share one formula.

Adding a model is adding one `ModelSpec` to `REGISTRY`: the trainer, the row-sparse update and
the unit folding read everything model-specific from it. Outside the jitted core (`fit`'s
result, saved recommenders) parameters are flat dicts {"bias", "w", "v"} (`to_dict` /
`from_dict`), which keeps saved files unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.struct
import jax
import jax.numpy as jnp

Rows = dict[str, jax.Array]


@flax.struct.dataclass
class Params:
  """Model parameters: a dense scalar `bias` and row tables indexed by feature id."""
  bias: jax.Array
  tables: dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One model kind.

  Attributes:
    name: the config value ("lr", "fm", "ffm").
    row_shapes: (num_fields, rank) -> {table: trailing shape after the feature axis}.
    degree: {table: how many times a row of it multiplies into a score term}; a score scaled
      by s is reproduced by scaling each table by s ** (1 / degree) (see `scale_to_units`).
    apply_rows: (bias [], rows {table: [B, F, ...]}, values [B, F], interact [F]) -> [B].
  """
  name: str
  row_shapes: Callable[[int, int], dict[str, tuple[int, ...]]]
  degree: Mapping[str, int]
  apply_rows: Callable[[jax.Array, Rows, jax.Array, jax.Array], jax.Array]

  @property
  def tables(self) -> tuple[str, ...]:
    return tuple(self.degree)


def _linear(bias: jax.Array, rows: Rows, values: jax.Array) -> jax.Array:
  return bias + jnp.sum(rows["w"] * values, axis=-1)


def _lr_apply(bias, rows, values, interact):
  del interact  # no interactions
  return _linear(bias, rows, values)


def _fm_apply(bias, rows, values, interact):
  # Rendle's identity: sum_{i<j} <v_i, v_j> x_i x_j in O(F k) instead of O(F² k).
  scaled = rows["v"] * (values * interact)[..., None]             # [B, F, k]
  sum_sq = jnp.square(jnp.sum(scaled, axis=1))                    # [B, k]
  sq_sum = jnp.sum(jnp.square(scaled), axis=1)                    # [B, k]
  return _linear(bias, rows, values) + 0.5 * jnp.sum(sum_sq - sq_sum, axis=-1)


def _ffm_apply(bias, rows, values, interact):
  # rows["v"][b, i, j] is feature i's vector for field j; the (i, j) interaction pairs it
  # with feature j's vector for field i, i.e. the transpose over the two field axes.
  v = rows["v"]                                                   # [B, F, F, k]
  dots = jnp.einsum("bijk,bjik->bij", v, v)                       # [B, F, F]
  weighted = values * interact
  num_fields = values.shape[1]
  upper = jnp.triu(jnp.ones((num_fields, num_fields), v.dtype), k=1)
  pair_values = weighted[:, :, None] * weighted[:, None, :]       # [B, F, F]
  return _linear(bias, rows, values) + jnp.sum(dots * pair_values * upper, axis=(1, 2))


REGISTRY: dict[str, ModelSpec] = {
    "lr": ModelSpec("lr", lambda fields, rank: {"w": ()}, {"w": 1}, _lr_apply),
    "fm": ModelSpec("fm", lambda fields, rank: {"w": (), "v": (rank,)}, {"w": 1, "v": 2},
                    _fm_apply),
    "ffm": ModelSpec("ffm", lambda fields, rank: {"w": (), "v": (fields, rank)},
                     {"w": 1, "v": 2}, _ffm_apply),
}
MODELS = tuple(REGISTRY)


def get(model: str) -> ModelSpec:
  """Returns the spec of `model` or raises `ValueError` listing the known models."""
  if model not in REGISTRY:
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")
  return REGISTRY[model]


def check_model(model: str) -> str:
  """Returns `model` or raises `ValueError` listing the known models."""
  get(model)
  return model


def init_params(model: str, num_features: int, num_fields: int, rank: int, key: jax.Array,
                init_scale: float = 0.1) -> Params:
  """Returns freshly initialised parameters (float32).

  Latent tables (degree 2) start as N(0, init_scale²), linear weights and bias at zero: zero
  latent vectors would be a saddle point of the interaction term (all its gradients vanish).

  Args:
    model: a key of `REGISTRY`.
    num_features: n, the number of feature ids.
    num_fields: F, the number of fields (columns of `feature_ids`).
    rank: k, the latent dimension (ignored by "lr").
    key: a `jax.random` key.
    init_scale: standard deviation of the latent vectors.

  Raises:
    ValueError: unknown model or non-positive sizes, naming the argument.
  """
  spec = get(model)
  for name, value in (("num_features", num_features), ("num_fields", num_fields)):
    if int(value) < 1:
      raise ValueError(f"{name} must be >= 1, got {value}")
  if max(spec.degree.values()) > 1 and int(rank) < 1:
    raise ValueError(f"rank must be >= 1 for {model}, got {rank}")
  if not init_scale > 0:
    raise ValueError(f"init_scale must be > 0, got {init_scale}")
  tables = {}
  for name, tail in spec.row_shapes(int(num_fields), int(rank)).items():
    shape = (int(num_features),) + tail
    if spec.degree[name] == 1:
      tables[name] = jnp.zeros(shape, jnp.float32)
    else:
      tables[name] = init_scale * jax.random.normal(key, shape, jnp.float32)
  return Params(bias=jnp.zeros((), jnp.float32), tables=tables)


def gather_rows(params: Params, feature_ids: jax.Array) -> Rows:
  """Returns the rows of the row tables that `feature_ids` [B, F] names ([B, F, ...] each)."""
  return {name: table[feature_ids] for name, table in params.tables.items()}


def apply_rows(model: str, bias: jax.Array, rows: Rows, values: jax.Array,
               interact: jax.Array | None = None) -> jax.Array:
  """Scores rows from already gathered table rows.

  Args:
    model: a key of `REGISTRY`.
    bias: float32 [].
    rows: {table: [B, F, ...]} (see `gather_rows`).
    values: float32 [B, F].
    interact: float32 [F] or None (all ones): field j enters the pairwise interactions with
      weight interact[j]; 0 keeps it a main effect only (its linear weight), so a dataset
      descriptor with a handful of training values cannot act as a dataset ID interacting
      with every model field.

  Returns:
    float32 [B].
  """
  if interact is None:
    interact = jnp.ones(values.shape[-1:], values.dtype)
  return get(model).apply_rows(bias, rows, values, interact)


def apply(model: str, params: Params, feature_ids: jax.Array, values: jax.Array,
          interact: jax.Array | None = None) -> jax.Array:
  """Scores rows: float32 [B] from `feature_ids` int32 [B, F] and `values` float32 [B, F].

  `interact` [F] as in `apply_rows`.

  Raises:
    ValueError: unknown model, or `feature_ids`/`values` not of equal shape [B, F].
  """
  get(model)
  if feature_ids.ndim != 2 or feature_ids.shape != values.shape:
    raise ValueError(f"feature_ids and values must share shape [B, F], got "
                     f"{feature_ids.shape} and {values.shape}")
  return apply_rows(model, params.bias, gather_rows(params, feature_ids), values, interact)


def to_dict(params: Params) -> dict[str, Any]:
  """The flat form {"bias": ..., table: ...} used by `fit`'s result and saved files."""
  return {"bias": params.bias, **params.tables}


def from_dict(model: str, flat: Mapping[str, Any], num_fields: int | None = None) -> Params:
  """Inverse of `to_dict`, checked against the spec of `model`.

  Args:
    model: a key of `REGISTRY`.
    flat: {"bias": [], table: [n, ...]} as float arrays.
    num_fields: if given, the F the tables must fit (FFM's field axis).

  Raises:
    ValueError: missing or extra tables, or shapes that do not fit the model, naming them.
  """
  spec = get(model)
  expected = {"bias", *spec.tables}
  if set(flat) != expected:
    raise ValueError(f"{model} params must hold {sorted(expected)}, got {sorted(flat)}")
  tables = {name: jnp.asarray(flat[name], jnp.float32) for name in spec.tables}
  num_features = tables["w"].shape[0] if tables["w"].ndim else 0
  rank = max((t.shape[-1] for n, t in tables.items() if spec.degree[n] > 1), default=1)
  fields = num_fields if num_fields is not None else max(
      (t.shape[1] for t in tables.values() if t.ndim > 2), default=1)
  for name, tail in spec.row_shapes(fields, rank).items():
    if tables[name].shape != (num_features,) + tail:
      raise ValueError(f"{model} params[{name!r}] must have shape {(num_features,) + tail} "
                       f"for {fields} fields, got {tables[name].shape}")
  return Params(bias=jnp.asarray(flat["bias"], jnp.float32), tables=tables)


def scale_to_units(model: str, params: Params, mean: float, std: float) -> Params:
  """Params whose scores are std·s + mean for scores s of `params`."""
  spec = get(model)
  tables = {name: table * jnp.float32(std ** (1.0 / spec.degree[name]))
            for name, table in params.tables.items()}
  return Params(bias=params.bias * jnp.float32(std) + jnp.float32(mean), tables=tables)
