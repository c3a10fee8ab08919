"""GBC (Pándy et al. 2022): Gaussian Bhattacharyya coefficient between target classes.

Transcribed from Google's reference (`get_gbc_score`): project the features on their top
`n_dims` = 64 principal components (exact PCA, clamped to min(N, D)), fit a Gaussian per
class (mean, population variance floored at 1e-4; "spherical" averages the variance over
dimensions, "diagonal" keeps it per dimension) and return −Σ over ordered class pairs of
exp(−Bhattacharyya distance). In the spherical form the reference sums log-variances over a
scalar, i.e. without the factor n_dims; we keep that for comparability.

PCA (`linalg.exact_pca`) is one eigendecomposition of the smaller Gram matrix. The
diagonal form is unchanged by zero-padding the features (padded null-space components have
floored variance and cancel); the spherical one is not (it averages over the components). The
fixture `reimpl.gbc_google(...)` ran sklearn's full-SVD PCA in float32; our float64 PCA
differs by ≤ 3.4e-6 relative (diagonal) and ≤ 5e-7 (spherical): the float32 PCA's own error.
Precision: always float64 (float32 requests too).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import checked, registry
from guidedrec_jax.scores.linalg import exact_pca

DEFAULT_DIMS = 64
VARIANCE_FLOOR = 1e-4
_ROW_BATCH = 64  # class rows per step of the pairwise loop: O(64·K·n_dims) memory


def _bhattacharyya_row(mean_a: jax.Array, var_a: jax.Array, means: jax.Array,
                       variances: jax.Array) -> jax.Array:
  """exp(−Bhattacharyya distance) of class a ([d], [d] or [1]) to every class ([K, d]); [K]."""
  avg = 0.5 * (var_a + variances)  # [K, d] (d = 1 when spherical)
  mahalanobis = jnp.sum((means - mean_a) ** 2 / avg, axis=1) / 8.0
  log_terms = 0.5 * (jnp.sum(jnp.log(avg), axis=1) - 0.5 * jnp.sum(jnp.log(var_a))
                     - 0.5 * jnp.sum(jnp.log(variances), axis=1))
  return jnp.exp(-(mahalanobis + log_terms))


def gbc_core(features: jax.Array, labels: jax.Array, num_classes: int,
             source_probs: jax.Array | None = None, *, spherical: bool = False,
             n_dims: int = DEFAULT_DIMS) -> jax.Array:
  """GBC, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.
    spherical: one variance per class instead of per dimension.
    n_dims: PCA dimensions.

  Returns:
    scalar ≤ 0; higher (closer to 0) is better.
  """
  del source_probs
  projected = exact_pca(features, n_dims)  # [N, d]; component signs do not matter here
  counts = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels,
                               num_segments=num_classes)[:, None]
  means = jax.ops.segment_sum(projected, labels, num_segments=num_classes) / counts
  deviations = projected - means[labels]
  variances = jax.ops.segment_sum(deviations ** 2, labels, num_segments=num_classes) / counts
  variances = jnp.maximum(variances, VARIANCE_FLOOR)  # [K, d]
  if spherical:
    variances = jnp.mean(variances, axis=1, keepdims=True)  # [K, 1]
  coefficients = jax.lax.map(
      lambda row: _bhattacharyya_row(row[0], row[1], means, variances),
      (means, variances), batch_size=_ROW_BATCH)  # [K, K]
  return -(jnp.sum(coefficients) - jnp.sum(jnp.diagonal(coefficients)))


_SPEC = registry.ScoreSpec(name="gbc", core=gbc_core, static_argnames=("spherical", "n_dims"))


def gbc(features, labels, spherical: bool = False, n_dims: int = DEFAULT_DIMS) -> float:
  """Checked GBC.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    spherical: spherical instead of diagonal class Gaussians.
    n_dims: PCA dimensions (≥ 1; clamped to min(N, D)).

  Returns:
    Python float ≤ 0; higher is better.

  Raises:
    ValueError: bad features, labels or n_dims (the message names the argument).
  """
  if not (isinstance(n_dims, int) and n_dims >= 1):
    raise ValueError(f"n_dims must be a positive int, got {n_dims!r}")
  return checked.score(_SPEC, features, labels, spherical=bool(spherical), n_dims=n_dims)


registry.register(registry.ScoreSpec(name="gbc", core=gbc_core, pad_invariant=True))
registry.register(registry.ScoreSpec(
    name="gbc_spherical", core=functools.partial(gbc_core, spherical=True)))
