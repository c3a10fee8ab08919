"""LR / FM / FFM against brute-force definitions, written as explicit loops in NumPy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrec_jax.recommender import models


def _rows(num_rows=7, num_features=11, num_fields=4, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, num_features, (num_rows, num_fields)).astype(np.int32)
  values = rng.normal(size=(num_rows, num_fields)).astype(np.float32)
  return ids, values


def _brute_force(model, params, ids, values):
  """Bias + Σ w_i x_i + Σ_{i<j} ⟨·,·⟩ x_i x_j, one row and one pair at a time."""
  p = {name: np.asarray(value, np.float64) for name, value in models.to_dict(params).items()}
  out = []
  for row_ids, row_values in zip(ids, values):
    total = p["bias"] + sum(p["w"][i] * x for i, x in zip(row_ids, row_values))
    for a, b in itertools.combinations(range(len(row_ids)), 2):
      i, j, xi, xj = row_ids[a], row_ids[b], row_values[a], row_values[b]
      if model == "fm":
        total += p["v"][i] @ p["v"][j] * xi * xj
      elif model == "ffm":  # feature i's vector for field b, feature j's vector for field a
        total += p["v"][i, b] @ p["v"][j, a] * xi * xj
    out.append(total)
  return np.array(out)


@pytest.mark.parametrize("model", models.MODELS)
@pytest.mark.parametrize("num_fields", [1, 2, 5])
def test_apply_matches_brute_force(model, num_fields):
  ids, values = _rows(num_fields=num_fields, seed=num_fields)
  params = models.init_params(model, 11, num_fields, 3, jax.random.key(1), init_scale=0.7)
  params = params.replace(bias=params.bias + 0.3, tables={
      **params.tables, "w": jax.random.normal(jax.random.key(2), params.tables["w"].shape)})
  got = np.asarray(jax.jit(models.apply, static_argnums=0)(model, params, ids, values))
  np.testing.assert_allclose(got, _brute_force(model, params, ids, values), rtol=1e-5, atol=1e-5)


def test_ffm_differs_from_fm_on_field_aware_vectors():
  """A check that the FFM test can fail: using one vector per feature gives a different sum."""
  ids, values = _rows()
  params = models.init_params("ffm", 11, 4, 3, jax.random.key(0), init_scale=1.0)
  fm_like = _brute_force("fm", params.replace(tables={**params.tables,
                                                      "v": params.tables["v"][:, 0]}), ids, values)
  assert not np.allclose(np.asarray(models.apply("ffm", params, ids, values)), fm_like)


def test_repeated_feature_in_a_row_counts_twice():
  ids = np.array([[3, 3]], np.int32)
  values = np.array([[2.0, 0.5]], np.float32)
  params = models.init_params("fm", 5, 2, 2, jax.random.key(0), init_scale=1.0)
  v = np.asarray(params.tables["v"][3], np.float64)
  np.testing.assert_allclose(models.apply("fm", params, ids, values), [v @ v * 1.0], rtol=1e-5)


def test_init_shapes_and_dtypes():
  for model, shape in (("lr", None), ("fm", (9, 4)), ("ffm", (9, 3, 4))):
    params = models.init_params(model, 9, 3, 4, jax.random.key(0))
    flat = models.to_dict(params)
    assert flat["w"].shape == (9,) and flat["bias"].shape == ()
    assert all(value.dtype == np.float32 for value in flat.values())
    assert (flat["v"].shape if "v" in flat else None) == shape


@pytest.mark.parametrize("kwargs, name", [
    (dict(model="svm"), "model"), (dict(num_features=0), "num_features"),
    (dict(num_fields=0), "num_fields"), (dict(rank=0), "rank"),
    (dict(init_scale=0.0), "init_scale")])
def test_bad_arguments_raise(kwargs, name):
  args = dict(model="fm", num_features=4, num_fields=2, rank=2, key=jax.random.key(0))
  with pytest.raises(ValueError, match=name):
    models.init_params(**{**args, **kwargs})


def test_apply_rejects_mismatched_shapes():
  params = models.init_params("lr", 4, 2, 1, jax.random.key(0))
  with pytest.raises(ValueError, match="feature_ids and values"):
    models.apply("lr", params, np.zeros((3, 2), np.int32), np.zeros((3, 1), np.float32))


@pytest.mark.parametrize("model", ["fm", "ffm"])
def test_interact_weight_zero_keeps_a_field_a_main_effect(model):
  """interact[j] = 0 equals the brute force with field j's latent vectors zeroed."""
  ids, values = _rows(num_fields=4, seed=3)
  params = models.init_params(model, 11, 4, 3, jax.random.key(1), init_scale=0.7)
  params = params.replace(tables={
      **params.tables, "w": jax.random.normal(jax.random.key(2), params.tables["w"].shape)})
  interact = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
  got = np.asarray(models.apply(model, params, ids, values, interact))
  # Field 1's feature ids may also appear in other fields: zero its values in the
  # interactions by brute force instead, adding its linear term back.
  no_field1 = values.copy()
  no_field1[:, 1] = 0.0
  linear = np.asarray(params.tables["w"])[ids[:, 1]] * values[:, 1]
  want = _brute_force(model, params, ids, no_field1) + linear
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  assert not np.allclose(got, np.asarray(models.apply(model, params, ids, values)))


@pytest.mark.parametrize("model", models.MODELS)
def test_every_registered_kind_row_apply_equals_dense_apply(model):
  """The registry's row apply on gathered rows is the dense apply, and both are pytrees."""
  spec = models.get(model)
  ids, values = _rows(num_fields=3, seed=5)
  params = models.init_params(model, 11, 3, 2, jax.random.key(3), init_scale=0.5)
  params = params.replace(tables={**params.tables, "w": jnp.arange(11, dtype=jnp.float32)})
  assert set(params.tables) == set(spec.tables)
  interact = np.array([1.0, 0.5, 0.0], np.float32)
  rows = {name: np.asarray(table)[ids] for name, table in params.tables.items()}
  by_rows = spec.apply_rows(params.bias, rows, values, interact)
  dense = jax.jit(models.apply, static_argnums=0)(model, params, ids, values, interact)
  # Eager vs jitted: XLA may fuse the sums differently, hence a float32 tolerance.
  np.testing.assert_allclose(np.asarray(by_rows), np.asarray(dense), rtol=1e-6, atol=1e-6)
  # flax.struct: a pytree whose leaves are the bias and the tables, by name.
  assert len(jax.tree.leaves(params)) == 1 + len(spec.tables)
  doubled = jax.tree.map(lambda x: 2 * x, params)
  np.testing.assert_array_equal(doubled.tables["w"], 2 * np.arange(11))


def test_unknown_kind_is_a_clear_error():
  with pytest.raises(ValueError, match=r"model must be one of \('lr', 'fm', 'ffm'\), got 'svm'"):
    models.get("svm")
  with pytest.raises(ValueError, match="model must be one of"):
    models.apply_rows("svm", 0.0, {}, np.zeros((1, 1), np.float32))


@pytest.mark.parametrize("model", models.MODELS)
def test_flat_dict_round_trip_and_checks(model):
  params = models.init_params(model, 7, 3, 2, jax.random.key(0), init_scale=0.5)
  flat = {name: np.asarray(value) for name, value in models.to_dict(params).items()}
  back = models.from_dict(model, flat, num_fields=3)
  for name, value in models.to_dict(back).items():
    np.testing.assert_array_equal(np.asarray(value), flat[name])
  with pytest.raises(ValueError, match="must hold"):
    models.from_dict(model, {**flat, "extra": flat["w"]})
  if model == "ffm":
    with pytest.raises(ValueError, match="fields"):
      models.from_dict(model, flat, num_fields=4)


@pytest.mark.parametrize("model", models.MODELS)
def test_scale_to_units_maps_scores_affinely(model):
  ids, values = _rows(num_fields=3, seed=6)
  params = models.init_params(model, 11, 3, 2, jax.random.key(4), init_scale=0.5)
  params = params.replace(bias=params.bias + 0.2, tables={
      **params.tables, "w": jax.random.normal(jax.random.key(5), (11,))})
  scaled = models.scale_to_units(model, params, mean=3.0, std=2.5)
  np.testing.assert_allclose(models.apply(model, scaled, ids, values),
                             2.5 * np.asarray(models.apply(model, params, ids, values)) + 3.0,
                             rtol=1e-5, atol=1e-5)
