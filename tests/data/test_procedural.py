"""Procedural tasks: shapes, exact class balance, determinism and speed."""

import time

import numpy as np
import pytest

from guidedrec_jax.data import procedural


@pytest.mark.parametrize("name", sorted(procedural.TASKS))
def test_task_is_balanced_uint8_and_seeded(name):
  start = time.perf_counter()
  dataset = procedural.generate(name, "train", seed=3)
  elapsed = time.perf_counter() - start
  num_classes = len(procedural.TASKS[name].class_names)
  per_class = procedural.PER_CLASS["train"]
  assert dataset.images.shape == (num_classes * per_class, 32, 32, 1)
  assert dataset.images.dtype == np.uint8 and dataset.labels.dtype == np.int64
  assert np.bincount(dataset.labels).tolist() == [per_class] * num_classes
  assert elapsed < 2.0, f"{name}: {elapsed:.2f}s for {len(dataset)} images"
  again = procedural.generate(name, "train", seed=3)
  np.testing.assert_array_equal(again.images, dataset.images)
  np.testing.assert_array_equal(again.labels, dataset.labels)
  assert not np.array_equal(procedural.generate(name, "train", seed=4).images, dataset.images)
  assert not np.array_equal(procedural.generate(name, "test", seed=3, per_class=per_class).images,
                            dataset.images)


def test_classes_differ_in_mean_image():
  # The label factor must show in the pixels: class-mean images of position differ where
  # the shapes sit (a weak but cheap check that labels are not shuffled against images).
  dataset = procedural.generate("procedural/position", "train", seed=0)
  means = np.stack([dataset.images[dataset.labels == c, ..., 0].mean(0) for c in range(9)])
  brightest_cell = [np.unravel_index(m.argmax(), m.shape) for m in means]
  assert [(r // 11) * 3 + c // 11 for r, c in brightest_cell] == list(range(9))


def test_counting_masks_hold_label_plus_one_blobs():
  rng = np.random.default_rng(0)
  labels = np.arange(6)
  masks = procedural.TASKS["procedural/counting"].render(labels, rng)
  # Blobs sit in distinct 8x8 cells: count the cells that hold any foreground.
  cells = masks.reshape(6, 4, 8, 4, 8).any(axis=(2, 4)).sum(axis=(1, 2))
  np.testing.assert_array_equal(cells, labels + 1)


def test_bad_arguments():
  with pytest.raises(ValueError, match="name"):
    procedural.generate("procedural/colour", "train", 0)
  with pytest.raises(ValueError, match="split"):
    procedural.generate("procedural/shape", "validation", 0)
  with pytest.raises(ValueError, match="per_class"):
    procedural.generate("procedural/shape", "train", 0, per_class=0)
