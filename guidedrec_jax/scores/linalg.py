"""Linear algebra shared by the scores: PCA (randomized as sklearn, and exact), class spectra,
and the shared-covariance (LDA) classifier.

Every function is pure `jnp`, traceable under `jax.vmap`/`lax.map`, and computes in the dtype
of its input. Scores import from here instead of from each other: PARC and GBC reduce with
`randomized_pca` / `exact_pca`, NCTI reuses `randomized_svd`, LogME and H-score share
`class_spectrum`, and SFDA, NCTI and ETran build their LDA classifiers on `class_statistics`,
`shrink_covariance` and `lda_logits`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def kept_dims(num_samples: int, dim: int, n_dims: int) -> int:
  """Components a PCA of [N, D] can return: min(n_dims, N, D)."""
  return min(n_dims, num_samples, dim)


def flip_signs(scores: jax.Array, components: jax.Array) -> jax.Array:
  """sklearn's `svd_flip(u_based_decision=False)`: scores [N, n] times the sign of the
  largest-|.| entry of each component [n, D]."""
  pick = jnp.argmax(jnp.abs(components), axis=1)
  signs = jnp.sign(jnp.take_along_axis(components, pick[:, None], axis=1))[:, 0]
  return scores * signs


def randomized_svd(matrix: jax.Array, test_matrix: jax.Array, power_iterations: int,
                   normalize: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
  """sklearn's `randomized_svd` on a fixed Gaussian test matrix, in `jnp`.

  Args:
    matrix: [rows, cols] (centred, already transposed as sklearn does for wide inputs).
    test_matrix: [cols, l] Gaussian test matrix drawn on the host.
    power_iterations: power iterations of the range finder.
    normalize: QR-orthonormalise after every product, as sklearn's "auto" normaliser does
      beyond 2 iterations (it uses LU there; both span the same range); sklearn uses none for
      1–2 iterations.

  Returns:
    (left [rows, l], singular values [l], right_t [l, cols]) of the approximate SVD.
  """
  basis = test_matrix.astype(matrix.dtype)
  for _ in range(power_iterations):
    if normalize:
      basis, _ = jnp.linalg.qr(matrix @ basis)
      basis, _ = jnp.linalg.qr(matrix.T @ basis)
    else:
      basis = matrix.T @ (matrix @ basis)
  basis, _ = jnp.linalg.qr(matrix @ basis)  # [rows, l]
  small_u, singular, right_t = jnp.linalg.svd(basis.T @ matrix, full_matrices=False)
  return basis @ small_u, singular, right_t


def randomized_pca(features: jax.Array, test_matrix: jax.Array, n_dims: int,
                   power_iterations: int = 1) -> jax.Array:
  """sklearn's `PCA(n_dims, svd_solver='randomized', iterated_power=p).fit_transform`.

  Reproduced step by step (it agrees with sklearn to ~1e-12 in float64): centre, transpose
  when N < D, range finder from `test_matrix` (no normaliser for p ≤ 2, as sklearn's
  "auto"), QR, SVD of the projection, `svd_flip` on the components.

  Args:
    features: [N, D] float.
    test_matrix: [cols, n + oversamples], cols = N if N < D else D, drawn as sklearn does
      (`RandomState(seed).normal(size=...)`).
    n_dims: components requested (clamped to min(N, D)).
    power_iterations: sklearn's `iterated_power`.

  Returns:
    [N, n] principal-component scores U·S.
  """
  num_samples, dim = features.shape
  keep = kept_dims(num_samples, dim, n_dims)
  centred = features - jnp.mean(features, axis=0)
  transpose = num_samples < dim
  matrix = centred.T if transpose else centred  # [rows, cols]
  left, values, small_vt = randomized_svd(matrix, test_matrix, power_iterations,
                                          normalize=power_iterations > 2)
  if transpose:
    scores, components = small_vt[:keep].T, left[:, :keep].T
  else:
    scores, components = left[:, :keep], small_vt[:keep]
  return flip_signs(scores * values[:keep], components)


def exact_pca(features: jax.Array, n_dims: int) -> jax.Array:
  """Exact PCA scores [N, n] as sklearn's full-SVD PCA (descending, same signs), from one
  eigendecomposition of the smaller Gram matrix."""
  num_samples, dim = features.shape
  keep = kept_dims(num_samples, dim, n_dims)
  centred = features - jnp.mean(features, axis=0)
  if num_samples <= dim:
    eigenvalues, left = jnp.linalg.eigh(centred @ centred.T)  # ascending
    scores = left[:, :-keep - 1:-1] * jnp.sqrt(jnp.maximum(eigenvalues[:-keep - 1:-1], 0.0))
    return flip_signs(scores, scores.T @ centred)  # rows ∝ Vt: same signs
  _, right = jnp.linalg.eigh(centred.T @ centred)
  components = right[:, :-keep - 1:-1].T
  return flip_signs(centred @ components.T, components)


class ClassSpectrum(NamedTuple):
  """Spectrum of F shared by all classes.

  Attributes:
    eigenvalues: [k] eigenvalues σ = s² of the Gram matrix, k = min(N, D); those below the
      rank tolerance max(N, D)·eps·σ_max are set to exactly 0.
    sq_coords: [k, K] (uᵢᵀ y_c)², the squared coordinate of class indicator y_c on left
      singular vector uᵢ; 0 on the numerically-null space when decomposing FᵀF (D < N).
    kept: [k] bool, eigenvalues above the rank tolerance.
  """
  eigenvalues: jax.Array
  sq_coords: jax.Array
  kept: jax.Array


def class_spectrum(features: jax.Array, labels: jax.Array, num_classes: int) -> ClassSpectrum:
  """Eigendecomposes the smaller Gram matrix of `features` and projects the class indicators.

  Args:
    features: [N, D] float array.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).

  Returns:
    `ClassSpectrum`; no N×D SVD and no per-class decomposition is formed.
  """
  num_samples, dim = features.shape
  small_gram = features @ features.T if num_samples <= dim else features.T @ features
  eigenvalues, vectors = jnp.linalg.eigh(small_gram)  # [k], [k, k] ascending
  tol = max(num_samples, dim) * jnp.finfo(features.dtype).eps * eigenvalues[-1]
  kept = eigenvalues > tol
  eigenvalues = jnp.where(kept, eigenvalues, 0.0)
  if num_samples <= dim:
    coords = jax.ops.segment_sum(vectors, labels, num_segments=num_classes)  # [K, N]
    return ClassSpectrum(eigenvalues, coords.T ** 2, kept)
  class_sums = jax.ops.segment_sum(features, labels, num_segments=num_classes)  # [K, D]
  # uᵢᵀy_c = vᵢᵀFᵀy_c / sᵢ, so (uᵢᵀy_c)² = (class_sum_c · vᵢ)² / σᵢ on the retained spectrum.
  projected = (class_sums @ vectors).T ** 2  # [D, K]
  safe = jnp.where(kept, eigenvalues, 1.0)
  return ClassSpectrum(eigenvalues, jnp.where(kept[:, None], projected / safe[:, None], 0.0),
                       kept)


def class_means(x: jax.Array, onehot: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(counts [K], class means [K, D]) of x [N, D] with one-hot labels [N, K]."""
  counts = onehot.sum(axis=0)
  return counts, (onehot.T @ x) / counts[:, None]


def class_statistics(x: jax.Array, onehot: jax.Array
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(counts [K], class means [K, D], pooled within-class covariance [D, D]) of x [N, D].

  The covariance is Σ_c prior_c · cov_c with population (1/N) normalisation, as sklearn's
  LDA and the released SFDA use.
  """
  counts, means = class_means(x, onehot)
  centred = x - onehot @ means
  return counts, means, centred.T @ centred / x.shape[0]


def shrink_covariance(covariance: jax.Array, shrinkage: jax.Array | float) -> jax.Array:
  """(1 − s)·C + s·tr(C)/D·I, sklearn's `shrunk_covariance`."""
  dim = covariance.shape[0]
  return ((1.0 - shrinkage) * covariance
          + (shrinkage * jnp.trace(covariance) / dim) * jnp.eye(dim, dtype=covariance.dtype))


def lda_logits(x: jax.Array, means: jax.Array, counts: jax.Array, coef: jax.Array
               ) -> jax.Array:
  """Logits [N, K] of the shared-covariance Gaussian (LDA) classifier.

  Args:
    x: [N, D] samples.
    means: [K, D] class means.
    counts: [K] class sizes (priors = counts / N).
    coef: [K, D] = means · Σ⁻¹ for the shared covariance Σ (means itself for Σ = I).

  Returns:
    x·coefᵀ − ½·⟨means, coef⟩ + log prior, per class.
  """
  return x @ coef.T - 0.5 * jnp.sum(means * coef, axis=1) + jnp.log(counts / x.shape[0])
