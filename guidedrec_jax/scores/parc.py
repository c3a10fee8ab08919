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
ranked (ties averaged, one sort of N(N−1)/2 values). Memory is O(N²). On CPU the cost is that
sort: the values and the indicator are packed into one unsigned integer per pair, which XLA
sorts several times faster than floats with a carried operand (same ranks, same result), and
the upper triangle is folded out with slices instead of gathered (`strict_upper_triangle`).

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


def randomized_svd(matrix: jax.Array, test_matrix: jax.Array, power_iterations: int,
                   normalize: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
  """sklearn's `randomized_svd` on a fixed Gaussian test matrix, in `jnp`.

  Args:
    matrix: [rows, cols] (centred, already transposed as sklearn does for wide inputs).
    test_matrix: [cols, l] Gaussian test matrix drawn on the host.
    power_iterations: power iterations of the range finder.
    normalize: QR-orthonormalise after every product, as sklearn's "auto" normaliser does
      beyond 2 iterations; sklearn uses none for 1–2 iterations.

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
  left, values, small_vt = randomized_svd(matrix, test_matrix, power_iterations=1,
                                          normalize=False)
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


def _sort_ranks_exact(values: jax.Array, indicator: jax.Array, keys: jax.Array
                      ) -> tuple[jax.Array, jax.Array]:
  """Average ranks of `values` [M] and `indicator` [M] in one (slow) co-sort of floats."""
  del keys
  ordered, carried = jax.lax.sort((values, indicator), num_keys=1)
  return _tie_averaged_ranks(ordered, values.dtype), carried


def _sort_ranks_packed(values: jax.Array, indicator: jax.Array, keys: jax.Array
                       ) -> tuple[jax.Array, jax.Array]:
  """As `_sort_ranks_exact`, via a single-operand sort of unsigned keys (~8x faster on CPU).

  XLA on CPU sorts one integer operand with a plain comparison, but a float sort or a
  multi-operand sort goes through a generic comparator. Each value becomes its
  order-preserving unsigned bit pattern minus the smallest one, shifted left to hold the
  indicator in the lowest bit: equal values stay equal (ties are exact), order is kept, and
  only the order of the indicator inside a tie changes, which average ranks ignore. Valid only
  when the keys (`_ordered_bits(values)`) span less than half the unsigned range (`_packable`).
  """
  ordered = jax.lax.sort(_packed_keys(keys, indicator))
  carried = (ordered & 1).astype(values.dtype)
  return _tie_averaged_ranks(ordered >> 1, values.dtype), carried


def _ordered_bits(values: jax.Array) -> jax.Array:
  """Unsigned keys whose order is the float order of `values` (finite, −0 merged with +0)."""
  unsigned = jnp.uint64 if values.dtype.itemsize == 8 else jnp.uint32
  sign = unsigned(1 << (8 * values.dtype.itemsize - 1))
  # −0.0 == +0.0 as floats but not as bit patterns; a where, since XLA may fold x + 0.
  bits = jax.lax.bitcast_convert_type(jnp.where(values == 0, 0.0, values).astype(values.dtype),
                                      unsigned)
  # Non-negative floats order as their bits with the sign set; negatives in reverse.
  return jnp.where(bits & sign, ~bits, bits | sign)


def _packable(keys: jax.Array) -> jax.Array:
  """Whether the span of `keys` (`_ordered_bits`) leaves the lowest bit free for the indicator.

  True whenever the values lie in (−1, 4): the span is then at most bits(|min|) + bits(max)
  + 1 < 0x3FF0… + 0x4010… = 2^63 (float64; 0x3F80… + 0x4080… = 2^31 in float32). PARC's
  1 − cos with |cos| ≤ 1 + O(n·eps) lies in [−δ, 2 + δ] (span 0x7CD… for δ = 2^−50), so the
  float co-sort fallback is for other callers only.
  """
  span = jnp.max(keys) - jnp.min(keys)
  return (span >> (8 * keys.dtype.itemsize - 1)) == 0


def _packed_keys(keys: jax.Array, indicator: jax.Array) -> jax.Array:
  """(key − min key) · 2 + indicator; exact when `_packable(keys)`."""
  keys = keys - jnp.min(keys)
  return (keys << 1) | indicator.astype(keys.dtype)


def _tie_averaged_ranks(ordered: jax.Array, dtype: jnp.dtype) -> jax.Array:
  """1-based average ranks of a sorted array, in sorted order."""
  size = ordered.shape[0]
  position = jnp.arange(size)
  changes = ordered[1:] != ordered[:-1]
  first = jax.lax.cummax(jnp.where(jnp.concatenate([jnp.array([True]), changes]), position, 0))
  last = jax.lax.cummin(
      jnp.where(jnp.concatenate([changes, jnp.array([True])]), position, size - 1), reverse=True)
  return (first + last).astype(dtype) / 2.0 + 1.0


def spearman_with_indicator(values: jax.Array, indicator: jax.Array) -> jax.Array:
  """Spearman ρ between finite `values` [M] and a 0/1 `indicator` [M], ties averaged.

  The average ranks of a two-valued variable are an affine function of it, so ρ is the
  Pearson correlation of the ranks of `values` with the indicator itself. Both are carried
  through one sort; ranks stay in sorted order since the correlation ignores the order.
  The packed-key sort serves every PARC input (see `_packable`); the float co-sort only keeps
  the result exact for values spread wider than that (under `vmap` both branches run).
  """
  keys = _ordered_bits(values)
  ranks, carried = jax.lax.cond(_packable(keys), _sort_ranks_packed, _sort_ranks_exact,
                                values, indicator, keys)
  ranks, carried = ranks - jnp.mean(ranks), carried - jnp.mean(carried)
  denom = jnp.sqrt(jnp.sum(ranks * ranks) * jnp.sum(carried * carried))
  # A constant side (all ties, or one class) carries no ranking information: ρ = 0, not NaN.
  return jnp.where(denom > 0, jnp.sum(ranks * carried) / jnp.where(denom > 0, denom, 1.0), 0.0)


def strict_upper_triangle(matrix: jax.Array) -> jax.Array:
  """The N(N−1)/2 entries above the diagonal of `matrix` [N, N], in a fixed but unusual order.

  Spearman ρ ignores the order of the pairs, so instead of a gather with `triu_indices`
  (~0.1 s per N=2000 matrix on one CPU core) the triangle is folded into a [h, w] rectangle
  with slices and reshapes only: row r < h holds row r's N−1−r upper entries on the left and
  the r (N even) or r + 1 (N odd) upper entries of partner row N−1−r (N−2−r) on the right.
  Any two matrices of the same size fold in the same order, so pairs stay aligned.
  """
  size = matrix.shape[0]
  odd = size % 2
  width = size if odd else size - 1
  height = size * (size - 1) // 2 // max(width, 1)
  # Row r's upper entries start at flat index r·N + r + 1: a stride of N + 1 from offset 1.
  flat = jnp.concatenate([matrix.reshape(-1), jnp.zeros((size + 1,), matrix.dtype)])
  left = flat[1:1 + height * (size + 1)].reshape(height, size + 1)[:, :width]
  # The partner row's upper entries end at column N − 1, so they start at column 1 − odd
  # of the flipped rows, one static slice.
  partner = matrix[size - 1 - odd - height + 1:size - odd][::-1, 1 - odd:1 - odd + width]
  column = jnp.arange(width)[None, :]
  row = jnp.arange(height)[:, None]
  return jnp.where(column < size - 1 - row, left, partner).reshape(-1)


def parc_correlation(reduced: jax.Array, labels: jax.Array) -> jax.Array:
  """100 × Spearman ρ between the row-dissimilarities of `reduced` [N, n] and of the labels."""
  std = jnp.std(reduced, axis=0)
  standard = (reduced - jnp.mean(reduced, axis=0)) / jnp.where(std > 0, std, 1.0)
  rows = standard - jnp.mean(standard, axis=1, keepdims=True)
  norms = jnp.linalg.norm(rows, axis=1, keepdims=True)
  rows = rows / jnp.where(norms > 0, norms, 1.0)  # a constant row correlates 0 with all
  feature_dissim = 1.0 - strict_upper_triangle(rows @ rows.T)
  label_dissim = strict_upper_triangle(labels[:, None] != labels[None, :]).astype(reduced.dtype)
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
