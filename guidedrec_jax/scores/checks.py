"""Input checks shared by every score, run on host arrays before any JAX work.

The official implementations accept bad input silently (an empty class inflates LogME, NaN
features give NaN scores); ours raise a `ValueError` that names the argument instead.
"""

from __future__ import annotations

import numpy as np


def check_features(features, name: str = "features", min_samples: int = 2) -> np.ndarray:
  """Returns `features` as a host array after checking shape [N, D] and finiteness."""
  array = np.asarray(features)
  if array.ndim != 2:
    raise ValueError(f"{name} must be 2-D [N, D], got shape {array.shape}")
  if array.shape[0] < min_samples:
    raise ValueError(f"{name} needs at least {min_samples} samples (N), got N={array.shape[0]}")
  if array.shape[1] < 1:
    raise ValueError(f"{name} needs at least one dimension (D), got D=0")
  if not np.issubdtype(array.dtype, np.floating):
    raise ValueError(f"{name} must be floating point, got dtype {array.dtype}")
  if not np.all(np.isfinite(array)):
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    raise ValueError(f"{name} contains {bad} NaN or infinite values")
  return array


def check_labels(labels, num_samples: int, name: str = "labels", min_classes: int = 2
                 ) -> tuple[np.ndarray, int]:
  """Checks integer labels [N] in 0..K-1 with every class present; returns (labels, K)."""
  array = np.asarray(labels)
  if array.ndim != 1:
    raise ValueError(f"{name} must be 1-D [N], got shape {array.shape}")
  if array.shape[0] != num_samples:
    raise ValueError(f"{name} has {array.shape[0]} entries but features have N={num_samples} rows")
  if not np.issubdtype(array.dtype, np.integer):
    if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
      array = array.astype(np.int64)
    else:
      raise ValueError(f"{name} must be integers in 0..K-1, got dtype {array.dtype}")
  if array.min() < 0:
    raise ValueError(f"{name} must be in 0..K-1, found {int(array.min())}")
  num_classes = int(array.max()) + 1
  counts = np.bincount(array, minlength=num_classes)
  empty = np.flatnonzero(counts == 0)
  if empty.size:
    raise ValueError(
        f"{name} must use every class 0..K-1 (K={num_classes}); classes {empty[:10].tolist()} "
        "are empty. Remap labels to consecutive integers (np.unique(..., return_inverse=True)).")
  if num_classes < min_classes:
    raise ValueError(f"{name} must contain at least {min_classes} classes, got {num_classes}")
  return array.astype(np.int32), num_classes


def check_probabilities(probs, num_samples: int, name: str = "source_probs",
                        atol: float = 1e-3) -> np.ndarray:
  """Checks a row-stochastic matrix [N, Cs] (non-negative, rows summing to 1 within `atol`)."""
  array = np.asarray(probs)
  if array.ndim != 2:
    raise ValueError(f"{name} must be 2-D [N, Cs], got shape {array.shape}")
  if array.shape[0] != num_samples:
    raise ValueError(f"{name} has {array.shape[0]} rows but features/labels have N={num_samples}")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{name} contains NaN or infinite values")
  if array.min() < 0:
    raise ValueError(f"{name} must be probabilities (>= 0), found {float(array.min())}")
  sums = array.sum(axis=1, dtype=np.float64)
  worst = int(np.argmax(np.abs(sums - 1.0)))
  if abs(sums[worst] - 1.0) > atol:
    raise ValueError(f"{name} rows must sum to 1 (softmax outputs); row {worst} sums to "
                     f"{sums[worst]:.6f}. Pass probabilities, not logits.")
  return array
