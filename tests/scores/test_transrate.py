"""TransRate: official (tllib) outputs, tllib's per-class formula, properties, contract."""

import numpy as np
import pytest

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import registry, transrate
from tests.scores import fixtures


@pytest.mark.parametrize("case", fixtures.CASES)
def test_matches_official_float64(case):
  inputs = fixtures.load_case(case)
  want = fixtures.official(case, "transrate.tllib_float64_input(eps=1e-4)")["value"]
  np.testing.assert_allclose(transrate.transrate(inputs["features"], inputs["labels"]), want,
                             rtol=1e-6)


def test_float32_official_differs_only_by_its_float32_gram():
  inputs = fixtures.load_case("small")
  want = fixtures.official("small", "transrate.tllib(eps=1e-4)")["value"]
  np.testing.assert_allclose(transrate.transrate(inputs["features"], inputs["labels"]), want,
                             rtol=1e-5)


def _tllib_transrate(features, labels, eps):
  """tllib's `transrate`: K + 1 dense D×D log-determinants."""
  def rate(z):
    n, d = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))[1]
  centred = features - features.mean(axis=0)
  classes = labels.max() + 1
  return rate(centred) - sum(rate(centred[labels == c]) for c in range(classes)) / classes


@pytest.mark.parametrize("eps", [1e-4, 0.5])
@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_matches_per_class_formula(shape, eps):
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=1.0)
  np.testing.assert_allclose(transrate.transrate(features, labels, eps),
                             _tllib_transrate(features, labels, eps), rtol=1e-9)


def test_label_permutation_invariance():
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(transrate.transrate(moved, renamed),
                             transrate.transrate(features, labels), rtol=1e-10)


@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind):
  assert np.isfinite(transrate.transrate(*fixtures.degenerate_cases()[kind]))


def test_pad_invariance():
  assert registry.get_score("transrate").pad_invariant
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=2)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))
  np.testing.assert_allclose(transrate.transrate(padded, labels),
                             transrate.transrate(features, labels), rtol=1e-10)


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    transrate.transrate(bad[1], bad[2])


def test_absurd_feature_scale_raises_instead_of_nan():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  assert np.isfinite(transrate.transrate(features * 1e5, labels))
  with pytest.raises(ValueError, match="features"):
    transrate.transrate(features * 1e9, labels)


def test_nonpositive_eps_raises():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  with pytest.raises(ValueError, match="eps"):
    transrate.transrate(features, labels, eps=0.0)


def test_vmap_over_models_matches_single_calls():
  stack, labels = fixtures.model_stack()
  np.testing.assert_allclose(fixtures.vmapped("transrate", stack, labels),
                             [transrate.transrate(f, labels) for f in stack], rtol=1e-10)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3)
  fixtures.assert_no_retrace(checked.jitted(transrate._SPEC), transrate.transrate, features, labels)
