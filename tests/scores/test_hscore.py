"""H-score and its Ledoit–Wolf variant: official outputs, tllib's formula, properties."""

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import hscore, registry
from tests.scores import fixtures

VARIANTS = {"hscore": False, "hscore_shrinkage": True}
OFFICIAL = [("hscore.tllib_float64_input", False), ("hscore.tllib", False),
            ("hscore.tllib_regularized(LedoitWolf)", True)]


@pytest.mark.parametrize("case", fixtures.CASES)
@pytest.mark.parametrize("key,shrinkage", OFFICIAL)
def test_matches_official(case, key, shrinkage):
  inputs = fixtures.load_case(case)
  np.testing.assert_allclose(hscore.hscore(inputs["features"], inputs["labels"], shrinkage),
                             fixtures.official(case, key)["value"], rtol=1e-6)


def _tllib_hscore(features, labels, shrinkage):
  """tllib's `h_score` / `regularized_h_score` with dense covariances and pinv."""
  centred = features - features.mean(axis=0)
  class_means = np.stack([centred[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
  cov_g = np.cov(class_means[labels], rowvar=False)
  if not shrinkage:
    return np.trace(np.linalg.pinv(np.cov(centred, rowvar=False), rcond=1e-15) @ cov_g)
  estimate = LedoitWolf(assume_centered=False).fit(centred)
  return np.trace(np.linalg.pinv(estimate.covariance_, rcond=1e-15)
                  @ ((1 - estimate.shrinkage_) * cov_g))


# Not (WIDE, plain): there cov_f is singular and tllib's rcond=1e-15 keeps rounding noise;
# `test_equals_classes_minus_one_when_wide` checks the exact value instead.
@pytest.mark.parametrize("shape,shrinkage", [(fixtures.TALL, False), (fixtures.TALL, True),
                                             (fixtures.WIDE, True)])
def test_matches_dense_tllib_formula(shape, shrinkage):
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=2.0)
  np.testing.assert_allclose(hscore.hscore(features, labels, shrinkage),
                             _tllib_hscore(features, labels, shrinkage), rtol=1e-9)


def test_equals_classes_minus_one_when_wide():
  features, labels = fixtures.planted(*fixtures.WIDE, fixtures.NUM_CLASSES, seed=2, offset=2.0)
  np.testing.assert_allclose(hscore.hscore(features, labels), fixtures.NUM_CLASSES - 1,
                             rtol=1e-9)


@pytest.mark.parametrize("shrinkage", [False, True])
def test_label_permutation_invariance(shrinkage):
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(hscore.hscore(moved, renamed, shrinkage),
                             hscore.hscore(features, labels, shrinkage), rtol=1e-9)


@pytest.mark.parametrize("shrinkage", [False, True])
@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind, shrinkage):
  assert np.isfinite(hscore.hscore(*fixtures.degenerate_cases()[kind], shrinkage))


def test_pad_invariance_of_plain_hscore():
  assert registry.get_score("hscore").pad_invariant
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))
  np.testing.assert_allclose(hscore.hscore(padded, labels), hscore.hscore(features, labels),
                             rtol=1e-9)


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    hscore.hscore(bad[1], bad[2])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_vmap_over_models_matches_single_calls(name):
  stack, labels = fixtures.model_stack(shape=fixtures.TALL)
  want = [hscore.hscore(f, labels, VARIANTS[name]) for f in stack]
  np.testing.assert_allclose(fixtures.vmapped(name, stack, labels), want, rtol=1e-9)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=4)
  fixtures.assert_no_retrace(checked.jitted(hscore._SPEC), hscore.hscore, features, labels)
