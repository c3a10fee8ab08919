"""NCTI components against the official outputs and a transcription on sklearn; zoo min-max."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from guidedrec_jax.scores import ncti
from tests.scores import fixtures

OFFICIAL_KEYS = {"ncti_ncc": "lda_mean_prob(S_ncc)", "ncti_seli": "all_lowfeat_nuc(S_seli)",
                 "ncti_vc": "log_class_pred_nuc(S_vc)"}


def _release_components(x, y):
  """BUserName/NCTI `NCTI_Score` on sklearn, under the global seed the fixture used."""
  np.random.seed(0)
  z = (pca := PCA(n_components=64)).fit_transform(x, y)
  temp = max(np.exp(-pca.explained_variance_[:32].sum()), 1e-10)
  clf = (LinearDiscriminantAnalysis(solver="svd") if temp == 1e-10 else
         LinearDiscriminantAnalysis(solver="eigen", shrinkage=float(temp)))
  low = clf.fit_transform(z, y)
  low = low - low.mean(0, keepdims=True)
  pred = clf.predict_proba(z)
  vc = sum(np.linalg.norm(pred[y == c], ord="nuc") for c in range(y.max() + 1))
  return {"ncti_ncc": pred[np.arange(len(y)), y].mean(),
          "ncti_seli": np.linalg.norm(low, ord="nuc"), "ncti_vc": np.log(vc)}, temp


@pytest.mark.parametrize("case", fixtures.CASES)
def test_matches_official(case):
  data = fixtures.load_case(case)
  got = ncti.ncti_components(data["features"], data["labels"])
  want = fixtures.official(case, "ncti.official_components")
  for name, key in OFFICIAL_KEYS.items():
    np.testing.assert_allclose(got[name], want[key], rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("n,d,scale,branch", [
    (1000, 80, 1.0, "svd"),     # sklearn picks an exact PCA (N >= 10 D)
    (300, 600, 1.0, "svd"),     # randomized PCA on a wide matrix (transposed)
    (400, 100, 0.02, "eigen"),  # small variance: shrinkage LDA
])
def test_matches_release_transcription(n, d, scale, branch):
  rng = np.random.default_rng(n + d)
  y = np.arange(n) % 8
  x = ((rng.normal(size=(8, d))[y] + 1.5 * rng.normal(size=(n, d))) * scale).astype(np.float32)
  want, temp = _release_components(x, y)
  assert (temp > 1e-10) == (branch == "eigen")
  got = ncti.ncti_components(x, y)
  for name in ncti.COMPONENTS:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5, err_msg=name)


def test_zoo_combination_and_errors():
  got = ncti.ncti_from_components({"ncti_ncc": [0.5, 0.9, 0.7], "ncti_seli": [10, 30, 20],
                                   "ncti_vc": [1.0, 1.0, 1.0]})
  np.testing.assert_allclose(got, [0.0, 2.0, 1.0])  # constant S_vc contributes 0
  with pytest.raises(ValueError, match="at least 2"):
    ncti.ncti_from_components({name: [1.0] for name in ncti.COMPONENTS})
  with pytest.raises(ValueError, match="lacks"):
    ncti.ncti_from_components({"ncti_ncc": [1.0, 2.0]})
  with pytest.raises(ValueError, match="N and D >= 64"):
    ncti.ncti_components(np.ones((100, 32)) + np.eye(100, 32), np.arange(100) % 2)
