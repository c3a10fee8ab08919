"""ETran components against the official outputs and a transcription of the release."""

import numpy as np
import pytest
import scipy.special

from guidedrec_jax.scores import etran
from tests.scores import fixtures


def _release_lda_score(x, y):
  """mgholamikn/ETran `LDA_Score` as released (eigh of the non-symmetric inv(Sw) @ Sb)."""
  k = y.max() + 1
  priors = np.bincount(y) / len(y)
  means = np.stack([x[y == c].mean(0) for c in range(k)])
  sw = sum(priors[c] * np.cov(x[y == c].T, bias=1) for c in range(k))
  v = sw.sum(1)
  for _ in range(3):
    u = sw @ v / np.linalg.norm(sw @ v)
    v = sw @ u / np.linalg.norm(sw @ u)
  s = max(np.exp(-5 * v @ sw @ u), 1e-10)
  d = x.shape[1]
  shrink = lambda c: (1 - s) * c + s * np.trace(c) / d * np.eye(d)
  sws = shrink(sw)
  evals, evecs = np.linalg.eigh(np.linalg.inv(sws) @ (shrink(np.cov(x.T, bias=1)) - sws))
  evecs = evecs[:, np.argsort(evals)[::-1]]
  coef = means @ evecs @ evecs.T
  prob = scipy.special.softmax(x @ coef.T - 0.5 * np.diag(means @ coef.T) + np.log(priors), 1)
  return prob[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("case", fixtures.CASES)
def test_matches_official(case):
  data = fixtures.load_case(case)
  got = etran.etran_components(data["features"], data["labels"])
  want = fixtures.official(case, "etran.official_components")
  np.testing.assert_allclose(got["etran_lda"], want["lda(S_lda)"], rtol=1e-6)
  np.testing.assert_allclose(got["etran_energy"], want["energy(S_en)"], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_release_on_unsaturated_data(seed):
  rng = np.random.default_rng(seed)
  y = np.arange(400) % 6
  x = rng.normal(size=(6, 24))[y] * 0.5 + rng.normal(size=(400, 24))
  energy = scipy.special.logsumexp(x, axis=1)
  got = etran.etran_components(x, y)
  want_lda = _release_lda_score(x, y)
  assert 0.2 < want_lda < 0.95
  np.testing.assert_allclose(got["etran_lda"], want_lda, rtol=1e-9)
  np.testing.assert_allclose(got["etran_energy"], np.sort(energy)[:2].mean(), rtol=1e-12)


def test_zoo_combination_and_errors():
  got = etran.etran_from_components({"etran_lda": [0.2, 0.6, 1.0], "etran_energy": [3, 1, 2]})
  np.testing.assert_allclose(got, [0.15, 0.425, 0.925])
  with pytest.raises(ValueError, match="N >= 200"):
    etran.etran_components(np.random.default_rng(0).normal(size=(150, 4)), np.arange(150) % 3)
