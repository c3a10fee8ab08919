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

The released label dissimilarity `1 − corrcoef(one_hot)` is not two-valued: numpy's GEMM
rounds identical one-hot rows to a correlation of 1 − 2.2e-16 for some classes and exactly 1
for others, and some different-class pairs an ulp apart, so Spearman ranks 3–4 tie groups
instead of 2. That, not the PCA, is why a two-valued reproduction was off by up to 0.7
points on shapes other than the fixtures (N=1200, D=256, K=12). By default
(`official_ties=True`) the groups are computed with numpy on the host exactly as released
(`official_label_groups`, once per label vector) and carried through the ranking; with
`official_ties=False` the exact two-valued dissimilarity (labels differ) is used. With the
ties, the shared fixtures agree to 2e-7 (main) and 9e-6 (small; float32 PCA there) instead
of ~1e-3, and sklearn's PCA + the released correlation to ~1e-9 in float64.

Only the feature dissimilarities are sorted (ties averaged, one sort of N(N−1)/2 values);
the label side's average ranks follow from the group sizes. Memory is O(N²). On CPU the cost
is that sort: each value and its label group are packed into one uint64 (`_compact_keys`),
which XLA sorts several times faster than floats with a carried operand (same ranks, same
result), and the upper triangle is folded out with slices instead of gathered
(`strict_upper_triangle`).
Precision: float64 (float32 requests too).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import checked, linalg, registry

DEFAULT_DIMS = 32
OVERSAMPLES = 10
SEED = 1919
MODES = ("randomized", "exact", "none")


def prepare_parc(num_samples: int, dim: int, num_classes: int, n_dims: int = DEFAULT_DIMS
                 ) -> dict[str, np.ndarray]:
  """Host-side Gaussian test matrix of sklearn's randomized PCA (`ScoreSpec.prepare`).

  Returns:
    {"test_matrix": float64 [cols, n + 10]}, cols = N if N < D else D (sklearn transposes
    wide matrices), n = min(n_dims, N, D).
  """
  del num_classes
  cols = num_samples if num_samples < dim else dim
  size = (cols, linalg.kept_dims(num_samples, dim, n_dims) + OVERSAMPLES)
  return {"test_matrix": np.random.RandomState(SEED).normal(size=size)}


MAX_LABEL_GROUPS = 16  # distinct label dissimilarities carried in the low 4 key bits
_GROUP_BITS = 4
# Keys of |x| in [2^-60, 4) span 62 binades of 2^52 doubles: < 2^58 (`_compact_keys`).
_TINY = 2.0 ** -60
_KEY_OFFSET = 1 << 58


def official_label_groups(labels) -> np.ndarray:
  """Dense ranks of the released label dissimilarity `1 − corrcoef(one_hot(labels))`, [N, N].

  The released code ranks these values, and numpy's GEMM rounding makes them more than
  two-valued: identical one-hot rows correlate to 1 − 2.2e-16 for some classes and exactly 1
  for others (the rounding depends on where the 1 sits in the summation order), and some
  different-class pairs differ by an ulp. Spearman ranks those groups apart, which moves
  the score by up to ~0.7 points (N=1200, K=12). This is the cause of the mismatch on shapes
  other than the fixtures, not the PCA (which agrees to ~1e-12). Computed here with numpy, as
  released, so the groups are the ones the official code sees on this machine.

  Args:
    labels: int [N] in 0..K-1.

  Returns:
    int8 [N, N]: group id of each pair's dissimilarity (0 = smallest) in the strict upper
    triangle; the rest is 0.

  Raises:
    ValueError: more than `MAX_LABEL_GROUPS` distinct values (never seen; K ≤ 1000 gives ≤ 4).
  """
  labels = np.asarray(labels)
  dissim = 1.0 - np.corrcoef(np.eye(int(labels.max()) + 1)[labels])
  upper = np.triu_indices(labels.shape[0], 1)
  values, inverse = np.unique(dissim[upper], return_inverse=True)
  if values.size > MAX_LABEL_GROUPS:
    raise ValueError(f"labels give {values.size} distinct official label dissimilarities; "
                     f"at most {MAX_LABEL_GROUPS} are supported")
  groups = np.zeros(dissim.shape, np.int8)
  groups[upper] = inverse
  return groups


def prepare_labels(labels: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
  """`ScoreSpec.prepare_labels`: the official label groups, shared by every model."""
  del num_classes
  return {"label_groups": official_label_groups(labels)}


def _group_ranks(groups: jax.Array, dtype: jnp.dtype) -> jax.Array:
  """Average 1-based rank of each group id [G] when `groups` [M] are ranked by id."""
  counts = jnp.zeros((MAX_LABEL_GROUPS,), dtype).at[groups].add(1.0)
  return jnp.cumsum(counts) - counts + (counts + 1.0) / 2.0


def _sort_ranks_exact(values: jax.Array, groups: jax.Array, keys: jax.Array
                      ) -> tuple[jax.Array, jax.Array]:
  """Average ranks of `values` [M] with `groups` carried, in one (slow) co-sort of floats."""
  del keys
  ordered, carried = jax.lax.sort((values, groups), num_keys=1)
  return _tie_averaged_ranks(ordered, values.dtype), carried


def _sort_ranks_packed(values: jax.Array, groups: jax.Array, keys: jax.Array
                       ) -> tuple[jax.Array, jax.Array]:
  """As `_sort_ranks_exact`, via a single-operand sort of uint64 keys (~8x faster on CPU).

  XLA on CPU sorts one integer operand with a plain comparison, but a float sort or a
  multi-operand sort goes through a generic comparator. Each value becomes an
  order-preserving integer (`_compact_keys`) shifted left to hold the group id in the low
  `_GROUP_BITS`: equal values stay equal (ties are exact), order is kept, and only the order
  of the groups inside a tie changes, which average ranks ignore.
  """
  ordered = jax.lax.sort((keys << _GROUP_BITS) | groups.astype(jnp.uint64))
  carried = (ordered & (MAX_LABEL_GROUPS - 1)).astype(groups.dtype)
  return _tie_averaged_ranks(ordered >> _GROUP_BITS, values.dtype), carried


def _compact_keys(values: jax.Array) -> jax.Array:
  """uint64 keys in [0, 2^59) whose order and ties are those of `values` (see `_packable`).

  A float's bits order its magnitude; counting doubles from `_TINY` instead of from 0 skips
  the 2^62 doubles below it, so every |x| in [2^-60, 4) gets a key below 2^58, mirrored
  around `_KEY_OFFSET` for the sign (−0 and +0 share the key of 0).
  """
  magnitude = jnp.abs(values.astype(jnp.float64))
  bits = jax.lax.bitcast_convert_type(magnitude, jnp.uint64)
  tiny = jax.lax.bitcast_convert_type(jnp.float64(_TINY), jnp.uint64)
  # Clamp before subtracting so the (unused) keys of rejected inputs cannot wrap around.
  count = jnp.where(magnitude == 0, jnp.uint64(0), jnp.maximum(bits, tiny) - tiny + 1)
  count = jnp.minimum(count, jnp.uint64(_KEY_OFFSET - 1))
  return jnp.where(values < 0, jnp.uint64(_KEY_OFFSET) - count, jnp.uint64(_KEY_OFFSET) + count)


def _packable(values: jax.Array) -> jax.Array:
  """Whether `_compact_keys(values)` is exact: every value is 0 or has |x| in [2^-60, 4).

  Always true for PARC: 1 − c with |c| ≤ 1 + O(n·eps) lies in [−δ, 2 + δ], and for c in
  [0.5, 2] the subtraction is exact (Sterbenz) with c a multiple of 2^-53, so a nonzero
  1 − c is at least 2^-53 in magnitude; for c < 0.5 it exceeds 0.5. The float co-sort
  fallback serves other callers only.
  """
  magnitude = jnp.abs(values)
  return jnp.all((magnitude == 0) | ((magnitude >= _TINY) & (magnitude < 4.0)))


def _tie_averaged_ranks(ordered: jax.Array, dtype: jnp.dtype) -> jax.Array:
  """1-based average ranks of a sorted array, in sorted order."""
  size = ordered.shape[0]
  position = jnp.arange(size)
  changes = ordered[1:] != ordered[:-1]
  first = jax.lax.cummax(jnp.where(jnp.concatenate([jnp.array([True]), changes]), position, 0))
  last = jax.lax.cummin(
      jnp.where(jnp.concatenate([changes, jnp.array([True])]), position, size - 1), reverse=True)
  return (first + last).astype(dtype) / 2.0 + 1.0


def spearman_with_groups(values: jax.Array, groups: jax.Array) -> jax.Array:
  """Spearman ρ between finite `values` [M] and group ids `groups` [M], ties averaged.

  `groups` (ints in 0..15) is the dense rank of a variable with few distinct values (PARC's
  label dissimilarity): its average ranks are a function of the group, computed from the
  group sizes, so only `values` is sorted, with the groups carried through that one sort.
  The packed-key sort serves every PARC input (see `_packable`); the float co-sort only keeps
  the result exact for other values (under `vmap` both branches run).
  """
  groups = groups.astype(jnp.int32)
  ranks, carried = jax.lax.cond(_packable(values), _sort_ranks_packed, _sort_ranks_exact,
                                values, groups, _compact_keys(values))
  label_ranks = _group_ranks(groups, values.dtype)[carried]
  ranks, label_ranks = ranks - jnp.mean(ranks), label_ranks - jnp.mean(label_ranks)
  denom = jnp.sqrt(jnp.sum(ranks * ranks) * jnp.sum(label_ranks * label_ranks))
  # A constant side (all ties, or one class) carries no ranking information: ρ = 0, not NaN.
  return jnp.where(denom > 0, jnp.sum(ranks * label_ranks) / jnp.where(denom > 0, denom, 1.0),
                   0.0)


def spearman_with_indicator(values: jax.Array, indicator: jax.Array) -> jax.Array:
  """Spearman ρ between finite `values` [M] and a 0/1 `indicator` [M] (two groups)."""
  return spearman_with_groups(values, indicator)


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


def parc_correlation(reduced: jax.Array, labels: jax.Array,
                     label_groups: jax.Array | None = None) -> jax.Array:
  """100 × Spearman ρ between the row-dissimilarities of `reduced` [N, n] and of the labels.

  Args:
    reduced: [N, n] (PCA-reduced) features.
    labels: [N] int32.
    label_groups: int [N, N] from `official_label_groups` to rank the label dissimilarity
      as released (with numpy's rounding ties); None ranks the exact two-valued one.
  """
  std = jnp.std(reduced, axis=0)
  standard = (reduced - jnp.mean(reduced, axis=0)) / jnp.where(std > 0, std, 1.0)
  rows = standard - jnp.mean(standard, axis=1, keepdims=True)
  norms = jnp.linalg.norm(rows, axis=1, keepdims=True)
  rows = rows / jnp.where(norms > 0, norms, 1.0)  # a constant row correlates 0 with all
  feature_dissim = 1.0 - strict_upper_triangle(rows @ rows.T)
  if label_groups is None:
    label_groups = labels[:, None] != labels[None, :]
  return 100.0 * spearman_with_groups(feature_dissim, strict_upper_triangle(label_groups))


def parc_core(features: jax.Array, labels: jax.Array, num_classes: int,
              source_probs: jax.Array | None = None, *, mode: str = "randomized",
              n_dims: int = DEFAULT_DIMS, test_matrix: jax.Array | None = None,
              label_groups: jax.Array | None = None) -> jax.Array:
  """PARC, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static; unused beyond the contract).
    source_probs: unused.
    mode: "randomized" (official), "exact" or "none".
    n_dims: PCA dimensions.
    test_matrix: [cols, n + 10] from `prepare_parc`; required by "randomized".
    label_groups: int [N, N] from `prepare_labels` (the released label ties); None ranks
      the exact two-valued label dissimilarity.

  Returns:
    scalar in [-100, 100]; higher is better.
  """
  del num_classes, source_probs
  if mode == "randomized":
    reduced = linalg.randomized_pca(features, test_matrix, n_dims)
  elif mode == "exact":
    reduced = linalg.exact_pca(features, n_dims)
  else:
    reduced = features
  return parc_correlation(reduced, labels, label_groups)


def parc(features, labels, mode: str = "randomized", n_dims: int = DEFAULT_DIMS,
         official_ties: bool = True) -> float:
  """Checked PARC.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    mode: "randomized" (as released), "exact" or "none" (no PCA).
    n_dims: PCA dimensions (≥ 1; clamped to min(N, D)).
    official_ties: rank the label dissimilarity with the released code's rounding ties
      (default); False ranks the exact two-valued one.

  Returns:
    Python float in [-100, 100]; higher is better.

  Raises:
    ValueError: bad features, labels, mode or n_dims (the message names the argument).
  """
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  if not (isinstance(n_dims, int) and n_dims >= 1):
    raise ValueError(f"n_dims must be a positive int, got {n_dims!r}")
  spec = _SPECS[(mode == "randomized", official_ties)]
  return checked.score(spec, features, labels, mode=mode, n_dims=n_dims)


def _prepare(num_samples: int, dim: int, num_classes: int, *, mode: str, n_dims: int
             ) -> dict[str, np.ndarray]:
  return prepare_parc(num_samples, dim, num_classes, n_dims) if mode == "randomized" else {}


_STATIC = ("mode", "n_dims")
PARC = registry.register(registry.ScoreSpec(
    name="parc", core=parc_core, prepare=prepare_parc, prepare_labels=prepare_labels,
    static_argnames=_STATIC))
# Not pad-invariant: 1 − corrcoef centres each row over its columns, so when rank < n_dims
# the padded model gains (noise) components and the row means change.
PARC_EXACT = registry.register(registry.ScoreSpec(
    name="parc_exact", core=functools.partial(parc_core, mode="exact"),
    prepare_labels=prepare_labels))
# Unregistered specs behind `parc(...)`'s options: (randomized?, official ties?) -> spec.
_SPECS = {
    (randomized, ties): registry.ScoreSpec(
        name="parc", core=parc_core, prepare=_prepare if randomized else None,
        prepare_labels=prepare_labels if ties else None, static_argnames=_STATIC,
        prepare_options=("mode", "n_dims"))
    for randomized in (True, False) for ties in (True, False)}
