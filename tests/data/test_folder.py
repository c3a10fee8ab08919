"""Image folders: class subfolders, optional split subfolders, and clear errors."""

import numpy as np
import pytest
from PIL import Image

from guidedrec_jax.data import load_dataset
from guidedrec_jax.data.folder import folder_splits, load_folder


def _write(folder, name, count, size=(12, 10), mode="RGB", value=0):
  folder.joinpath(name).mkdir(parents=True, exist_ok=True)
  for i in range(count):
    pixels = np.full((size[1], size[0], 3), value + i, np.uint8)
    Image.fromarray(pixels).convert(mode).save(folder / name / f"{i}.png")


def test_pool_folder_is_carved_and_read(tmp_path):
  _write(tmp_path, "cat", 20, value=10)
  _write(tmp_path, "dog", 30, size=(7, 9), mode="L", value=100)  # Other size and mode.
  (tmp_path / "dog" / "notes.txt").write_text("not an image")
  name = f"folder:{tmp_path}"
  train, val, test = (load_dataset(name, s, image_size=16) for s in ("train", "val", "test"))
  assert train.class_names == ("cat", "dog")
  assert len(train) + len(val) + len(test) == 50
  assert np.bincount(test.labels).tolist() == [4, 6]
  images = train.images[np.arange(len(train))]
  assert images.shape == (len(train), 16, 16, 3) and images.dtype == np.uint8
  assert train.images[0].shape == (16, 16, 3)
  # Labels follow the files: dog images are grey (100+), cat images dark (10+).
  np.testing.assert_array_equal(images[:, 0, 0, 0] >= 100, train.labels == 1)


def test_split_subfolders(tmp_path):
  for split, count in (("train", 5), ("test", 2)):
    _write(tmp_path / split, "a", count)
    _write(tmp_path / split, "b", count)
  assert folder_splits(tmp_path) == {"train": "train", "val": None, "test": "test"}
  test = load_folder(tmp_path, "test", "test", image_size=8)
  assert len(test) == 4 and test.meta["native_split"] == "test"
  _write(tmp_path / "test", "zebra", 1)
  with pytest.raises(ValueError, match="zebra"):
    load_folder(tmp_path, "test", "test")


def test_one_class_folder_is_refused(tmp_path):
  _write(tmp_path, "only", 3)
  with pytest.raises(ValueError, match="one class"):
    load_dataset(f"folder:{tmp_path}", "train")


def test_empty_or_missing_folder_is_refused(tmp_path):
  (tmp_path / "empty_class").mkdir()
  with pytest.raises(ValueError, match="no class subfolders"):
    load_dataset(f"folder:{tmp_path}", "train")
  with pytest.raises(ValueError, match="not a folder"):
    load_dataset(f"folder:{tmp_path / 'absent'}", "train")


def test_export_folder_round_trips_through_load_folder(tmp_path):
  """scripts/export_image_folder.py's library call: what it writes reads back as a folder."""
  from guidedrec_jax.data.folder import export_folder  # pylint: disable=import-outside-toplevel
  data = load_dataset("digits", "test", max_examples=40)
  out = tmp_path / "digits_png"
  assert export_folder(data, out) == len(data)
  side = data.images[0].shape[0]
  splits = [load_dataset(f"folder:{out}", s, image_size=side) for s in ("train", "val", "test")]
  assert sum(len(d) for d in splits) == len(data)
  assert splits[0].class_names == tuple(sorted(data.class_names))
  first = out / data.class_names[int(data.labels[0])] / "00000.png"
  written = np.asarray(Image.open(first))
  want = np.asarray(data.images[0])
  np.testing.assert_array_equal(written, want[..., 0] if want.shape[-1] == 1 else want)
  with pytest.raises(ValueError, match="exists already"):
    export_folder(data, out)
