"""LFC (Deshpande et al. 2021): alignment of the centred feature kernel with the label kernel.

With Θ = FFᵀ and Y_ij = +1 if yᵢ = yⱼ else −1, both centred by subtracting their mean entry,
LFC = ⟨Θ̃, Ỹ⟩ / (‖Θ̃‖_F ‖Ỹ‖_F). No N×N matrix is needed:

  ⟨Θ, Y⟩ = 2 Σ_c ‖S_c‖² − ‖S‖²        (S_c per-class feature sums, S = Σ_c S_c)
  mean(Θ) = ‖S‖² / N²,  mean(Y) = (2 Σ_c n_c² − N²) / N²,  ‖Y‖_F² = N²
  ‖Θ‖_F = ‖FᵀF‖_F = ‖FFᵀ‖_F           (whichever Gram is smaller)

No official code exists; this matches the fixture's `reimpl.lfc(frobenius)`. The score is
unchanged by zero-padding the features. Precision: float64 (float32 requests too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import checked, registry


def lfc_core(features: jax.Array, labels: jax.Array, num_classes: int,
             source_probs: jax.Array | None = None) -> jax.Array:
  """LFC, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.

  Returns:
    scalar in [-1, 1]; higher is better.
  """
  del source_probs
  num_samples, dim = features.shape
  pairs = float(num_samples) ** 2
  class_sums = jax.ops.segment_sum(features, labels, num_segments=num_classes)  # [K, D]
  counts = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels,
                               num_segments=num_classes)  # [K]
  total_sq = jnp.sum(jnp.sum(class_sums, axis=0) ** 2)
  gram = features @ features.T if num_samples <= dim else features.T @ features
  kernel_mean = total_sq / pairs
  label_mean = (2.0 * jnp.sum(counts ** 2) - pairs) / pairs
  inner = 2.0 * jnp.sum(class_sums ** 2) - total_sq - pairs * kernel_mean * label_mean
  # ‖G‖_F² as 1ᵀ(G∘G)1: a plain sum gets fused into the Gram's GEMM by XLA-CPU, which then
  # picks a ~2x slower float64 kernel; a GEMV consumer keeps the GEMM standalone.
  ones = jnp.ones(gram.shape[0], gram.dtype)
  gram_sq = ones @ (gram * gram) @ ones
  kernel_norm_sq = gram_sq - pairs * kernel_mean ** 2
  label_norm_sq = pairs * (1.0 - label_mean ** 2)
  # A constant kernel has no centred part, only cancellation noise: report 0, not noise/noise.
  informative = kernel_norm_sq > num_samples * jnp.finfo(features.dtype).eps * gram_sq
  denom = jnp.sqrt(jnp.where(informative, kernel_norm_sq, 1.0) * label_norm_sq)
  return jnp.where(informative, inner / denom, 0.0)


LFC = registry.register(registry.ScoreSpec(name="lfc", core=lfc_core, pad_invariant=True))


def lfc(features, labels) -> float:
  """Checked LFC score.

  Args:
    features: [N, D] float array (computed in float64).
    labels: [N] integers in 0..K-1 with every class present.

  Returns:
    Python float in [-1, 1]; higher is better.

  Raises:
    ValueError: bad features or labels (the message names the argument).
  """
  return checked.score(LFC, features, labels)
