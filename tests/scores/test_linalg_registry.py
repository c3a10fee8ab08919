"""Shared linear algebra (`linalg`), the checked entry point (`checked`) and score directions."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

import jax
import jax.numpy as jnp

from guidedrec_jax import scores  # registers every score
from guidedrec_jax.scores import checked, linalg, registry
from tests.scores import fixtures


def test_lda_pieces_reproduce_sklearn_shrunk_lda():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3)
  shrinkage = 0.3
  with registry.precision(True):
    x = jnp.asarray(features)
    onehot = jax.nn.one_hot(labels, fixtures.NUM_CLASSES, dtype=x.dtype)
    counts, means, within = linalg.class_statistics(x, onehot)
    shrunk = linalg.shrink_covariance(within, shrinkage)
    coef = jnp.linalg.solve(shrunk, means.T).T
    got = np.asarray(linalg.lda_logits(x, means, counts, coef))
  lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(features, labels)
  np.testing.assert_allclose(np.asarray(shrunk), lda.covariance_, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(got, lda.decision_function(features), rtol=1e-8, atol=1e-8)


def test_class_spectrum_coordinates_match_numpy_svd():
  for shape in fixtures.SHAPES.values():
    features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=2)
    with registry.precision(True):
      spectrum = linalg.class_spectrum(jnp.asarray(features), jnp.asarray(labels),
                                       fixtures.NUM_CLASSES)
    left, singular, _ = np.linalg.svd(features, full_matrices=False)
    onehot = np.eye(fixtures.NUM_CLASSES)[labels]
    order = np.argsort(singular ** 2)  # the spectrum is ascending
    np.testing.assert_allclose(np.asarray(spectrum.eigenvalues), (singular ** 2)[order],
                               rtol=1e-9)
    np.testing.assert_allclose(np.asarray(spectrum.sq_coords), ((left.T @ onehot) ** 2)[order],
                               atol=1e-9)


def test_every_score_declares_a_direction():
  assert scores.SCORES  # the registry is populated
  for name in registry.SCORES:
    assert registry.sign(name) in (1.0, -1.0)
    assert isinstance(registry.higher_is_better(name), bool)


@pytest.mark.parametrize("name,expected", [("parc", 1.0), ("logme", 1.0), ("ncti", 1.0),
                                           ("ncti_vc", -1.0)])
def test_sign_per_direction(name, expected):
  # NCTI's S_vc (class-wise nuclear norm) is subtracted in the final NCTI: lower is better.
  assert registry.sign(name) == expected
  assert registry.higher_is_better(name) == (expected > 0)


def test_sign_of_unknown_score_raises():
  with pytest.raises(ValueError, match="unknown score"):
    registry.sign("no_such_score")


def test_checked_rejects_unknown_options_and_missing_source_probs():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  with pytest.raises(ValueError, match="options"):
    checked.score(registry.get_score("lfc"), features, labels, mode="exact")
  with pytest.raises(ValueError, match="source_probs"):
    checked.score(registry.get_score("leep"), features, labels)


def test_every_registered_score_computes_in_float64():
  """ARCHITECTURE.md: no registered score takes the float32 path `ScoreSpec.float64` allows."""
  assert len(registry.SCORES) >= 10
  assert all(spec.float64 for spec in registry.SCORES.values()), sorted(
      name for name, spec in registry.SCORES.items() if not spec.float64)
