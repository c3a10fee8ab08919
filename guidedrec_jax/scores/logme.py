"""LogME (You et al. 2021): the log marginal evidence of a Bayesian linear head.

One eigendecomposition of the smaller Gram matrix (FFᵀ when N ≤ D, else FᵀF) is shared by
all K one-vs-all regressions ("decompose once, solve many"); each class then only needs its
squared coordinates on the singular vectors, and the released fixed point (thuml/LogME
`_fit_fixed_point`, at most 11 steps, stop when α/β moves by ≤ 0.1 %) runs per class under
`vmap` inside a `lax.while_loop`.

Two variants:
  * "logme" — as released. It keeps the D/2·log α prior term but sums log(α + βσ) over only
    the retained eigenvalues, so when N < D (or features are rank deficient) the score is
    inflated (fixture `small`: 6.330); kept for comparability with published numbers.
  * "logme_consistent" — the exact evidence, where the D − rank zero eigenvalues of FᵀF
    contribute log α each and cancel the prior term. It depends on the features only through
    the nonzero spectrum, hence is unchanged by zero-padding the features.

Precision: always float64. The released algorithm squares the condition number (Gram
eigenvalues) and takes the residual by subtraction, which is unstable in float32, so a
float32 request is computed in float64 (`ScoreSpec.float64=True`).

`linalg.class_spectrum` is the shared decomposition; H-score reuses it.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import checked, registry
from guidedrec_jax.scores.linalg import class_spectrum

MAX_STEPS = 11
RELATIVE_TOL = 1e-3
SMOOTHING = 1e-5  # the released code adds it to both denominators


class LogMEDetails(NamedTuple):
  """Per-class results of LogME.

  Attributes:
    score: scalar, mean of `evidences`.
    evidences: [K] per-sample log evidence of each one-vs-all regression.
    alphas: [K] prior precision α at the fixed point.
    betas: [K] noise precision β at the fixed point.
  """
  score: jax.Array
  evidences: jax.Array
  alphas: jax.Array
  betas: jax.Array


def _class_fixed_point(sq_coords: jax.Array, sq_norm: jax.Array, eigenvalues: jax.Array,
                       num_samples: int) -> tuple[jax.Array, ...]:
  """Runs the released fixed point for one class; returns (α, β, ‖m‖², ‖y − Fm‖²)."""
  # Part of y_c outside the retained span; clipped because it is rounding noise when N ≤ D.
  residual_outside = jnp.maximum(sq_norm - jnp.sum(sq_coords), 0.0)
  null_dims = num_samples - eigenvalues.shape[0]

  def step(state):
    count, alpha, beta, _, _, _ = state
    ratio = alpha / beta
    shrink = 1.0 / (ratio + eigenvalues)
    gamma = jnp.sum(eigenvalues * shrink)
    # N − γ summed directly: by subtraction it cancels to ≤ 0 when σ ≫ α/β (large features).
    residual_dof = null_dims + jnp.sum(ratio * shrink)
    m_sq = jnp.sum(eigenvalues * sq_coords * shrink ** 2)
    res_sq = jnp.sum(sq_coords * (ratio * shrink) ** 2) + residual_outside
    new_alpha = gamma / (m_sq + SMOOTHING)
    new_beta = residual_dof / (res_sq + SMOOTHING)
    done = jnp.abs(new_alpha / new_beta - ratio) / ratio <= RELATIVE_TOL
    return count + 1, new_alpha, new_beta, m_sq, res_sq, done

  one, zero = jnp.ones((), eigenvalues.dtype), jnp.zeros((), eigenvalues.dtype)
  init = (0, one, one, zero, zero, jnp.zeros((), bool))
  _, alpha, beta, m_sq, res_sq, _ = jax.lax.while_loop(
      lambda s: (s[0] < MAX_STEPS) & ~s[5], step, init)
  return alpha, beta, m_sq, res_sq


def logme_details_core(features: jax.Array, labels: jax.Array, num_classes: int,
                       source_probs: jax.Array | None = None, *,
                       consistent: bool = False) -> LogMEDetails:
  """LogME with per-class α, β; pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.
    consistent: dimension-consistent evidence instead of the released one.

  Returns:
    `LogMEDetails`.
  """
  del source_probs
  num_samples, dim = features.shape
  spectrum = class_spectrum(features, labels, num_classes)
  sq_norms = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels,
                                 num_segments=num_classes)  # ‖y_c‖² = class counts
  alpha, beta, m_sq, res_sq = jax.vmap(
      _class_fixed_point, in_axes=(1, 0, None, None))(
          spectrum.sq_coords, sq_norms, spectrum.eigenvalues, num_samples)
  # Exact evidence: ½Σ log(α/(α+βσ)) over any superset of the nonzero spectrum.
  log_ratio = jnp.sum(jnp.log1p(beta[:, None] * spectrum.eigenvalues / alpha[:, None]), axis=1)
  evidence = (0.5 * num_samples * jnp.log(beta) - 0.5 * log_ratio - 0.5 * beta * res_sq
              - 0.5 * alpha * m_sq - 0.5 * num_samples * jnp.log(2 * jnp.pi))
  if not consistent:
    # Released: keeps D/2·log α but drops log α for every eigenvalue it discarded.
    retained = num_samples if num_samples <= dim else jnp.sum(spectrum.kept)
    evidence = evidence + 0.5 * (dim - retained) * jnp.log(alpha)
  evidence = evidence / num_samples
  return LogMEDetails(jnp.mean(evidence), evidence, alpha, beta)


def logme_core(features: jax.Array, labels: jax.Array, num_classes: int,
               source_probs: jax.Array | None = None, *, consistent: bool = False) -> jax.Array:
  """Scalar LogME (see `logme_details_core`)."""
  return logme_details_core(features, labels, num_classes, source_probs,
                            consistent=consistent).score


_DETAILS = registry.ScoreSpec(name="logme_details", core=logme_details_core,
                              static_argnames=("consistent",))


def logme_details(features, labels, consistent: bool = False) -> LogMEDetails:
  """Checked LogME with per-class α and β as host NumPy arrays.

  Args:
    features: [N, D] float array (any float dtype; computed in float64).
    labels: [N] integers in 0..K-1 with every class present.
    consistent: use the dimension-consistent evidence.

  Returns:
    `LogMEDetails` of NumPy values (score is a Python float).

  Raises:
    ValueError: bad features or labels (the message names the argument).
  """
  out = checked.compute(_DETAILS, features, labels, consistent=bool(consistent))
  return out._replace(score=float(out.score))


def logme(features, labels, consistent: bool = False) -> float:
  """Checked LogME score (higher is better); see `logme_details`."""
  return logme_details(features, labels, consistent=consistent).score


registry.register(registry.ScoreSpec(name="logme", core=logme_core))
registry.register(registry.ScoreSpec(
    name="logme_consistent", core=functools.partial(logme_core, consistent=True),
    pad_invariant=True))
