"""The feature-cache contract: layout and loading of a probe set's frozen features.

Layout: `<cache_root>/features/<dataset>/<model>.npz` (written by `zoo.extract`) holding
`features` float32 [N, D], `labels` int64 [N] and, for a model with a source head,
`source_probs` float32 [N, Cs]; beside it the JSON sidecar `io.save_arrays` writes (what
made the file: model, weights hash, probe set, preprocessing, code version, and the sha256
of the `.npz` that every load checks, so a damaged file is never read as a good one). Readers
(`scores.zoo`, the benchmark's scoring stage) load one task's files with `load_task`, which
checks that every model saw the same probe labels.

Imports numpy and the standard library only: both halves use it.
"""

from __future__ import annotations

import os
import pathlib
from typing import Mapping, NamedTuple

import numpy as np

from guidedrec_jax import io

FEATURES, LABELS, SOURCE_PROBS = "features", "labels", "source_probs"


def feature_cache_dir(cache_root: str | os.PathLike, dataset: str) -> pathlib.Path:
  """`<cache_root>/features/<dataset>`: where the feature files of one probe set live."""
  return pathlib.Path(cache_root) / "features" / dataset


def feature_cache_path(cache_root: str | os.PathLike, dataset: str, model: str) -> pathlib.Path:
  """`<cache_root>/features/<dataset>/<model>.npz`: one model's features of one probe set."""
  return feature_cache_dir(cache_root, dataset) / f"{model}.npz"


class TaskFeatures(NamedTuple):
  """One task's features, every model on the same probe set.

  Attributes:
    features: model -> float32 [N, D_model].
    labels: int64 [N], the probe labels.
    source_probs: model -> float32 [N, Cs] for the models that have a source head.
  """
  features: dict[str, np.ndarray]
  labels: np.ndarray
  source_probs: dict[str, np.ndarray]


def load_task(paths: Mapping[str, str | os.PathLike]) -> TaskFeatures:
  """Reads one task's feature files (model -> path), checking they share one probe set.

  Raises:
    ValueError: `paths` is empty, or two files hold different probe labels.
    FileNotFoundError: a file is missing.
    io.CacheError: a damaged file (arrays, sidecar, or bytes other than its sidecar's
      content hash).
  """
  if not paths:
    raise ValueError("paths must name at least one model's feature file")
  features, probs, labels, first = {}, {}, None, None
  for model, path in paths.items():
    arrays, _ = io.load_arrays(path)
    if labels is None:
      labels, first = arrays[LABELS], path
    elif not np.array_equal(labels, arrays[LABELS]):
      raise ValueError(f"feature file {path} holds other probe labels than {first} "
                       "(not one probe set)")
    features[model] = arrays[FEATURES]
    if SOURCE_PROBS in arrays:
      probs[model] = arrays[SOURCE_PROBS]
  return TaskFeatures(features, labels, probs)


def task_files(cache_root: str | os.PathLike, dataset: str) -> dict[str, pathlib.Path]:
  """Every model's feature file of one dataset, by model name (sorted).

  Raises:
    FileNotFoundError: no feature files for `dataset`.
  """
  found = sorted(feature_cache_dir(cache_root, dataset).glob("*.npz"))
  if not found:
    raise FileNotFoundError(f"no feature files in {feature_cache_dir(cache_root, dataset)}")
  return {path.stem: path for path in found}
