"""Feature normalisers: definitions, degenerate inputs, lookup, and use before a score."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import normalize, transrate
from tests.scores import fixtures


def _apply(name, features):
  return normalize.normalize_features(features, name)


@pytest.mark.parametrize("name", sorted(normalize.NORMALIZERS))
def test_pure_function_matches_host_entry_point_under_vmap(name):
  stack = np.stack([fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=s)[0]
                    for s in range(2)])
  with jax.enable_x64(True):
    batched = jax.vmap(normalize.get_normalizer(name))(jnp.asarray(stack))
  np.testing.assert_allclose(np.asarray(batched), [_apply(name, f) for f in stack], rtol=1e-12)


def test_standardize_gives_zero_mean_unit_variance():
  features, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, offset=5.0)
  out = _apply("standardize", features * np.arange(1, 21))
  np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
  np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-12)


def test_l2_gives_unit_rows():
  features, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, offset=5.0)
  np.testing.assert_allclose(np.linalg.norm(_apply("l2", features), axis=1), 1.0, rtol=1e-12)


def test_none_is_identity():
  features, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  np.testing.assert_array_equal(_apply("none", features), features)


@pytest.mark.parametrize("name", sorted(normalize.NORMALIZERS))
def test_constant_columns_and_zero_rows_map_to_zeros_not_nan(name):
  features, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  constant_column, zero_row = features.copy(), features.copy()
  constant_column[:, 3] = 0.1  # not exactly representable: its spread is pure rounding
  zero_row[7] = 0.0
  for out in (_apply(name, constant_column), _apply(name, zero_row)):
    assert np.all(np.isfinite(out))
  if name == "standardize":
    np.testing.assert_array_equal(_apply(name, constant_column)[:, 3], 0.0)
  if name == "l2":
    np.testing.assert_array_equal(_apply(name, zero_row)[7], 0.0)


@pytest.mark.parametrize("name", ["standardize", "l2"])
def test_normalised_score_ignores_feature_scale(name):
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=1)
  scores = [transrate.transrate(_apply(name, features * scale), labels) for scale in (1.0, 30.0)]
  np.testing.assert_allclose(scores[0], scores[1], rtol=1e-9)
  assert transrate.transrate(features, labels) != pytest.approx(
      transrate.transrate(features * 30.0, labels))


@pytest.mark.parametrize("lookup", [normalize.get_normalizer,
                                    lambda name: normalize.normalize_features(np.ones((3, 2)), name)])
def test_unknown_name_raises_naming_argument(lookup):
  with pytest.raises(ValueError, match="name"):
    lookup("whiten")
