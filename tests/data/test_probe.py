"""Probe sets: at most 2,000 images, at most 25 per class, seeded, described for caches."""

import json

import numpy as np
import pytest

from guidedrec_jax.data import ImageDataset, probe_set


def _dataset(class_counts):
  labels = np.repeat(np.arange(len(class_counts)), class_counts)
  images = np.arange(len(labels), dtype=np.int64).astype(np.uint8).reshape(-1, 1, 1, 1)
  names = tuple(f"c{i}" for i in range(len(class_counts)))
  return ImageDataset("toy", "train", images, labels, names, {"source": "test"})


def test_at_most_25_per_class_small_classes_give_all():
  probe, info = probe_set(_dataset([100, 10, 40]), seed=0)
  np.testing.assert_array_equal(np.bincount(probe.labels), [25, 10, 25])
  assert info["class_counts"] == [25, 10, 25] and info["num_images"] == 60


def test_at_most_2000_images_spread_evenly():
  probe, info = probe_set(_dataset([30] * 150), seed=0)
  assert len(probe) == 2000 and info["num_images"] == 2000
  counts = np.bincount(probe.labels, minlength=150)
  assert counts.max() <= 25 and counts.max() - counts.min() <= 1


def test_seeded_and_described():
  dataset = _dataset([50, 50])
  first, info = probe_set(dataset, seed=3)
  again, info_again = probe_set(dataset, seed=3)
  other, info_other = probe_set(dataset, seed=4)
  np.testing.assert_array_equal(first.images, again.images)
  assert info == info_again and info["indices_sha256"] != info_other["indices_sha256"]
  assert (info["dataset"], info["split"], info["seed"]) == ("toy", "train", 3)
  assert info["dataset_meta"] == {"source": "test"}
  json.dumps(info)


def test_bad_arguments():
  with pytest.raises(ValueError, match="empty"):
    probe_set(_dataset([0, 0]).subset(np.zeros(0, np.int64)))
  with pytest.raises(ValueError, match="max_per_class"):
    probe_set(_dataset([5, 5]), max_per_class=0)
