"""Offline sources: package files parsed safely into uint8 [N, H, W, 1]."""

import codecs
import functools
import gzip
import importlib.util
import os
import pickle

import numpy as np
import pytest

from guidedrec_jax.data import offline
from tests import shared_data


def needs_package(name):
  """Runs a test only where the data package is installed; CI installs it (a failure there)."""
  def decorate(test):
    @functools.wraps(test)
    def wrapped(*args, **kwargs):
      shared_data.require(importlib.util.find_spec(name) is not None, f"data package {name!r}")
      return test(*args, **kwargs)
    return wrapped
  return decorate


def _check(images, labels, n, side):
  assert images.shape == (n, side, side, 1) and images.dtype == np.uint8
  assert labels.shape == (n,) and labels.dtype == np.int64
  assert labels.min() == 0 and labels.max() == 9
  assert images.max() > 200  # Pixels scaled to 0..255, not left as 0..1 or 0..16.


def test_fashion_mnist_idx_files():
  shared_data.require((offline.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(), "Debian's dataset-fashion-mnist")
  _check(*offline.OFFLINE["fashion_mnist"].load("test", None), 10000, 28)


@needs_package("mnist")
def test_mnist_pickle_has_all_256_levels():
  images, labels = offline.OFFLINE["mnist"].load("val", None)
  _check(images, labels, 10000, 28)
  assert np.unique(images).size == 256  # k/256 floats mapped back to every byte value.
  assert not images.flags.writeable  # Cached arrays are shared: callers must not alter them.


@needs_package("animal_mnist")
def test_animal_mnist_pickles():
  images, labels = offline.OFFLINE["animal_mnist"].load("all", None)
  _check(images, labels, 10000, 28)
  assert np.bincount(labels).tolist() == [1000] * 10


def test_digits_from_scikit_learn():
  _check(*offline.OFFLINE["digits"].load("all", None), 1797, 8)


def test_read_idx_roundtrip_and_bad_header(tmp_path):
  array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  path = tmp_path / "x-idx3-ubyte.gz"
  header = b"\x00\x00\x08\x03" + np.array(array.shape, ">u4").tobytes()
  path.write_bytes(gzip.compress(header + array.tobytes()))
  np.testing.assert_array_equal(offline.read_idx(path), array)
  path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00" * 8))  # float32 IDX.
  with pytest.raises(ValueError, match="unsigned-byte"):
    offline.read_idx(path)


@pytest.mark.parametrize("protocol", [2, 4])
def test_array_pickles_load_and_other_objects_are_refused(tmp_path, protocol):
  path = tmp_path / "arrays.gz"
  arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), [np.ones(2, np.int64)])
  path.write_bytes(gzip.compress(pickle.dumps(arrays, protocol=protocol)))
  loaded = offline.read_array_pickle(path)
  np.testing.assert_array_equal(loaded[0], arrays[0])
  np.testing.assert_array_equal(loaded[1][0], arrays[1][0])

  class Payload:  # What a hostile pickle does: call an arbitrary function while loading.
    def __reduce__(self):
      return (os.system, ("echo pwned",))
  path.write_bytes(gzip.compress(pickle.dumps(Payload())))
  with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
    offline.read_array_pickle(path)

  class OtherCodec:  # The one allowed builtin, with a codec other than latin-1.
    def __reduce__(self):
      return (codecs.encode, ("text", "rot13"))
  path.write_bytes(gzip.compress(pickle.dumps(OtherCodec())))
  with pytest.raises(pickle.UnpicklingError, match="latin-1"):
    offline.read_array_pickle(path)


def test_data_dir_that_lacks_the_file_is_reported(tmp_path):
  with pytest.raises(FileNotFoundError, match="mnist.pkl.gz"):
    offline.OFFLINE["mnist"].load("train", str(tmp_path))
