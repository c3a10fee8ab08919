"""NLEEP: the JAX EM against sklearn's GaussianMixture from the same start, planted data,
the PCA cut, invariances and the contract."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

import jax.numpy as jnp

from guidedrec_jax.scores import checked, leep, nleep, registry
from tests.scores import fixtures

SHAPE, NUM_CLASSES = (150, 12), 3  # M = 15 components


def _reference(features, labels, covariance):
  """sklearn's PCA(0.8) + GaussianMixture from our seeded start + LEEP of its posteriors."""
  reduced = PCA(nleep.VARIANCE_KEPT, svd_solver="full").fit_transform(features)
  index = nleep.prepare_nleep(*features.shape, NUM_CLASSES)["init_index"]
  centred = reduced - reduced.mean(0)
  if covariance == "diag":
    base = (centred ** 2).mean(0) + nleep.REG_COVAR
    precisions = np.tile(1.0 / base, (len(index), 1))
  else:
    base = centred.T @ centred / len(reduced) + nleep.REG_COVAR * np.eye(reduced.shape[1])
    precisions = np.tile(np.linalg.inv(base), (len(index), 1, 1))
  mixture = GaussianMixture(len(index), covariance_type=covariance, tol=nleep.TOL,
                            reg_covar=nleep.REG_COVAR, max_iter=nleep.MAX_ITER,
                            weights_init=np.full(len(index), 1 / len(index)),
                            means_init=reduced[index], precisions_init=precisions)
  posteriors = mixture.fit(reduced).predict_proba(reduced)
  return leep.leep(posteriors, labels), reduced.shape[1], mixture.n_iter_


@pytest.mark.parametrize("covariance", nleep.COVARIANCES)
def test_matches_sklearn_gaussian_mixture_from_the_same_start(covariance):
  features, labels = fixtures.planted(*SHAPE, NUM_CLASSES, seed=11, signal=4.0)
  want, kept, iterations = _reference(features, labels, covariance)
  assert 1 < kept < SHAPE[1] and iterations > 2  # the 80 % cut and EM both do work here
  np.testing.assert_allclose(nleep.nleep(features, labels, covariance), want, atol=1e-8)


def test_pca_cut_matches_sklearn_and_zeroes_the_rest():
  features, _ = fixtures.planted(*SHAPE, NUM_CLASSES, seed=11, signal=4.0)
  kept = PCA(nleep.VARIANCE_KEPT, svd_solver="full").fit(features).n_components_
  with registry.precision(True):
    reduced = np.asarray(nleep.reduce_features(jnp.asarray(features), nleep.MAX_DIMS))
  assert np.all(np.abs(reduced[:, :kept]).max(axis=0) > 0)
  assert np.all(reduced[:, kept:] == 0)


def test_planted_separated_classes_score_near_zero_and_random_labels_near_log_half():
  # Two classes in far-apart blobs: every component fitted inside one blob, so p(y | x) ≈ 1
  # for the true class; with random labels the components carry no label information.
  rng = np.random.default_rng(3)
  labels = (np.arange(200) % 2).astype(np.int32)
  features = rng.normal(size=(200, 6))
  features[:, 0] += 50.0 * (2 * labels - 1)
  assert nleep.nleep(features, labels) > -1e-3
  shuffled = nleep.nleep(features, rng.permutation(labels))
  assert abs(shuffled - np.log(0.5)) < 0.1


def test_label_permutation_invariance():
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  # The start is drawn by sample index, so reorder it with the samples: rename classes only.
  rename = np.array([2, 0, 3, 1], np.int32)
  np.testing.assert_allclose(nleep.nleep(features, rename[labels]),
                             nleep.nleep(features, labels), rtol=1e-12)
  assert np.isfinite(nleep.nleep(moved, renamed))


@pytest.mark.parametrize("bad", fixtures.bad_inputs()[:4], ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    nleep.nleep(bad[1], bad[2])


@pytest.mark.parametrize("option,value", [("covariance", "spherical"), ("max_dims", 0)])
def test_bad_options_raise(option, value):
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  with pytest.raises(ValueError, match=option):
    nleep.nleep(features, labels, **{option: value})


def test_too_few_samples_for_the_components_raise():
  features, labels = fixtures.planted(12, 5, 3)
  with pytest.raises(ValueError, match="5·K"):
    nleep.nleep(features, labels)


def test_registered_with_direction_and_vmap_matches_single_calls():
  assert registry.higher_is_better("nleep") and registry.higher_is_better("nleep_diag")
  stack, labels = fixtures.model_stack()
  want = [nleep.nleep(f, labels) for f in stack]
  np.testing.assert_allclose(fixtures.vmapped("nleep", stack, labels), want, rtol=1e-9)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=6)
  fixtures.assert_no_retrace(checked.jitted(nleep.NLEEP), nleep.nleep, features, labels)
