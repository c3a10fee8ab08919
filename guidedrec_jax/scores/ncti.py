"""NCTI (Wang et al., CVPR 2023): neural-collapse components and the zoo-level combination.

As released (BUserName/NCTI `metrics.py`, `NCTI_Score`): features → sklearn `PCA(64)` → an
sklearn LDA (solver 'svd', or 'eigen' with shrinkage t = exp(−Σ top-32 PCA variances) when
t > 1e-10) → three components per model:
  S_seli (`all_lowfeat_nuc`): nuclear norm of the centred LDA projection [N, min(K−1, 64)];
  S_ncc (`sfda_score`): mean LDA probability of the true class;
  S_vc (`log(class_pred_nuc)`): log Σ_c nuclear norm of class c's LDA probability rows.
The final score needs the zoo: NCTI = minmax_zoo(S_ncc) + minmax_zoo(S_seli) − minmax_zoo(S_vc).

`PCA(64)` has no `random_state`: sklearn's 'auto' solver picks an exact PCA for some shapes and
a randomized range finder (74 Gaussian test vectors, 7 or 4 power iterations) for others, drawn
from NumPy's global generator. The official fixture was produced under seed 0, so `prepare`
draws the test matrix from `RandomState(0)` exactly as sklearn does; we normalise the power
iterations by QR instead of sklearn's LU, which spans the same subspace, and return what
sklearn's `fit_transform` returns (U·S of the approximate SVD). Everything after the PCA
depends only on those projected samples up to rotation, and on the variances.
With these, all three components match the official fixture to ~1e-8 relative.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import linalg
from guidedrec_jax.scores import registry

COMPONENTS = ("ncti_ncc", "ncti_seli", "ncti_vc")
PCA_DIMS = 64
_OVERSAMPLES = 10  # sklearn's n_oversamples default.
_PCA_SEED = 0  # the global NumPy seed under which the official fixture was produced.
_LDA_TOL = 1e-4  # sklearn LinearDiscriminantAnalysis(tol=1e-4) rank cut.
_MIN_SHRINKAGE = 1e-10


def _uses_randomized_pca(num_samples: int, dim: int) -> bool:
  """sklearn 1.9's `svd_solver='auto'` choice for PCA(64) on dense [N, D]."""
  if dim <= 1000 and num_samples >= 10 * dim:
    return False  # "covariance_eigh"
  if max(num_samples, dim) <= 500:
    return False  # "full"
  return PCA_DIMS < 0.8 * min(num_samples, dim)


def prepare(num_samples: int, dim: int, num_classes: int) -> dict[str, np.ndarray]:
  """Checks shapes and draws sklearn's randomized-PCA test matrix when sklearn would use one.

  Raises:
    ValueError: min(N, D) < 64 (PCA(64) is undefined).
  """
  del num_classes
  if min(num_samples, dim) < PCA_DIMS:
    raise ValueError(f"NCTI projects features on {PCA_DIMS} principal components and needs "
                     f"N and D >= {PCA_DIMS}; got N={num_samples}, D={dim}")
  if not _uses_randomized_pca(num_samples, dim):
    return {}
  columns = dim if num_samples >= dim else num_samples  # sklearn transposes wide matrices
  test = np.random.RandomState(_PCA_SEED).normal(size=(columns, PCA_DIMS + _OVERSAMPLES))
  return {"test_matrix": test.astype(np.float32)}  # sklearn casts it to the float32 input


def _pca_projection(x: jax.Array, test_matrix: jax.Array | None):
  """Returns (x centred and projected on the top-64 subspace [N, 64], variances [64])."""
  n, d = x.shape
  centred = x - x.mean(axis=0)
  if test_matrix is None:
    if n >= d:
      values, vectors = jnp.linalg.eigh(centred.T @ centred)  # ascending
      projected = centred @ vectors[:, -PCA_DIMS:]
    else:
      values, vectors = jnp.linalg.eigh(centred @ centred.T)
      projected = vectors[:, -PCA_DIMS:] * jnp.sqrt(jnp.maximum(values[-PCA_DIMS:], 0.0))
    return projected, values[::-1][:PCA_DIMS] / (n - 1)
  matrix = centred.T if n < d else centred  # [rows, cols] as sklearn's `_randomized_svd`
  iterations = 7 if PCA_DIMS < 0.1 * min(n, d) else 4
  left, singular, right_t = linalg.randomized_svd(matrix, test_matrix, iterations, normalize=True)
  # `fit_transform` returns U·S of this approximate SVD. For a tall matrix U = basis·left, so
  # the result is X·V projected on the sampled range, not X·V itself.
  sample_side = right_t[:PCA_DIMS].T if n < d else left[:, :PCA_DIMS]  # [N, 64]
  return sample_side * singular[:PCA_DIMS], singular[:PCA_DIMS] ** 2 / (n - 1)


def _lda_svd(z, onehot, counts, means, max_components):
  """sklearn's LDA solver='svd': (projection [N, min(K−1, 64)], logits [N, K])."""
  n, k = onehot.shape
  priors = counts / n
  xbar = priors @ means  # [64]
  within = z - onehot @ means
  std = jnp.std(within, axis=0)
  std = jnp.where(std == 0, 1.0, std)
  # sklearn 1.9 scales by 1/N here (older releases used 1/(N − K)).
  _, s1, v1t = jnp.linalg.svd(within / std / jnp.sqrt(n), full_matrices=False)
  scalings = (v1t / std).T * jnp.where(s1 > _LDA_TOL, 1.0 / s1, 0.0)  # [64, 64]
  between = (jnp.sqrt(counts / (k - 1))[:, None] * (means - xbar)) @ scalings  # [K, 64]
  _, s2, v2t = jnp.linalg.svd(between, full_matrices=False)
  rank_mask = s2 > _LDA_TOL * s2[0]
  directions = scalings @ (v2t.T * rank_mask)  # [64, r]
  coef = (means - xbar) @ directions  # [K, r]
  logits = (z - xbar) @ directions @ coef.T - 0.5 * jnp.sum(coef**2, axis=1) + jnp.log(priors)
  return (z - xbar) @ directions[:, :max_components], logits


def _lda_eigen(z, onehot, counts, means, max_components, shrinkage):
  """sklearn's LDA solver='eigen' with a float shrinkage: (projection, logits [N, K])."""
  n = z.shape[0]
  shrink = lambda c: linalg.shrink_covariance(c, shrinkage)
  within_c = z - onehot @ means
  total_c = z - z.mean(axis=0)
  within = shrink(within_c.T @ within_c / n)  # Σ_c prior_c · shrunk cov_c, pooled
  total = shrink(total_c.T @ total_c / n)
  chol = jnp.linalg.cholesky(within)
  whiten = lambda m: jsl.solve_triangular(chol, m, lower=True)
  between_w = whiten(whiten(total - within).T)  # L⁻¹ S_b L⁻ᵀ
  values, vectors = jnp.linalg.eigh(between_w)
  directions = jsl.solve_triangular(chol.T, vectors[:, ::-1], lower=False)  # Vᵀ S_w V = I
  coef = jsl.cho_solve((chol, True), means.T).T  # means · S_w⁻¹, [K, 64]
  return z @ directions[:, :max_components], linalg.lda_logits(z, means, counts, coef)


def prepare_labels(labels: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
  """`ScoreSpec.prepare_labels`: {"class_rows": int32 [K, n_max]}, each class's row indices,
  padded with N (a zero row appended in the core); n_max is the largest class size."""
  order = np.argsort(labels, kind="stable")
  counts = np.bincount(labels, minlength=num_classes)
  rows = np.full((num_classes, counts.max()), labels.shape[0], np.int32)
  starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
  for label in range(num_classes):
    rows[label, :counts[label]] = order[starts[label]:starts[label] + counts[label]]
  return {"class_rows": rows}


def _nuclear_norms_per_class(probs: jax.Array, class_rows: jax.Array) -> jax.Array:
  """Σ_c ‖probs[y == c]‖_*, from each class's own rows (`prepare_labels`).

  Gathering the n_c rows of each class (zero rows pad to n_max and add zero singular values)
  costs Σ_c n_c·K² for the Grams instead of K·N·K² for masked full-N Grams, and each
  eigendecomposition is min(n_max, K)-sized.
  """
  padded = jnp.concatenate([probs, jnp.zeros((1, probs.shape[1]), probs.dtype)])
  blocks = padded[class_rows]  # [K, n_max, Kp]

  def class_norm(block):  # [n_max, Kp]
    gram = block @ block.T if block.shape[0] <= block.shape[1] else block.T @ block
    return jnp.sum(jnp.sqrt(jnp.maximum(jnp.linalg.eigvalsh(gram), 0.0)))
  # A loop, not a batched eigvalsh: jaxlib's batched LAPACK can deadlock on CPU (see zoo.py).
  return jnp.sum(jax.lax.map(class_norm, blocks))


def ncti_components_core(features, labels, num_classes, source_probs=None, test_matrix=None,
                          class_rows=None) -> jax.Array:
  """[S_ncc, S_seli, S_vc] of one model (unchecked; see the module docstring).

  `source_probs` is unused (the registry contract); `test_matrix` comes from `prepare` and
  `class_rows` (required) from `prepare_labels`.
  """
  if class_rows is None:
    raise ValueError("class_rows is required: pass prepare_labels(labels, K)['class_rows']")
  del source_probs
  x = features.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
  z, variances = _pca_projection(x, test_matrix)  # [N, 64], [64]
  onehot = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)  # [N, K]
  counts = onehot.sum(axis=0)
  means = (onehot.T @ z) / counts[:, None]  # [K, 64]
  max_components = min(num_classes - 1, PCA_DIMS)
  shrinkage = jnp.maximum(jnp.exp(-jnp.sum(variances[: PCA_DIMS // 2])), _MIN_SHRINKAGE)
  # One solver runs (a cond, not both and a select), as sklearn picks one.
  projection, logits = jax.lax.cond(
      shrinkage > _MIN_SHRINKAGE,
      lambda: _lda_eigen(z, onehot, counts, means, max_components, shrinkage),
      lambda: _lda_svd(z, onehot, counts, means, max_components))
  probs = jax.nn.softmax(logits, axis=1)
  seli = jnp.sum(jnp.linalg.svd(projection - projection.mean(axis=0), compute_uv=False))
  ncc = jnp.mean(jnp.sum(probs * onehot, axis=1))
  vc = jnp.log(_nuclear_norms_per_class(probs, class_rows))
  return jnp.stack([ncc, seli, vc])


def _component_core(index: int):
  def core(features, labels, num_classes, source_probs=None, test_matrix=None, class_rows=None):
    del source_probs
    return ncti_components_core(features, labels, num_classes, test_matrix=test_matrix,
                                class_rows=class_rows)[index]
  return core


for _index, _name in enumerate(COMPONENTS):
  registry.register(registry.ScoreSpec(
      name=_name, core=_component_core(_index), prepare=prepare, prepare_labels=prepare_labels,
      higher_is_better=_name != "ncti_vc"))

_ALL = registry.ScoreSpec(name="ncti_components", core=ncti_components_core, prepare=prepare,
                          prepare_labels=prepare_labels)


def ncti_components(features, labels) -> dict[str, float]:
  """NCTI's per-model components S_ncc, S_seli and S_vc (float64).

  Args:
    features: [N, D] floating-point features, N and D ≥ 64.
    labels: int [N] labels using every class 0..K-1.

  Returns:
    {"ncti_ncc": S_ncc, "ncti_seli": S_seli, "ncti_vc": S_vc}.

  Raises:
    ValueError: bad features or labels, or min(N, D) < 64.
  """
  return dict(zip(COMPONENTS, map(float, checked.compute(_ALL, features, labels))))


def min_max_across_zoo(components: Mapping[str, Sequence[float]], names: Sequence[str]
                       ) -> dict[str, np.ndarray]:
  """Min-max normalises each named component across the models of a zoo.

  A component equal for every model ranks none above another; it maps to 0 (the release
  would divide by zero).

  Args:
    components: name -> [M] values, one per model, in the same model order.
    names: the components to normalise.

  Returns:
    name -> [M] values in [0, 1].

  Raises:
    ValueError: a name is missing, lengths differ, fewer than 2 models or non-finite values.
  """
  missing = [name for name in names if name not in components]
  if missing:
    raise ValueError(f"components lacks {missing}; needs {list(names)}")
  arrays = {name: np.asarray(components[name], dtype=np.float64) for name in names}
  sizes = {name: a.shape for name, a in arrays.items()}
  if len(set(sizes.values())) != 1 or arrays[names[0]].ndim != 1:
    raise ValueError(f"components must be 1-D arrays of equal length, got shapes {sizes}")
  if arrays[names[0]].size < 2:
    raise ValueError("min-max normalisation across a zoo needs at least 2 models")
  scaled = {}
  for name, values in arrays.items():
    if not np.all(np.isfinite(values)):
      raise ValueError(f"components[{name!r}] contains NaN or infinite values")
    spread = values.max() - values.min()
    scaled[name] = (values - values.min()) / spread if spread > 0 else np.zeros_like(values)
  return scaled


def ncti_from_components(components: Mapping[str, Sequence[float]]) -> np.ndarray:
  """Final NCTI scores of a zoo: minmax(S_ncc) + minmax(S_seli) − minmax(S_vc).

  Args:
    components: {"ncti_ncc": [M], "ncti_seli": [M], "ncti_vc": [M]}, M ≥ 2 models.

  Returns:
    [M] NCTI scores in [−1, 2], higher is better.

  Raises:
    ValueError: as for `min_max_across_zoo`.
  """
  scaled = min_max_across_zoo(components, COMPONENTS)
  return scaled["ncti_ncc"] + scaled["ncti_seli"] - scaled["ncti_vc"]
