"""SFDA: Self-challenging Fisher Discriminant Analysis (Shao et al., ECCV 2022).

As released (TencentARC/SFDA `metrics.py`, `SFDA_Score`):
  1. fit a shrunk Fisher/LDA classifier: within-class covariance S_w (population form), shrinkage
     s = max(exp(−5 λ̂), 1e-10) where λ̂ estimates S_w's top eigenvalue with 3 rounds of the
     repo's `iterative_A` power method, S_w ← (1−s) S_w + s·tr(S_w)/D·I;
  2. soften its class probabilities with a second softmax and "ConfMix" each sample towards the
     mean of the other classes' means, weighted by its softened true-class probability;
  3. refit with the same s and return the mean probability of the true class.

The release solves the generalized eigenproblem (S_b, S_w) and keeps every eigenvector V, with
Vᵀ S_w V = I; its classifier weights means·V·Vᵀ are therefore exactly means·S_w⁻¹. We compute
that with one Cholesky solve instead of a D×D generalized eigendecomposition.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import linalg
from guidedrec_jax.scores import registry

_POWER_ROUNDS = 3  # `iterative_A(Sw, max_iterations=3)` in the release.


def _top_eigenvalue_estimate(matrix: jax.Array) -> jax.Array:
  """The release's `iterative_A`: a power method started from the row sums."""
  unit = lambda v: v / jnp.linalg.norm(v)
  x = matrix.sum(axis=1)
  for _ in range(_POWER_ROUNDS):
    y = unit(matrix @ x)
    x = unit(matrix @ y)
  return x @ matrix @ y


def _shrunk_lda_probs(x: jax.Array, onehot: jax.Array, shrinkage: jax.Array | None):
  """Class probabilities [N, K] of the shrunk LDA fitted on (x, onehot); returns (probs, s)."""
  counts, means, within = linalg.class_statistics(x, onehot)
  if shrinkage is None:
    shrinkage = jnp.maximum(jnp.exp(-5.0 * _top_eigenvalue_estimate(within)), 1e-10)
  factor = jsl.cho_factor(linalg.shrink_covariance(within, shrinkage))
  coef = jsl.cho_solve(factor, means.T).T  # [K, D] = means · S_w⁻¹
  return jax.nn.softmax(linalg.lda_logits(x, means, counts, coef), axis=1), shrinkage


def sfda_core(features: jax.Array, labels: jax.Array, num_classes: int,
              source_probs: jax.Array | None = None) -> jax.Array:
  """SFDA of one model; the registry's unchecked core.

  Args:
    features: [N, D] features.
    labels: int32 [N] in 0..K-1, every class present.
    num_classes: K (static).
    source_probs: ignored.

  Returns:
    scalar SFDA in (0, 1], higher is better.
  """
  del source_probs
  x = features.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
  onehot = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)  # [N, K]
  probs, shrinkage = _shrunk_lda_probs(x, onehot, None)
  softened = jax.nn.softmax(probs, axis=1)  # the release's "soften" step: softmax of probs
  true_prob = jnp.sum(softened * onehot, axis=1, keepdims=True)  # [N, 1]
  means = (onehot.T @ x) / onehot.sum(axis=0)[:, None]  # [K, D]
  other_means = (means.sum(axis=0) - means) / (num_classes - 1)  # [K, D]
  mixed = true_prob * x + (1.0 - true_prob) * (onehot @ other_means)  # ConfMix, [N, D]
  probs, _ = _shrunk_lda_probs(mixed, onehot, shrinkage)
  return jnp.mean(jnp.sum(probs * onehot, axis=1))


SFDA = registry.register(registry.ScoreSpec(name="sfda", core=sfda_core))

def sfda(features, labels) -> float:
  """SFDA score of one model's features on a labelled probe set (float64).

  Args:
    features: [N, D] floating-point features.
    labels: int [N] labels using every class 0..K-1 (K ≥ 2).

  Returns:
    SFDA, higher is better.

  Raises:
    ValueError: non-2-D or non-finite features, mismatched N, labels with gaps.
  """
  return checked.score(SFDA, features, labels)
