"""GBC: the fixture's transcription of Google's code, a float64 loop reference, properties."""

import numpy as np
import pytest

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import gbc, registry
from tests.scores import fixtures

VARIANTS = {"gbc": False, "gbc_spherical": True}


@pytest.mark.parametrize("case", fixtures.CASES)
@pytest.mark.parametrize("spherical", [False, True], ids=["diagonal", "spherical"])
def test_matches_fixture(case, spherical):
  inputs = fixtures.load_case(case)
  key = f"reimpl.gbc_google({'spherical' if spherical else 'diagonal'},pca64)"
  # The fixture's PCA ran in float32 (sklearn full SVD): that alone moves it by ≤ 3.4e-6.
  np.testing.assert_allclose(gbc.gbc(inputs["features"], inputs["labels"], spherical),
                             fixtures.official(case, key)["value"], rtol=1e-5)


def _loop_gbc(features, labels, spherical, n_dims=64):
  """Google's `get_gbc_score` as loops over class pairs, after an SVD-based PCA."""
  centred = features - features.mean(axis=0)
  _, _, vt = np.linalg.svd(centred, full_matrices=False)
  projected = centred @ vt[:n_dims].T
  total = 0.0
  classes = range(labels.max() + 1)
  stats = {c: (projected[labels == c].mean(axis=0),
               np.maximum(projected[labels == c].var(axis=0), 1e-4)) for c in classes}
  for a in classes:
    for b in classes:
      if a == b:
        continue
      (mean_a, var_a), (mean_b, var_b) = stats[a], stats[b]
      if spherical:
        var_a, var_b = var_a.mean(), var_b.mean()
      avg = 0.5 * (var_a + var_b)
      distance = (np.sum((mean_a - mean_b) ** 2 / avg) / 8.0
                  + 0.5 * (np.sum(np.log(avg)) - 0.5 * np.sum(np.log(var_a))
                           - 0.5 * np.sum(np.log(var_b))))
      total += np.exp(-distance)
  return -total


@pytest.mark.parametrize("spherical", [False, True], ids=["diagonal", "spherical"])
@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_matches_loop_reference(shape, spherical):
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=1.0)
  np.testing.assert_allclose(gbc.gbc(features, labels, spherical),
                             _loop_gbc(features, labels, spherical), rtol=1e-9)


@pytest.mark.parametrize("spherical", [False, True], ids=["diagonal", "spherical"])
def test_separable_features_beat_random(spherical):
  good, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=2, signal=8.0)
  random, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3, signal=0.0)
  assert gbc.gbc(good, labels, spherical) > gbc.gbc(random, labels, spherical)


@pytest.mark.parametrize("spherical", [False, True], ids=["diagonal", "spherical"])
def test_label_permutation_invariance(spherical):
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(gbc.gbc(moved, renamed, spherical),
                             gbc.gbc(features, labels, spherical), rtol=1e-9)


@pytest.mark.parametrize("spherical", [False, True], ids=["diagonal", "spherical"])
@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind, spherical):
  assert np.isfinite(gbc.gbc(*fixtures.degenerate_cases()[kind], spherical))


def test_diagonal_is_pad_invariant():
  assert registry.get_score("gbc").pad_invariant
  assert not registry.get_score("gbc_spherical").pad_invariant  # mean over padded dims
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=4)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))
  np.testing.assert_allclose(gbc.gbc(padded, labels), gbc.gbc(features, labels), rtol=1e-9)


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    gbc.gbc(bad[1], bad[2])


def test_bad_n_dims_raises():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  with pytest.raises(ValueError, match="n_dims"):
    gbc.gbc(features, labels, n_dims=0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_vmap_over_models_matches_single_calls(name):
  stack, labels = fixtures.model_stack()
  want = [gbc.gbc(f, labels, VARIANTS[name]) for f in stack]
  np.testing.assert_allclose(fixtures.vmapped(name, stack, labels), want, rtol=1e-9)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=5)
  fixtures.assert_no_retrace(checked.jitted(gbc._SPEC), gbc.gbc, features, labels)
