"""Stratified counting, carving and sampling shared by all sources."""

import numpy as np
import pytest

from guidedrec_jax.data.base import (ImageDataset, balanced_counts, carve, indices_sha256,
                                     proportional_counts, sample_per_class, seeded_rng,
                                     stack_images)


def _labels(counts):
  return np.repeat(np.arange(len(counts)), counts)


def test_proportional_counts_sum_and_proportions():
  counts = proportional_counts(np.array([100, 50, 10]), 32)
  assert counts.sum() == 32
  np.testing.assert_array_equal(counts, [20, 10, 2])


def test_balanced_counts_water_fills_and_caps():
  np.testing.assert_array_equal(balanced_counts(np.array([3, 100, 100]), 50, cap=25), [3, 24, 23])
  np.testing.assert_array_equal(balanced_counts(np.array([3, 10, 10]), 50, cap=25), [3, 10, 10])
  assert balanced_counts(np.full(200, 30), 2000, cap=25).tolist() == [10] * 200


def test_carve_is_stratified_disjoint_and_seeded():
  labels = _labels([500, 300, 200])
  kept, carved = carve(labels, 0.1, seed=1, purpose="val")
  assert np.intersect1d(kept, carved).size == 0
  assert kept.size + carved.size == labels.size
  np.testing.assert_array_equal(np.bincount(labels[carved]), [50, 30, 20])
  np.testing.assert_array_equal(carve(labels, 0.1, seed=1, purpose="val")[1], carved)
  assert not np.array_equal(carve(labels, 0.1, seed=2, purpose="val")[1], carved)
  with pytest.raises(ValueError, match="fraction"):
    carve(labels, 1.0, seed=0, purpose="val")


def test_purposes_draw_independent_streams():
  assert seeded_rng(0, "val").integers(1 << 30) != seeded_rng(0, "probe").integers(1 << 30)


def test_sample_per_class_counts():
  labels = _labels([10, 10, 10])
  chosen = sample_per_class(labels, np.array([2, 0, 5]), seeded_rng(0, "t"))
  assert np.all(np.diff(chosen) > 0)
  np.testing.assert_array_equal(np.bincount(labels[chosen], minlength=3), [2, 0, 5])


def test_subset_and_replace_keep_fields():
  images = np.arange(7 * 4, dtype=np.uint8).reshape(7, 2, 2, 1)
  dataset = ImageDataset("toy", "train", images, np.arange(7) % 2, ("a", "b"), {"k": 1})
  sub = dataset.subset(np.array([1, 4]), split="val")
  assert (len(sub), sub.split, sub.meta) == (2, "val", {"k": 1})
  np.testing.assert_array_equal(sub.images, images[[1, 4]])
  assert dataset.replace(meta=None).meta is None and len(dataset.replace(name="x")) == 7


def test_stack_images_resizes_or_refuses_mixed_sizes():
  mixed = [np.zeros((5, 7, 3), np.uint8), np.zeros((9, 4, 3), np.uint8)]
  assert stack_images(mixed, 6).shape == (2, 6, 6, 3)
  with pytest.raises(ValueError, match="image_size"):
    stack_images(mixed, None)


def test_indices_sha256_depends_on_indices():
  assert indices_sha256(np.array([1, 2])) == indices_sha256(np.array([1, 2], np.int32))
  assert indices_sha256(np.array([1, 2])) != indices_sha256(np.array([1, 3]))
