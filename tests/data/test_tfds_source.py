"""The TFDS adapter on TFDS's generated mock data (works without TensorFlow), and the
catalogue's label rules on hand-made examples."""

import json

import numpy as np
import pytest

from guidedrec_jax.data import CATALOG, load_dataset
from guidedrec_jax.data.catalog import LABEL_RULES, generic_task


def test_catalog_lists_forty_tasks_with_splits():
  assert len(CATALOG) == 40
  groups = {task.group for task in CATALOG.values()}
  assert {"natural", "specialized", "structured", "fine-grained"} <= groups
  assert sum(task.group == "structured" for task in CATALOG.values()) == 8
  for task in CATALOG.values():
    assert set(task.splits) == {"train", "val", "test"} and task.splits["train"]
    assert task.label == "label" or task.label.startswith("label_") or task.label in LABEL_RULES
  assert CATALOG["fgvc_aircraft"].tfds_name is None


def test_label_rules_follow_vtab_conventions():
  count, _ = LABEL_RULES["clevr_count"]
  assert count({"objects": {"size": np.zeros(3)}}) == 0
  assert count({"objects": {"size": np.zeros(10)}}) == 7
  distance, names = LABEL_RULES["clevr_distance"]
  coords = np.array([[0, 0, 9.2], [0, 0, 8.7]])
  assert names[distance({"objects": {"pixel_coords": coords}})] == "8.5-9"
  orientation, names = LABEL_RULES["dsprites_orientation"]
  assert [orientation({"label_orientation": v}) for v in (0, 2, 3, 39)] == [0, 0, 1, 15]
  assert len(names) == 16
  kitti, names = LABEL_RULES["kitti_distance"]
  location = np.array([[0, 0, 2.0], [0, 0, 15.0], [0, 0, 30.0]])
  objects = {"type": np.array([3, 0, 1]), "location": location}
  assert names[kitti({"objects": objects})] == "8-20m"  # The pedestrian at 2 m is no vehicle.
  no_vehicle = {"type": np.array([4]), "location": np.zeros((1, 3))}
  assert names[kitti({"objects": no_vehicle})] == "no_vehicle"


def test_generic_task_uses_the_splits_present():
  expected = {"train": "train", "val": None, "test": "test"}
  assert generic_task("x", {"train", "test"}).splits == expected
  assert generic_task("x", {"test"}).splits == {"train": "test", "val": None, "test": None}
  with pytest.raises(ValueError, match="no train or test"):
    generic_task("x", {"extra"})


def test_catalog_task_on_mock_data(mock_tfds, private_cache):
  train = load_dataset("cifar10", "train", seed=1)
  val = load_dataset("cifar10", "val", seed=1)
  test = load_dataset("cifar10", "test")
  assert len(train) + len(val) == mock_tfds and len(test) == mock_tfds
  assert train.num_classes == 10 and train.labels.dtype == np.int64
  batch = train.images[np.array([0, 2, 5])]
  assert batch.shape == (3, 32, 32, 3) and batch.dtype == np.uint8
  assert train.images[1].shape == (32, 32, 3)
  assert train.meta["tfds_name"] == "cifar10" and train.meta["val_seed"] == 1
  json.dumps(train.meta)
  assert list(private_cache.glob("tfds_labels/*.npz"))  # Labels were cached...
  again = load_dataset("cifar10", "train", seed=1)  # ...and the cache gives the same labels.
  np.testing.assert_array_equal(again.labels, train.labels)


def test_variable_size_images_are_resized(mock_tfds):
  dataset = load_dataset("caltech101", "test", max_examples=5)
  assert dataset.images[np.arange(len(dataset))].shape[1:] == (224, 224, 3)
  small = load_dataset("caltech101", "test", max_examples=5, image_size=48)
  assert small.images[np.arange(2)].shape == (2, 48, 48, 3)


def test_label_rule_and_sub_splits_on_mock_dsprites(mock_tfds):
  dataset = load_dataset("dsprites_orientation", "val")
  assert dataset.num_classes == 16 and dataset.labels.max() < 16
  assert dataset.meta["native_split"] == "train[60%:80%]"


def test_tfds_prefix_reads_any_prepared_dataset(mock_tfds):
  dataset = load_dataset("tfds:cifar100", "test")
  assert dataset.num_classes == 100 and len(dataset) == mock_tfds


def test_labels_that_do_not_fit_are_reported(mock_tfds):
  # Mock CLEVR scenes hold random numbers of objects, far beyond CLEVR's 3..10.
  with pytest.raises(ValueError, match="clevr_count"):
    load_dataset("clevr_count", "train")


def test_task_missing_from_tfds_points_to_folders():
  with pytest.raises(ValueError, match="folder:"):
    load_dataset("fgvc_aircraft", "train")


def test_unprepared_data_dir_is_a_clear_error(tmp_path, private_cache):
  import tensorflow_datasets  # noqa: F401  (a dependency: a missing one fails)
  with pytest.raises(FileNotFoundError, match="not prepared"):
    load_dataset("cifar10", "test", data_dir=str(tmp_path))
