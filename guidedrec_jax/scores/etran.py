"""ETran (Gholami et al., ICCV 2023): energy and LDA components, and the zoo-level combination.

As released (mgholamikn/ETran `metrics.py` + `tw.py`), ETran is not a per-model number: each
model gets two components and the final score min-max normalises them across the model zoo,
  ETran = 0.85 · minmax_zoo(S_lda) + 0.15 · minmax_zoo(S_en).

  S_en (`Energy_Score(features, 0.5, 'bot')`): the features themselves are read as logits; the
    energy of a sample is logsumexp over its D features, and S_en is the mean energy of the
    5·N // 1000 lowest-energy samples (the bottom 0.5 %). It needs N ≥ 200.
  S_lda (`LDA_Score`): the release fits an LDA but takes `np.linalg.eigh(inv(S_w) @ S_b)`,
    whose eigenvectors V (of the symmetrised lower triangle) form a full orthonormal basis, so
    its weights means·V·Vᵀ equal the class means. S_lda is therefore the mean softmax
    probability of the true class under logits x·μ_c − ½‖μ_c‖² + log π_c (a nearest-class-mean
    classifier), which is what we compute, without the D×D eigendecomposition.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import linalg
from guidedrec_jax.scores import ncti
from guidedrec_jax.scores import registry

COMPONENTS = ("etran_lda", "etran_energy")
WEIGHTS = {"etran_lda": 0.85, "etran_energy": 0.15}


def _energy_count(num_samples: int) -> int:
  # `int(percent * 10) * len(energy) // 1000` with percent = 0.5 in the release.
  return 5 * num_samples // 1000


def prepare_energy(num_samples: int, dim: int, num_classes: int) -> dict[str, np.ndarray]:
  """Checks that the bottom 0.5 % of samples is not empty (N ≥ 200); nothing to precompute.

  Raises:
    ValueError: N < 200.
  """
  del dim, num_classes
  if _energy_count(num_samples) < 1:
    raise ValueError(f"features need N >= 200 samples for ETran's energy (bottom 0.5 %), "
                     f"got N={num_samples}")
  return {}


def energy_core(features: jax.Array, labels: jax.Array, num_classes: int,
                source_probs: jax.Array | None = None) -> jax.Array:
  """S_en of one model: mean of the lowest 0.5 % per-sample energies logsumexp(features).

  Args:
    features: [N, D] features (N ≥ 200).
    labels, num_classes, source_probs: unused; present for the shared core signature.

  Returns:
    scalar S_en.
  """
  del labels, num_classes, source_probs
  x = features.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
  energy = jax.nn.logsumexp(x, axis=1)  # [N]
  lowest, _ = jax.lax.top_k(-energy, _energy_count(x.shape[0]))
  return -jnp.mean(lowest)


def lda_core(features: jax.Array, labels: jax.Array, num_classes: int,
             source_probs: jax.Array | None = None) -> jax.Array:
  """S_lda of one model as released: mean true-class probability of the class-mean classifier.

  Args:
    features: [N, D] features.
    labels: int32 [N] in 0..K-1, every class present.
    num_classes: K (static).
    source_probs: unused.

  Returns:
    scalar S_lda in (0, 1].
  """
  del source_probs
  x = features.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
  onehot = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)  # [N, K]
  counts, means = linalg.class_means(x, onehot)
  logits = linalg.lda_logits(x, means, counts, means)  # identity covariance
  return jnp.mean(jnp.sum(jax.nn.softmax(logits, axis=1) * onehot, axis=1))


ENERGY = registry.register(registry.ScoreSpec(name="etran_energy", core=energy_core,
                                              prepare=prepare_energy))
LDA = registry.register(registry.ScoreSpec(name="etran_lda", core=lda_core))

def _components_core(features, labels, num_classes, source_probs=None):
  return jnp.stack([lda_core(features, labels, num_classes),
                    energy_core(features, labels, num_classes)])


_BOTH = registry.ScoreSpec(name="etran_components", core=_components_core,
                           prepare=prepare_energy)


def etran_components(features, labels) -> dict[str, float]:
  """ETran's per-model components S_lda and S_en (float64).

  Args:
    features: [N, D] floating-point features, N ≥ 200.
    labels: int [N] labels using every class 0..K-1.

  Returns:
    {"etran_lda": S_lda, "etran_energy": S_en}.

  Raises:
    ValueError: bad features or labels, or N < 200 (the energy average would be empty).
  """
  lda_value, energy_value = checked.compute(_BOTH, features, labels)
  return {"etran_lda": float(lda_value), "etran_energy": float(energy_value)}


def etran_from_components(components: Mapping[str, np.ndarray]) -> np.ndarray:
  """Final ETran scores of a zoo from its components (min-max normalised across the zoo).

  Args:
    components: {"etran_lda": [M], "etran_energy": [M]} for the same M ≥ 2 models.

  Returns:
    [M] ETran scores in [0, 1], higher is better.

  Raises:
    ValueError: a component is missing, lengths differ or M < 2.
  """
  scaled = ncti.min_max_across_zoo(components, COMPONENTS)
  return sum(WEIGHTS[name] * scaled[name] for name in COMPONENTS)
