"""The one in-memory form every data source returns, and the seeded, stratified index choices
(validation carving, subsampling, probe sets) that all sources share."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, Mapping, NamedTuple, Sequence

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
    meta: JSON-able provenance (source, native split, carving and subsampling applied);
      None for datasets built by hand.
  """
  name: str
  split: str
  images: Any
  labels: np.ndarray
  class_names: tuple[str, ...]
  meta: Mapping[str, Any] | None = None

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def __len__(self) -> int:
    return int(self.labels.shape[0])

  def replace(self, **changes: Any) -> "ImageDataset":
    """Returns a copy with `changes` (field name -> value).

    Use this, not `_replace`: NamedTuple's `_replace` checks `len(result)` against the number
    of fields, and `len()` here counts examples, so it fails on almost every dataset.
    """
    return ImageDataset(**{**self._asdict(), **changes})

  def subset(self, indices: np.ndarray, split: str | None = None) -> "ImageDataset":
    """Returns the rows `indices` (sorted int array) as a new dataset."""
    indices = np.asarray(indices)
    lazy = not isinstance(self.images, np.ndarray)
    images = _Lazy(self.images, indices) if lazy else self.images[indices]
    return self.replace(images=images, labels=self.labels[indices], split=split or self.split)


class _Lazy:
  """A view of rows of a lazy image source; indexing maps back to the source's rows."""

  def __init__(self, source: Any, indices: np.ndarray):
    self.source, self.indices = source, indices

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, item: Any) -> np.ndarray:
    return self.source[self.indices[item]]


class LazyImages:
  """Images read on demand: indexing with an int gives [H, W, C], with an int array [n, H, W, C].

  Subclasses say how many images there are (`__len__`) and how to read one (`read`);
  `image_size` (square side, or None for native sizes) makes a batch stackable.
  """
  image_size: int | None = None

  def __len__(self) -> int:
    raise NotImplementedError

  def read(self, index: int) -> np.ndarray:
    """Returns image `index` as uint8 [H, W, C]."""
    raise NotImplementedError

  def __getitem__(self, item: Any) -> np.ndarray:
    rows = np.asarray(item)
    batch = stack_images([self.read(int(i)) for i in rows.reshape(-1)], self.image_size)
    return batch[0] if rows.ndim == 0 else batch


def seeded_rng(seed: int, purpose: str) -> np.random.Generator:
  """Returns a generator for one purpose ("val", "probe", ...) of one seed.

  Different purposes of the same seed draw independent streams, so carving a validation
  split never correlates with the probe set drawn from it.
  """
  return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())]))


def proportional_counts(class_counts: np.ndarray, total: int) -> np.ndarray:
  """Splits `total` across classes in proportion to `class_counts` (largest remainder).

  Args:
    class_counts: int [C], examples available per class.
    total: how many to take, 0 <= total <= class_counts.sum().

  Returns:
    int64 [C], each at most its class count, summing to `total`.
  """
  class_counts = np.asarray(class_counts, np.int64)
  exact = class_counts * (total / max(int(class_counts.sum()), 1))
  counts = np.floor(exact).astype(np.int64)
  # Ties broken by class index (stable sort), so the result never depends on float noise order.
  order = np.argsort(-(exact - counts), kind="stable")
  counts[order[:total - int(counts.sum())]] += 1
  return counts


def balanced_counts(class_counts: np.ndarray, total: int, cap: int) -> np.ndarray:
  """Splits up to `total` as evenly as possible across classes, at most `cap` per class.

  Water-filling: small classes give all they have and the rest is shared among larger ones;
  a remainder that cannot be shared evenly goes to the lowest class indices.

  Returns:
    int64 [C], summing to min(total, sum(min(class_counts, cap))).
  """
  available = np.minimum(np.asarray(class_counts, np.int64), cap)
  total = min(int(total), int(available.sum()))
  counts = np.zeros_like(available)
  while counts.sum() < total:
    open_classes = np.flatnonzero(counts < available)
    share = max((total - int(counts.sum())) // len(open_classes), 1)
    for c in open_classes:
      if counts.sum() == total:
        break
      counts[c] += min(share, available[c] - counts[c])
  return counts


def sample_per_class(labels: np.ndarray, counts: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
  """Returns sorted indices holding `counts[c]` examples of each class c (no replacement)."""
  chosen = [rng.choice(np.flatnonzero(labels == c), size=int(k), replace=False)
            for c, k in enumerate(counts) if k > 0]
  return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def carve(labels: np.ndarray, fraction: float, seed: int,
          purpose: str) -> tuple[np.ndarray, np.ndarray]:
  """Splits indices into (kept, carved), stratified: about `fraction` of each class is carved.

  Raises:
    ValueError: `fraction` is not in (0, 1).
  """
  if not 0.0 < fraction < 1.0:
    raise ValueError(f"fraction must be in (0, 1), got {fraction}")
  counts = proportional_counts(np.bincount(labels), round(len(labels) * fraction))
  carved = sample_per_class(labels, counts, seeded_rng(seed, purpose))
  return np.setdiff1d(np.arange(len(labels)), carved), carved


def indices_sha256(indices: np.ndarray) -> str:
  """Returns the sha256 of indices as little-endian int64: a short, exact record of a subset."""
  return hashlib.sha256(np.asarray(indices, "<i8").tobytes()).hexdigest()


def stack_images(images: Sequence[np.ndarray], image_size: int | None) -> np.ndarray:
  """Stacks HWC uint8 images into [N, H, W, C], resizing each to image_size² if given.

  Raises:
    ValueError: sizes differ and `image_size` is None.
  """
  if image_size is not None:
    from PIL import Image  # Imported here: only variable-size sources resize.
    resized = []
    for image in images:
      pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
      out = np.asarray(pil.resize((image_size, image_size), Image.BILINEAR))
      resized.append(out[..., None] if out.ndim == 2 else out)
    images = resized
  shapes = {image.shape for image in images}
  if len(shapes) > 1:
    raise ValueError(f"images differ in size ({sorted(shapes)[:3]}...); pass image_size")
  return np.stack(images) if images else np.zeros((0, 1, 1, 1), np.uint8)
