"""Probe sets: the small, seeded, class-balanced subsets on which features are extracted.

As in the paper, a probe set holds at most 2,000 images and at most 25 per class. Classes
with fewer images give all they have; the rest is shared evenly. The description returned
with it goes into the feature cache's sidecar, so a cache built from another probe set (other
seed, dataset version, subsampling) is recognised and recomputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from guidedrec_jax.data.base import (ImageDataset, balanced_counts, indices_sha256,
                                     sample_per_class, seeded_rng)

MAX_IMAGES = 2000
MAX_PER_CLASS = 25


def probe_set(dataset: ImageDataset, seed: int = 0, max_images: int = MAX_IMAGES,
              max_per_class: int = MAX_PER_CLASS) -> tuple[ImageDataset, dict[str, Any]]:
  """Draws the probe set of a dataset split.

  Args:
    dataset: the split to probe (usually "train").
    seed: which probe set; the same seed gives the same indices.
    max_images: cap on the probe set size.
    max_per_class: cap per class.

  Returns:
    (subset, description): the subset (split unchanged) and a JSON-able dict with the
    dataset name and split, seed, caps, number of images, per-class counts, the sorted
    indices' sha256, and the dataset's own provenance (`meta`).

  Raises:
    ValueError: the dataset is empty, or a cap is < 1.
  """
  if len(dataset) == 0:
    raise ValueError(f"dataset {dataset.name!r} split {dataset.split!r} is empty")
  if max_images < 1:
    raise ValueError(f"max_images must be >= 1, got {max_images}")
  if max_per_class < 1:
    raise ValueError(f"max_per_class must be >= 1, got {max_per_class}")
  class_counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
  counts = balanced_counts(class_counts, max_images, max_per_class)
  indices = sample_per_class(dataset.labels, counts, seeded_rng(seed, "probe"))
  description = {
      "dataset": dataset.name, "split": dataset.split, "seed": int(seed),
      "max_images": int(max_images), "max_per_class": int(max_per_class),
      "num_images": int(len(indices)), "num_classes": int(dataset.num_classes),
      "class_counts": [int(c) for c in counts], "indices_sha256": indices_sha256(indices),
      "dataset_meta": dict(dataset.meta or {}),
  }
  return dataset.subset(indices), description
