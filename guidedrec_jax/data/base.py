"""The one in-memory form every data source returns, whatever it reads from."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class ImageDataset(NamedTuple):
  """One split of an image classification dataset.

  Attributes:
    name: the catalogue name (e.g. "fashion_mnist", "procedural/counting").
    split: "train", "val" or "test" (sources without a split of their own carve one, seeded).
    images: uint8 [N, H, W, C] (C = 1 or 3), or any object with `len()` and integer-array
      indexing returning such an array (a lazy TFDS data source).
    labels: int64 [N] in 0..num_classes-1.
    class_names: the class names, index = label.
  """
  name: str
  split: str
  images: Any
  labels: np.ndarray
  class_names: tuple[str, ...]

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def __len__(self) -> int:
    return int(self.labels.shape[0])

  def subset(self, indices: np.ndarray, split: str | None = None) -> "ImageDataset":
    """Returns the rows `indices` (sorted int array) as a new dataset."""
    indices = np.asarray(indices)
    images = self.images[indices] if isinstance(self.images, np.ndarray) else _Lazy(self.images, indices)
    return self._replace(images=images, labels=self.labels[indices], split=split or self.split)


class _Lazy:
  """A view of rows of a lazy image source; indexing maps back to the source's rows."""

  def __init__(self, source: Any, indices: np.ndarray):
    self.source, self.indices = source, indices

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, item: Any) -> np.ndarray:
    return self.source[self.indices[item]]
