"""PARC (Bolya et al. 2021): Spearman correlation of feature and label dissimilarity matrices.

As released (dbolya/parc, n_dims=32): reduce the features with sklearn's
`PCA(32, svd_solver='randomized', random_state=1919, iterated_power=1)`, standardise each
column, take 1 − corrcoef of the rows for the features and for the one-hot labels, and return
100 × Spearman ρ of the strict upper triangles.

Three reductions:
  * "randomized" (registered as "parc", the default): reproduces sklearn's randomized range
    finder step by step on the centred features — transpose when N < D, Gaussian test matrix
    `RandomState(1919).normal(size=(cols, n + 10))` made on the host (`prepare_parc`), one
    power iteration without normaliser (sklearn's "auto" for n_iter ≤ 2), QR, SVD of the
    projection, sign flip so the largest-|.| entry of each row of Vt is positive. The result
    depends on that random matrix: exact PCA gives 19.5 instead of 10.9 on fixture `main`.
  * "exact" ("parc_exact"): top-n principal components from one eigendecomposition of the
    smaller Gram matrix, with the same sign rule (as sklearn's full-SVD PCA).
  * "none": no reduction.

The label dissimilarity takes two values (same class or not), so its Spearman ranks are an
affine function of the "different class" indicator; only the feature dissimilarities are
ranked (ties averaged, one sort of N(N−1)/2 values). Memory is O(N²).

Agreement with the official code is ~1e-3 absolute (on the ×100 scale), not better: numpy's
`corrcoef` of identical one-hot rows returns 1 − 1.1e-16 for some class pairs and exactly 1
for others (GEMM rounding), which splits the official "same class" ties into arbitrary
groups; we use the exact two-valued label dissimilarity.
Precision: float64 (float32 requests too).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import checks, registry

DEFAULT_DIMS = 32
OVERSAMPLES = 10
SEED = 1919
MODES = ("randomized", "exact", "none")


def _kept_dims(num_samples: int, dim: int, n_dims: int) -> int:
  return min(n_dims, num_samples, dim)


def prepare_parc(num_samples: int, dim: int, num_classes: int, n_dims: int = DEFAULT_DIMS
                 ) -> dict[str, np.ndarray]:
  """Host-side Gaussian test matrix of sklearn's randomized PCA (`ScoreSpec.prepare`).

  Returns:
    {"test_matrix": float64 [cols, n + 10]}, cols = N if N < D else D (sklearn transposes
    wide matrices), n = min(n_dims, N, D).
  """
  del num_classes
  cols = num_samples if num_samples < dim else dim
  size = (cols, _kept_dims(num_samples, dim, n_dims) + OVERSAMPLES)
  return {"test_matrix": np.random.RandomState(SEED).normal(size=size)}


def _flip_signs(scores: jax.Array, components: jax.Array) -> jax.Array:
  """Multiplies scores [N, n] by the sign of the largest-|.| entry of each component [n, D]."""
  pick = jnp.argmax(jnp.abs(components), axis=1)
  signs = jnp.sign(jnp.take_along_axis(components, pick[:, None], axis=1))[:, 0]
  return scores * signs


def randomized_pca(features: jax.Array, test_matrix: jax.Array, n_dims: int) -> jax.Array:
  """sklearn's `PCA(svd_solver='randomized', iterated_power=1).fit_transform`, in `jnp`.

  Args:
    features: [N, D] float.
    test_matrix: [cols, n + 10] from `prepare_parc`.
    n_dims: components requested (clamped to min(N, D)).

  Returns:
    [N, n] principal-component scores U·S.
  """
  num_samples, dim = features.shape
  keep = _kept_dims(num_samples, dim, n_dims)
  centred = features - jnp.mean(features, axis=0)
  transpose = num_samples < dim
  matrix = centred.T if transpose else centred  # [rows, cols]
  sample = matrix.T @ (matrix @ test_matrix)
  basis, _ = jnp.linalg.qr(matrix @ sample)  # [rows, n + 10]
  small_u, values, small_vt = jnp.linalg.svd(basis.T @ matrix, full_matrices=False)
  left = basis @ small_u
  if transpose:
    scores, components = small_vt[:keep].T, left[:, :keep].T
  else:
    scores, components = left[:, :keep], small_vt[:keep]
  return _flip_signs(scores * values[:keep], components)


def exact_pca(features: jax.Array, n_dims: int) -> jax.Array:
  """Exact PCA scores [N, n] as sklearn's full-SVD PCA (descending, same signs)."""
  num_samples, dim = features.shape
  keep = _kept_dims(num_samples, dim, n_dims)
  centred = features - jnp.mean(features, axis=0)
  if num_samples <= dim:
    eigenvalues, left = jnp.linalg.eigh(centred @ centred.T)  # ascending
    scores = left[:, :-keep - 1:-1] * jnp.sqrt(jnp.maximum(eigenvalues[:-keep - 1:-1], 0.0))
    return _flip_signs(scores, scores.T @ centred)  # rows ∝ Vt: same signs
  _, right = jnp.linalg.eigh(centred.T @ centred)
  components = right[:, :-keep - 1:-1].T
  return _flip_signs(centred @ components.T, components)


def spearman_with_indicator(values: jax.Array, indicator: jax.Array) -> jax.Array:
  """Spearman ρ between `values` [M] and a 0/1 `indicator` [M], ties averaged.

  The average ranks of a two-valued variable are an affine function of it, so ρ is the
  Pearson correlation of the ranks of `values` with the indicator itself. Both are carried
  through one sort; ranks stay in sorted order since the correlation ignores the order.
  """
  size = values.shape[0]
  position = jnp.arange(size)
  ordered, carried = jax.lax.sort((values, indicator), num_keys=1)
  changes = ordered[1:] != ordered[:-1]
  first = jax.lax.cummax(jnp.where(jnp.concatenate([jnp.array([True]), changes]), position, 0))
  last = jax.lax.cummin(
      jnp.where(jnp.concatenate([changes, jnp.array([True])]), position, size - 1), reverse=True)
  ranks = (first + last).astype(values.dtype) / 2.0 + 1.0
  ranks, carried = ranks - jnp.mean(ranks), carried - jnp.mean(carried)
  denom = jnp.sqrt(jnp.sum(ranks * ranks) * jnp.sum(carried * carried))
  # A constant side (all ties, or one class) carries no ranking information: ρ = 0, not NaN.
  return jnp.where(denom > 0, jnp.sum(ranks * carried) / jnp.where(denom > 0, denom, 1.0), 0.0)


def parc_correlation(reduced: jax.Array, labels: jax.Array) -> jax.Array:
  """100 × Spearman ρ between the row-dissimilarities of `reduced` [N, n] and of the labels."""
  num_samples = reduced.shape[0]
  std = jnp.std(reduced, axis=0)
  standard = (reduced - jnp.mean(reduced, axis=0)) / jnp.where(std > 0, std, 1.0)
  rows = standard - jnp.mean(standard, axis=1, keepdims=True)
  norms = jnp.linalg.norm(rows, axis=1, keepdims=True)
  rows = rows / jnp.where(norms > 0, norms, 1.0)  # a constant row correlates 0 with all
  upper = jnp.triu_indices(num_samples, 1)
  feature_dissim = 1.0 - (rows @ rows.T)[upper]
  label_dissim = (labels[:, None] != labels[None, :])[upper].astype(reduced.dtype)
  return 100.0 * spearman_with_indicator(feature_dissim, label_dissim)


def parc_core(features: jax.Array, labels: jax.Array, num_classes: int,
              source_probs: jax.Array | None = None, *, mode: str = "randomized",
              n_dims: int = DEFAULT_DIMS, test_matrix: jax.Array | None = None) -> jax.Array:
  """PARC, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static; unused beyond the contract).
    source_probs: unused.
    mode: "randomized" (official), "exact" or "none".
    n_dims: PCA dimensions.
    test_matrix: [cols, n + 10] from `prepare_parc`; required by "randomized".

  Returns:
    scalar in [-100, 100]; higher is better.
  """
  del num_classes, source_probs
  if mode == "randomized":
    reduced = randomized_pca(features, test_matrix, n_dims)
  elif mode == "exact":
    reduced = exact_pca(features, n_dims)
  else:
    reduced = features
  return parc_correlation(reduced, labels)


_parc_jit = jax.jit(parc_core, static_argnames=("num_classes", "mode", "n_dims"))


def parc(features, labels, mode: str = "randomized", n_dims: int = DEFAULT_DIMS) -> float:
  """Checked PARC.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    mode: "randomized" (as released), "exact" or "none" (no PCA).
    n_dims: PCA dimensions (≥ 1; clamped to min(N, D)).

  Returns:
    Python float in [-100, 100]; higher is better.

  Raises:
    ValueError: bad features, labels, mode or n_dims (the message names the argument).
  """
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  if not (isinstance(n_dims, int) and n_dims >= 1):
    raise ValueError(f"n_dims must be a positive int, got {n_dims!r}")
  features = checks.check_features(features)
  labels, num_classes = checks.check_labels(labels, features.shape[0])
  prepared = (prepare_parc(*features.shape, num_classes, n_dims=n_dims)
              if mode == "randomized" else {})
  with registry.precision(True):
    return float(_parc_jit(jnp.asarray(features, jnp.float64), jnp.asarray(labels),
                           num_classes=num_classes, mode=mode, n_dims=n_dims,
                           **{k: jnp.asarray(v) for k, v in prepared.items()}))


registry.register(registry.ScoreSpec(name="parc", core=parc_core, prepare=prepare_parc))
# Not pad-invariant: 1 − corrcoef centres each row over its columns, so when rank < n_dims
# the padded model gains (noise) components and the row means change.
registry.register(registry.ScoreSpec(
    name="parc_exact", core=functools.partial(parc_core, mode="exact")))
