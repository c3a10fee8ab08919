"""`load_dataset`: names, argument checks, carving, subsampling and determinism."""

import json

import numpy as np
import pytest
from PIL import Image

from guidedrec_jax.data import SPLITS, dataset_names, load_dataset
from guidedrec_jax.data.offline import FASHION_MNIST_DIR
from guidedrec_jax.data.registry import TEST_FRACTION, VAL_FRACTION
from tests import shared_data

POOL = "procedural/shape"  # Fast, and its native splits test the no-carving path.


def test_names_cover_every_source_kind():
  names = dataset_names()
  for expected in ("fashion_mnist", "mnist", "animal_mnist", "digits", "procedural/counting",
                   "cifar100", "clevr_count"):
    assert expected in names


@pytest.mark.parametrize("bad, match", [
    ("fashon_mnist", r"did you mean \['fashion_mnist'"),
    ("procedural/count", "procedural/counting"),
    ("CIFAR-100", "cifar100"),
    ("folder:", "after the prefix"),
])
def test_unknown_names_list_close_matches(bad, match):
  with pytest.raises(ValueError, match=match):
    load_dataset(bad, "train")


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "validation"}, "split"),
    ({"split": "train", "seed": 1.5}, "seed"),
    ({"split": "train", "max_examples": 0}, "max_examples"),
    ({"split": "train", "image_size": -3}, "image_size"),
])
def test_bad_arguments_are_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    load_dataset(POOL, **kwargs)


def _digits(split, seed=0, max_examples=None):
  return load_dataset("digits", split, seed=seed, max_examples=max_examples)


def test_carved_splits_partition_the_pool(tmp_path):
  # Every image is one unique grey level, so pixels identify rows across splits.
  for c, name in enumerate(("a", "b", "c")):
    (tmp_path / name).mkdir()
    for i in range(20):
      Image.fromarray(np.full((4, 4), c * 20 + i, np.uint8)).save(tmp_path / name / f"{i}.png")
  splits = {s: load_dataset(f"folder:{tmp_path}", s, seed=3, image_size=4) for s in SPLITS}
  levels = {s: set(d.images[np.arange(len(d))][:, 0, 0, 0].tolist()) for s, d in splits.items()}
  assert sorted(levels["train"] | levels["val"] | levels["test"]) == list(range(60))
  assert sum(map(len, levels.values())) == 60
  per_class = [np.bincount(splits[s].labels).tolist() for s in SPLITS]
  assert per_class == [[14, 14, 15], [2, 2, 1], [4, 4, 4]]


def test_carved_splits_are_stratified_and_recorded():
  splits = {s: _digits(s, seed=5) for s in SPLITS}
  assert sum(len(d) for d in splits.values()) == 1797
  assert len(splits["test"]) == round(1797 * TEST_FRACTION)
  assert len(splits["val"]) == round((1797 - len(splits["test"])) * VAL_FRACTION)
  train_share = np.bincount(splits["train"].labels) / len(splits["train"])
  val_share = np.bincount(splits["val"].labels) / len(splits["val"])
  assert np.abs(train_share - val_share).max() < 0.02
  meta = splits["val"].meta
  assert (meta["val_seed"], meta["val_fraction"], meta["test_seed"]) == (5, VAL_FRACTION, 0)
  json.dumps(meta)


def test_test_split_is_fixed_but_val_follows_the_seed():
  np.testing.assert_array_equal(_digits("test", seed=1).images, _digits("test", seed=2).images)
  assert not np.array_equal(_digits("val", seed=1).images, _digits("val", seed=2).images)
  np.testing.assert_array_equal(_digits("val", seed=1).images, _digits("val", seed=1).images)


def test_max_examples_is_stratified_and_deterministic():
  full = load_dataset(POOL, "train")
  small = load_dataset(POOL, "train", max_examples=100, seed=0)
  assert len(small) == 100 and np.bincount(small.labels).tolist() == [25] * 4
  np.testing.assert_array_equal(small.images, load_dataset(POOL, "train", max_examples=100).images)
  assert small.meta["max_examples"] == 100 and "subsample_sha256" in small.meta
  assert len(load_dataset(POOL, "train", max_examples=10**6)) == len(full)


def test_seed_changes_procedural_images():
  a, b = load_dataset(POOL, "test", seed=0), load_dataset(POOL, "test", seed=1)
  assert not np.array_equal(a.images, b.images)
  np.testing.assert_array_equal(a.images, load_dataset(POOL, "test", seed=0).images)


def test_offline_native_splits_are_not_carved():
  shared_data.require((FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(), "Debian's dataset-fashion-mnist")
  dataset = load_dataset("fashion_mnist", "test", seed=7)
  assert len(dataset) == 10000 and "carved_from" not in dataset.meta
