"""Scores of the source model's own predictions on the target probe set: LEEP and NCE.

Both read a source classifier's softmax outputs `source_probs` [N, Cs] (not the features) and
measure how well an empirical source-class → target-class table predicts the target labels.
The forms follow thuml/Transfer-Learning-Library (`tllib.ranking`):

  LEEP (Nguyen et al. 2020): mean_i log Σ_z P(z | x_i) P̂(y_i | z), with P̂(y | z) from the
    joint table Ĵ(y, z) = Σ_{i: y_i = y} P(z | x_i) / N.
  NCE (Tran et al. 2019): −H(Y | Z) where Z = argmax_z P(z | x) is the hard source label.

NLEEP (Li et al. 2021) replaces the source head by a Gaussian mixture; it is in `nleep.py` and
reuses `leep_core`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import registry


def _conditional_target_given_source(joint: jax.Array) -> jax.Array:
  """P̂(y | z) [K, Cs] from a joint table [K, Cs]; a source class never predicted gets 0."""
  marginal = joint.sum(axis=0, keepdims=True)  # [1, Cs]
  # A source class with no mass (softmax underflow) contributes nothing to any sum below,
  # so 0 replaces the official 0/0 = NaN.
  return jnp.where(marginal > 0, joint / jnp.where(marginal > 0, marginal, 1.0), 0.0)


def leep_core(features: jax.Array | None, labels: jax.Array, num_classes: int,
              source_probs: jax.Array) -> jax.Array:
  """LEEP of one model; the registry's unchecked core (features are not used).

  Args:
    features: ignored; present for the shared core signature.
    labels: int32 [N] in 0..K-1.
    num_classes: K (static).
    source_probs: [N, Cs] rows of the source model's softmax.

  Returns:
    scalar LEEP (≤ 0; 0 for perfect predictions, log(1/K) for uninformative ones on
    balanced classes).
  """
  del features
  probs = source_probs.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
  onehot = jax.nn.one_hot(labels, num_classes, dtype=probs.dtype)  # [N, K]
  joint = onehot.T @ probs / probs.shape[0]  # [K, Cs]
  target_given_source = _conditional_target_given_source(joint)  # [K, Cs]
  expected = jnp.sum(probs * target_given_source[labels], axis=1)  # [N]
  return jnp.mean(jnp.log(expected))


def nce_core(features: jax.Array | None, labels: jax.Array, num_classes: int,
             source_probs: jax.Array) -> jax.Array:
  """NCE of one model: −H(Y | argmax source class); the registry's unchecked core.

  Args:
    features: ignored; present for the shared core signature.
    labels: int32 [N] in 0..K-1.
    num_classes: K (static).
    source_probs: [N, Cs] source softmax; only its argmax per row is used.

  Returns:
    scalar NCE (≤ 0; 0 when the hard source label determines the target label).
  """
  del features
  dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
  source_labels = jnp.argmax(source_probs, axis=1)  # [N]
  # The joint histogram by N scatter-adds of one (exact integer counts), not the N·K·Cs GEMM
  # of two one-hot matrices: the argmax's read of [N, Cs] is then NCE's only O(N·Cs) work.
  counts = jnp.zeros((num_classes, source_probs.shape[1]), dtype)
  counts = counts.at[labels, source_labels].add(1.0)
  joint = counts / labels.shape[0]  # [K, Cs]
  conditional = _conditional_target_given_source(joint)
  # 0·log 0 = 0; tllib adds 1e-20 inside the log instead, which changes nothing at 1e-15.
  return jnp.sum(jnp.where(joint > 0, joint * jnp.log(jnp.where(joint > 0, conditional, 1.0)),
                           0.0))


LEEP = registry.register(registry.ScoreSpec(name="leep", core=leep_core,
                                            needs_source_probs=True, reads_features=False))
NCE = registry.register(registry.ScoreSpec(name="nce", core=nce_core, needs_source_probs=True,
                                           reads_features=False))

def leep(source_probs, labels) -> float:
  """LEEP score of a source model's predictions on a labelled target set (float64).

  Args:
    source_probs: [N, Cs] softmax outputs of the source classifier.
    labels: int [N] target labels using every class 0..K-1.

  Returns:
    LEEP, higher is better.

  Raises:
    ValueError: rows not summing to 1 (logits passed), negative or non-finite entries,
      mismatched N, labels with gaps.
  """
  return checked.score(LEEP, None, labels, source_probs)


def nce(source_probs, labels) -> float:
  """NCE score (negative conditional entropy of target given hard source label; float64).

  Args:
    source_probs: [N, Cs] softmax outputs of the source classifier.
    labels: int [N] target labels using every class 0..K-1.

  Returns:
    NCE, higher is better.

  Raises:
    ValueError: as for `leep`.
  """
  return checked.score(NCE, None, labels, source_probs)
