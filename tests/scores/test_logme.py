"""LogME: official outputs, a dense brute-force evidence, properties and the score contract."""

import numpy as np
import pytest

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import logme, registry
from tests.scores import fixtures

OFFICIAL = "logme.thuml.fixed_point(default)"
VARIANTS = {"logme": False, "logme_consistent": True}


@pytest.mark.parametrize("case", fixtures.CASES)
def test_released_matches_official_with_alphas_and_betas(case):
  inputs = fixtures.load_case(case)
  want = fixtures.official(case, OFFICIAL)
  got = logme.logme_details(inputs["features"], inputs["labels"])
  np.testing.assert_allclose(got.score, want["value"], rtol=1e-6)
  np.testing.assert_allclose(got.alphas, want["alphas"], rtol=1e-6)
  np.testing.assert_allclose(got.betas, want["betas"], rtol=1e-6)
  np.testing.assert_allclose(got.evidences.mean(), got.score, rtol=1e-12)


def _dense_consistent_logme(features, labels):
  """The released iteration written with D×D solves and the exact log-determinant."""
  num_samples, dim = features.shape
  gram = features.T @ features
  eigenvalues = np.linalg.eigvalsh(gram)
  evidences = []
  for c in range(labels.max() + 1):
    target = (labels == c).astype(np.float64)
    alpha, beta = 1.0, 1.0
    for _ in range(logme.MAX_STEPS):
      ratio = alpha / beta
      gamma = np.sum(eigenvalues / (eigenvalues + ratio))
      weights = np.linalg.solve(gram + ratio * np.eye(dim), features.T @ target)
      m_sq = weights @ weights
      res_sq = np.sum((target - features @ weights) ** 2)
      alpha, beta = gamma / (m_sq + 1e-5), (num_samples - gamma) / (res_sq + 1e-5)
      if abs(alpha / beta - ratio) / ratio <= logme.RELATIVE_TOL:
        break
    logdet = np.linalg.slogdet(alpha * np.eye(dim) + beta * gram)[1]
    evidences.append((dim * np.log(alpha) + num_samples * np.log(beta) - logdet
                      - beta * res_sq - alpha * m_sq - num_samples * np.log(2 * np.pi))
                     / (2 * num_samples))
  return np.mean(evidences)


@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_consistent_matches_dense_brute_force(shape):
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=0.5)
  np.testing.assert_allclose(logme.logme(features, labels, consistent=True),
                             _dense_consistent_logme(features, labels), rtol=1e-9)


def test_variants_agree_when_full_rank_tall():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=2)
  np.testing.assert_allclose(logme.logme(features, labels),
                             logme.logme(features, labels, consistent=True), rtol=1e-12)


@pytest.mark.parametrize("consistent", [False, True])
@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_good_features_beat_random(shape, consistent):
  good, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=3, signal=6.0)
  random, _ = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=4, signal=0.0)
  assert logme.logme(good, labels, consistent) > logme.logme(random, labels, consistent)


@pytest.mark.parametrize("consistent", [False, True])
def test_label_permutation_invariance(consistent):
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(logme.logme(moved, renamed, consistent),
                             logme.logme(features, labels, consistent), rtol=1e-10)


@pytest.mark.parametrize("consistent", [False, True])
@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind, consistent):
  assert np.isfinite(logme.logme(*fixtures.degenerate_cases()[kind], consistent))


@pytest.mark.parametrize("consistent", [False, True])
@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_ill_scaled_features_give_finite_score(shape, consistent):
  # N − γ is summed directly; by subtraction it reached ≤ 0 (NaN) at this scale when N < D.
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=9)
  for scaled in (features * 1e8, features * 1e-8, features * np.logspace(-6, 6, shape[1])):
    assert np.isfinite(logme.logme(scaled, labels, consistent))


def test_consistent_is_pad_invariant_across_gram_sides():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=7)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))  # D crosses N
  assert registry.get_score("logme_consistent").pad_invariant
  np.testing.assert_allclose(logme.logme(padded, labels, consistent=True),
                             logme.logme(features, labels, consistent=True), rtol=1e-9)
  assert logme.logme(padded, labels) != pytest.approx(logme.logme(features, labels))


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    logme.logme(bad[1], bad[2])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_vmap_over_models_matches_single_calls(name):
  stack, labels = fixtures.model_stack()
  want = [logme.logme(f, labels, consistent=VARIANTS[name]) for f in stack]
  np.testing.assert_allclose(fixtures.vmapped(name, stack, labels), want, rtol=1e-9)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=8)
  fixtures.assert_no_retrace(checked.jitted(logme._DETAILS), logme.logme, features, labels)
