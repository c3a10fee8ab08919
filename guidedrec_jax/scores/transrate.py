"""TransRate (Huang et al. 2022) in tllib's coding-rate form.

  R(Z)    = ½ logdet(I + ZᵀZ / (n ε))
  score   = R(Z) − (1/K) Σ_c R(Z_c),     Z = F − column means (tllib `transrate`, ε = 1e-4)

By Sylvester's identity R(Z) = ½ logdet(I_N + ZZᵀ / (N ε)), and the K class terms are the
blocks of one block-diagonal N×N matrix B with B_ij = [i = j] + [yᵢ = yⱼ] (ZZᵀ)_ij / (n_c ε),
so Σ_c R(Z_c) = ½ logdet B. One N×N Gram and two Cholesky factorisations replace tllib's
K + 1 D×D log-determinants (no O(K·D³) work); memory is O(N²), fine for probe sets of a few
thousand samples. The score is scale dependent (ε is absolute) and unchanged by zero-padding.
At absurd feature scales (‖Z‖²/(nε) ≳ 1e15) the unit eigenvalues of I + ZZᵀ/(nε) drown in
rounding and the Cholesky factorisation gives NaN; the checked `transrate` then raises.

Precision: always float64 (float32 requests too). The fixture's `transrate.tllib(eps=1e-4)`
was computed from a float32 Gram and differs from the float64 evaluation
(`transrate.tllib_float64_input`) by ~2e-6 relative; we match the latter.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import checked, registry

DEFAULT_EPS = 1e-4


def _half_logdet(matrix: jax.Array) -> jax.Array:
  """½ log det of a symmetric positive-definite matrix via Cholesky."""
  return jnp.sum(jnp.log(jnp.diagonal(jnp.linalg.cholesky(matrix))))


def transrate_core(features: jax.Array, labels: jax.Array, num_classes: int,
                   source_probs: jax.Array | None = None, *, eps: float = DEFAULT_EPS
                   ) -> jax.Array:
  """TransRate, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.
    eps: distortion ε of the coding rate.

  Returns:
    scalar; higher is better.
  """
  del source_probs
  num_samples = features.shape[0]
  centred = features - jnp.mean(features, axis=0)
  gram = centred @ centred.T  # [N, N]
  counts = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels,
                               num_segments=num_classes)
  eye = jnp.eye(num_samples, dtype=features.dtype)
  rate_all = _half_logdet(eye + gram / (num_samples * eps))
  same_class = labels[:, None] == labels[None, :]
  scale = 1.0 / (counts[labels] * eps)  # [N], equal within a block so B stays symmetric
  rate_classes = _half_logdet(eye + jnp.where(same_class, gram * scale[:, None], 0.0))
  return rate_all - rate_classes / num_classes


_SPEC = registry.ScoreSpec(name="transrate", core=transrate_core, static_argnames=("eps",))


def transrate(features, labels, eps: float = DEFAULT_EPS) -> float:
  """Checked TransRate.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    eps: distortion ε > 0.

  Returns:
    Python float; higher is better.

  Raises:
    ValueError: bad features, labels or eps (the message names the argument), or features
      so large (‖Z‖² / (n ε) beyond ~1e15) that the coding rate is not computable.
  """
  if not eps > 0:
    raise ValueError(f"eps must be positive, got {eps}")
  value = checked.score(_SPEC, features, labels, eps=float(eps))
  if not np.isfinite(value):
    raise ValueError(
        f"features are too large for eps={eps}: I + ZᵀZ/(nε) is not positive definite in "
        "float64 (its unit eigenvalues drown in rounding). Standardise the features "
        "(normalize.standardize) or raise eps.")
  return value


registry.register(registry.ScoreSpec(
    name="transrate", core=functools.partial(transrate_core, eps=DEFAULT_EPS),
    pad_invariant=True))
