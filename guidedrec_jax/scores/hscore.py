"""H-score (Bao et al. 2019) and its Ledoit–Wolf shrinkage variant (Ibrahim et al. 2022).

H-score = tr(cov_f⁺ cov_g), with cov_g the covariance of the class-mean features (ddof=1, as
in tllib's `h_score`). Writing the centred features F_c = U S Vᵀ and P = Σ_c y_c y_cᵀ / n_c
(the class-averaging projector), cov_g = F_cᵀ P F_c / (N − 1) and

  H = tr(P Π) = Σ_{σᵢ > 0} Σ_c (uᵢᵀ y_c)² / n_c,

so the score comes from one eigendecomposition of the smaller Gram matrix
(`linalg.class_spectrum`): it equals K − 1 whenever N ≤ D. The pseudo-inverse cut is the
matrix-rank tolerance max(N, D)·eps·σ_max rather than tllib's `rcond=1e-15`, which keeps
rounding noise of rank-deficient inputs; results agree on full-rank inputs.

The shrinkage variant (tllib `regularized_h_score`) replaces cov_f by the Ledoit–Wolf
estimate (1 − a)·S + a·μ·I with S = F_cᵀF_c / N, μ = tr(S)/D, and scales cov_g by (1 − a).
In the eigenbasis of S both matrices are diagonal on the row space of F_c, so the same
spectrum gives it too; the shrinkage a needs only Σσᵢ², Σσᵢ and the row norms.

Precision: always float64 (a float32 request is computed in float64).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import checked, registry
from guidedrec_jax.scores.linalg import class_spectrum


def _class_weighted_coords(centred: jax.Array, labels: jax.Array, num_classes: int
                           ) -> tuple[jax.Array, jax.Array]:
  """Returns (σ [k], Σ_c (uᵢᵀy_c)²/n_c [k]) of the centred features."""
  spectrum = class_spectrum(centred, labels, num_classes)
  counts = jax.ops.segment_sum(jnp.ones_like(labels, centred.dtype), labels,
                               num_segments=num_classes)
  return spectrum.eigenvalues, spectrum.sq_coords @ (1.0 / counts)


def ledoit_wolf_shrinkage(centred: jax.Array, eigenvalues: jax.Array) -> jax.Array:
  """Ledoit–Wolf shrinkage intensity as in `sklearn.covariance.ledoit_wolf_shrinkage`.

  Args:
    centred: [N, D] column-centred features.
    eigenvalues: [k] eigenvalues of the Gram matrix of `centred` (their squares sum to
      ‖F_cᵀF_c‖_F²).

  Returns:
    scalar in [0, 1].
  """
  num_samples, dim = centred.shape
  if dim == 1:
    return jnp.zeros((), centred.dtype)
  row_sq = jnp.sum(centred ** 2, axis=1)  # ‖xᵢ‖²
  trace = jnp.sum(row_sq) / num_samples  # tr(S)
  mu = trace / dim
  sum_fourth = jnp.sum(row_sq ** 2)  # sklearn's Σ entries of (X²)ᵀX² = Σᵢ ‖xᵢ‖⁴
  frob_sq = jnp.sum(eigenvalues ** 2) / num_samples ** 2  # ‖S‖_F²
  beta = (sum_fourth / num_samples - frob_sq) / (dim * num_samples)
  delta = (frob_sq - 2.0 * mu * trace + dim * mu ** 2) / dim
  beta = jnp.minimum(beta, delta)
  return jnp.where(beta == 0, 0.0, beta / jnp.where(delta == 0, 1.0, delta))


def hscore_core(features: jax.Array, labels: jax.Array, num_classes: int,
                source_probs: jax.Array | None = None, *, shrinkage: bool = False
                ) -> jax.Array:
  """H-score, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.
    shrinkage: use the Ledoit–Wolf covariance (tllib `regularized_h_score`).

  Returns:
    scalar; higher is better.
  """
  del source_probs
  num_samples, dim = features.shape
  centred = features - jnp.mean(features, axis=0)
  eigenvalues, weighted = _class_weighted_coords(centred, labels, num_classes)
  if not shrinkage:
    return jnp.sum(jnp.where(eigenvalues > 0, weighted, 0.0))
  amount = ledoit_wolf_shrinkage(centred, eigenvalues)
  mu = jnp.sum(centred ** 2) / (num_samples * dim)  # tr(S) / D
  # vᵢᵀ F_cᵀPF_c vᵢ = σᵢ·weightedᵢ; the shrunk covariance has eigenvalue (1−a)σᵢ/N + a·μ.
  shrunk = (1.0 - amount) * eigenvalues / num_samples + amount * mu
  return ((1.0 - amount) / (num_samples - 1)
          * jnp.sum(eigenvalues * weighted / jnp.where(shrunk > 0, shrunk, 1.0)))


_SPEC = registry.ScoreSpec(name="hscore", core=hscore_core, static_argnames=("shrinkage",))


def hscore(features, labels, shrinkage: bool = False) -> float:
  """Checked H-score.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    shrinkage: Ledoit–Wolf shrinkage variant.

  Returns:
    Python float; higher is better.

  Raises:
    ValueError: bad features or labels (the message names the argument).
  """
  return checked.score(_SPEC, features, labels, shrinkage=bool(shrinkage))


registry.register(registry.ScoreSpec(name="hscore", core=hscore_core, pad_invariant=True))
registry.register(registry.ScoreSpec(
    name="hscore_shrinkage", core=functools.partial(hscore_core, shrinkage=True)))
