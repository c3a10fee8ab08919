"""SFDA against the official output and a NumPy transcription of the release."""

import numpy as np
import pytest
import scipy.linalg

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import sfda
from tests.scores import fixtures


def _release_sfda(x, y):
  """TencentARC/SFDA `SFDA_Score`, transcribed with the generalized eigensolver it uses."""
  x = x.astype(np.float64).copy()
  k = y.max() + 1
  def fit_predict(x, shrinkage):
    priors = np.bincount(y) / len(y)
    means = np.stack([x[y == c].mean(0) for c in range(k)])
    sw = sum(priors[c] * np.cov(x[y == c].T, bias=1) for c in range(k))
    if shrinkage is None:
      v = sw.sum(1)
      for _ in range(3):
        u = sw @ v / np.linalg.norm(sw @ v)
        v = sw @ u / np.linalg.norm(sw @ u)
      shrinkage = max(np.exp(-5 * v @ sw @ u), 1e-10)
    d = x.shape[1]
    shrink = lambda c: (1 - shrinkage) * c + shrinkage * np.trace(c) / d * np.eye(d)
    st, sws = shrink(np.cov(x.T, bias=1)), shrink(sw)
    evals, evecs = scipy.linalg.eigh(st - sws, sws)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    logits = x @ coef.T - 0.5 * np.diag(means @ coef.T) + np.log(priors)
    logits -= logits.max(1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), shrinkage, means
  prob, shrinkage, means = fit_predict(x, None)
  prob = np.exp(prob) / np.exp(prob).sum(1, keepdims=True)
  others = (means.sum(0) - means) / (k - 1)
  p = prob[np.arange(len(y)), y][:, None]
  x = p * x + (1 - p) * others[y]
  prob, _, _ = fit_predict(x, shrinkage)
  return prob[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("case", fixtures.CASES)
def test_matches_official(case):
  # The official value saturates near 1 on these inputs, so this checks little beyond sanity;
  # the transcription test below is the sharp one.
  data = fixtures.load_case(case)
  np.testing.assert_allclose(sfda.sfda(data["features"], data["labels"]),
                             fixtures.official(case, "sfda.official")["value"], rtol=1e-6)


@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 0.05)])
def test_matches_release_transcription_on_unsaturated_data(seed, scale):
  rng = np.random.default_rng(seed)
  y = np.arange(300) % 5
  x = (rng.normal(size=(5, 20))[y] * 0.7 + rng.normal(size=(300, 20))) * scale
  want = _release_sfda(x, y)
  assert 0.3 < want < 0.99  # not saturated: the comparison is meaningful
  np.testing.assert_allclose(sfda.sfda(x, y), want, rtol=1e-9)


def test_invariant_to_relabelling():
  rng = np.random.default_rng(2)
  y = np.arange(120) % 4
  x = rng.normal(size=(4, 8))[y] + rng.normal(size=(120, 8))
  np.testing.assert_allclose(sfda.sfda(x, rng.permutation(4)[y]), sfda.sfda(x, y), rtol=1e-10)


def test_bad_input_and_no_retrace():
  x = np.random.default_rng(3).normal(size=(12, 4))
  y = np.arange(12) % 3
  with pytest.raises(ValueError, match="features"):
    sfda.sfda(np.where(x > 1, np.nan, x), y)
  with pytest.raises(ValueError, match="labels"):
    sfda.sfda(x, y[:10])
  sfda.sfda(x, y)
  compiled = checked.jitted(sfda.SFDA)._cache_size()
  sfda.sfda(x + 1, y)
  assert checked.jitted(sfda.SFDA)._cache_size() == compiled
