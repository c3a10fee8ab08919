"""TFDS datasets through `tfds.data_source`: random access to prepared data, no TensorFlow.

Images stay on disk: `TfdsImages` decodes the rows asked for. Labels are needed up front
(to stratify), and without TensorFlow TFDS can only hand out fully decoded examples, so
reading them decodes every image once; they are then cached (`.npz` + sidecar) under
`paths.cache_dir()/tfds_labels`, keyed by dataset version, split, label rule and data_dir.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from guidedrec_jax import io, paths
from guidedrec_jax.data import catalog
from guidedrec_jax.data.base import ImageDataset, LazyImages

# Variable-size TFDS images are resized to this side unless the caller asks otherwise:
# a common model input size, so the fine-tuning/extraction resize is usually a no-op.
DEFAULT_IMAGE_SIZE = 224


class TfdsImages(LazyImages):
  """Lazy uint8 [N, H, W, C] images of a TFDS data source; indexing decodes those rows."""

  def __init__(self, source: Any, image_size: int | None, pixel_scale: int = 1):
    self.source, self.image_size, self.pixel_scale = source, image_size, pixel_scale

  def __len__(self) -> int:
    return len(self.source)

  def read(self, index: int) -> np.ndarray:
    image = np.asarray(self.source[index]["image"])
    image = image[..., None] if image.ndim == 2 else image
    return image * np.uint8(self.pixel_scale) if self.pixel_scale != 1 else image


def open_source(tfds_name: str, split: str, data_dir: str | None) -> Any:
  """Returns `tfds.data_source(tfds_name, split)` over prepared data (never downloads).

  Raises:
    FileNotFoundError: the dataset is not prepared under `data_dir`.
  """
  import tensorflow_datasets as tfds  # Imported here: offline/procedural users need no TFDS.
  try:
    return tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=False)
  # Unprepared data surfaces as an assertion, a missing file, or (no array_record/parquet
  # files, the only formats with random access) NotImplementedError.
  except (AssertionError, FileNotFoundError, NotImplementedError) as e:
    raise FileNotFoundError(
        f"TFDS dataset {tfds_name!r} split {split!r} is not prepared for random access under "
        f"data_dir={data_dir!r}; prepare it with `tfds build {tfds_name} "
        f"--file_format=array_record` ({e})") from e


def class_names(spec: catalog.TaskSpec, source: Any) -> tuple[str, ...]:
  """Returns the task's class names: from its label rule, else from the ClassLabel feature.

  Raises:
    ValueError: the label feature is missing or is not a ClassLabel.
  """
  if spec.label in catalog.LABEL_RULES:
    return catalog.LABEL_RULES[spec.label][1]
  features = source.dataset_info.features
  if spec.label not in features or not hasattr(features[spec.label], "names"):
    raise ValueError(f"label {spec.label!r} is not a ClassLabel feature of {spec.tfds_name!r}; "
                     f"features: {sorted(features.keys())}")
  return tuple(features[spec.label].names)


def read_labels(spec: catalog.TaskSpec, source: Any, num_classes: int) -> np.ndarray:
  """Returns int64 [N] labels of every example (decodes each example once).

  Raises:
    ValueError: a label falls outside 0..num_classes-1 (the rule does not fit the data).
  """
  rule = catalog.LABEL_RULES[spec.label][0] if spec.label in catalog.LABEL_RULES else None
  labels = np.empty(len(source), np.int64)
  for i in range(len(source)):
    example = source[i]
    try:
      labels[i] = rule(example) if rule else int(example[spec.label])
    except (KeyError, IndexError, ValueError) as e:  # The example lacks what the rule reads.
      raise ValueError(f"label rule {spec.label!r} does not fit example {i} of "
                       f"{spec.tfds_name!r} ({type(e).__name__}: {e})") from e
  bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
  if bad.size:
    raise ValueError(f"label rule {spec.label!r} gave {labels[bad[0]]} for example {bad[0]} of "
                     f"{spec.tfds_name!r}; expected 0..{num_classes - 1}")
  return labels


def _cached_labels(spec: catalog.TaskSpec, split: str, source: Any, data_dir: str | None,
                   num_classes: int) -> np.ndarray:
  """`read_labels`, through a checked cache so the decoding pass runs once per split."""
  info = source.dataset_info
  key = {"tfds_name": spec.tfds_name, "version": str(info.version), "split": split,
         "label": spec.label, "num_examples": len(source), "data_dir": str(data_dir)}
  stem = f"{spec.tfds_name}_{split}_{spec.label}"
  safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
  path = paths.cache_dir() / "tfds_labels" / f"{safe}.npz"
  try:
    return io.load_arrays(path, expect=key)[0]["labels"]
  except (FileNotFoundError, io.CacheError):
    labels = read_labels(spec, source, num_classes)
    io.save_arrays(path, {"labels": labels}, key)
    return labels


def load_tfds_split(spec: catalog.TaskSpec, tfds_split: str, split: str, data_dir: str | None,
                    image_size: int | None = None) -> ImageDataset:
  """Loads one TFDS split of a task as a lazy `ImageDataset`.

  Args:
    spec: the task.
    tfds_split: the TFDS split string ("train", "train[:90%]").
    split: our split name to record ("train", "val", "test").
    data_dir: where the prepared TFDS data lives (None: TFDS's default).
    image_size: resize images to this side; None keeps fixed-size datasets native and
      resizes variable-size ones to `DEFAULT_IMAGE_SIZE`.

  Raises:
    ValueError: the task is not in TFDS, or its labels do not fit.
    FileNotFoundError: the data is not prepared.
  """
  if spec.tfds_name is None:
    raise ValueError(f"name {spec.name!r} is not in TFDS ({spec.notes}); "
                     "load a local copy with 'folder:<path>'")
  source = open_source(spec.tfds_name, tfds_split, data_dir)
  names = class_names(spec, source)
  labels = _cached_labels(spec, tfds_split, source, data_dir, len(names))
  shape = source.dataset_info.features["image"].shape
  if image_size is None and None in shape[:2]:
    image_size = DEFAULT_IMAGE_SIZE
  images = TfdsImages(source, image_size, spec.pixel_scale)
  meta = {"source": "tfds", "tfds_name": spec.tfds_name, "native_split": tfds_split,
          "version": str(source.dataset_info.version), "label": spec.label,
          "image_size": image_size}
  return ImageDataset(spec.name, split, images, labels, names, meta)


def split_names(tfds_name: str, data_dir: str | None) -> set[str]:
  """Returns which of train/validation/test a prepared TFDS dataset holds ("tfds:<name>").

  Raises:
    FileNotFoundError: none of them opens (the dataset is not prepared).
  """
  found, error = set(), None
  for name in ("train", "validation", "test"):
    try:
      open_source(tfds_name, name, data_dir)
      found.add(name)
    except (FileNotFoundError, ValueError, KeyError) as e:  # TFDS: unknown split -> ValueError.
      error = e
  if not found:
    raise FileNotFoundError(f"TFDS dataset {tfds_name!r}: no split opens ({error})") from error
  return found
