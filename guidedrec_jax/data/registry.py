"""`load_dataset`: one entry point from a dataset name to an `ImageDataset` split.

Names: the offline sets ("fashion_mnist", "mnist", "animal_mnist", "digits"), the procedural
tasks ("procedural/shape", ...), the catalogue's TFDS tasks ("cifar100", "clevr_count", ...),
"tfds:<tfds name>" for any other prepared TFDS dataset, and "folder:<path>".

Splits a source lacks are carved, stratified, from its train pool: the test split with a
fixed seed (so every run is tested on the same images) and the validation split with the
caller's seed. What was carved and subsampled is recorded in the dataset's `meta`.
"""

from __future__ import annotations

import difflib
import numbers
from typing import Callable, Mapping, NamedTuple

import numpy as np

from guidedrec_jax.data import catalog, folder, offline, procedural, tfds_source
from guidedrec_jax.data.base import (ImageDataset, carve, indices_sha256, proportional_counts,
                                     sample_per_class, seeded_rng)

SPLITS = ("train", "val", "test")
TEST_FRACTION = 0.2
TEST_SEED = 0
VAL_FRACTION = 0.1


class _Source(NamedTuple):
  """Our split -> native split (None: carve), and a loader (native split, our split) -> data."""
  splits: Mapping[str, str | None]
  load: Callable[[str, str], ImageDataset]


def dataset_names() -> list[str]:
  """Returns every name `load_dataset` knows, besides "tfds:<name>" and "folder:<path>"."""
  return sorted([*offline.OFFLINE, *procedural.TASKS, *catalog.CATALOG])


def _offline_source(name: str, data_dir: str | None) -> _Source:
  spec = offline.OFFLINE[name]
  def load(native: str, split: str) -> ImageDataset:
    images, labels = spec.load(native, data_dir)
    return ImageDataset(name, split, images, labels, spec.class_names,
                        {"source": "offline", "native_split": native})
  return _Source(spec.splits, load)


def _tfds_source(spec: catalog.TaskSpec, data_dir: str | None, image_size: int | None) -> _Source:
  return _Source(spec.splits, lambda native, split: tfds_source.load_tfds_split(
      spec, native, split, data_dir, image_size))


def _source(name: str, data_dir: str | None, seed: int, image_size: int | None) -> _Source:
  """Returns the source behind a name.

  Raises:
    ValueError: unknown name (listing close matches), or a bad folder.
  """
  if name in ("folder:", "tfds:"):
    raise ValueError(f"name {name!r} needs a path or TFDS name after the prefix")
  if name.startswith("folder:"):
    root = name[len("folder:"):]
    return _Source(folder.folder_splits(root),
                   lambda native, split: folder.load_folder(root, native, split, image_size))
  if name.startswith("tfds:"):
    tfds_name = name[len("tfds:"):]
    spec = catalog.generic_task(tfds_name, tfds_source.split_names(tfds_name, data_dir))
    return _tfds_source(spec, data_dir, image_size)
  if name in offline.OFFLINE:
    return _offline_source(name, data_dir)
  if name in procedural.TASKS:
    return _Source({s: s for s in SPLITS},
                   lambda native, split: procedural.generate(name, native, seed))
  if name in catalog.CATALOG:
    return _tfds_source(catalog.CATALOG[name], data_dir, image_size)
  close = difflib.get_close_matches(name, dataset_names(), n=5, cutoff=0.5)
  hint = f"did you mean {close}?" if close else f"known names: {dataset_names()}"
  raise ValueError(f"name {name!r} is not a known dataset ({hint}); "
                   "other forms: 'tfds:<tfds name>', 'folder:<path>'")


def _with_meta(dataset: ImageDataset, **entries: object) -> ImageDataset:
  return dataset.replace(meta={**(dataset.meta or {}), **entries})


def _split(source: _Source, split: str, seed: int) -> ImageDataset:
  """Loads a native split, or carves it (and train, the rest) from the train pool."""
  native = source.splits[split]
  if native is not None and (split != "train" or None not in source.splits.values()):
    return source.load(native, split)
  pool = source.load(source.splits["train"], "train")
  keep, record = np.arange(len(pool)), {"carved_from": source.splits["train"]}
  if source.splits["test"] is None:
    keep, test = carve(pool.labels, TEST_FRACTION, TEST_SEED, "test")
    record.update(test_fraction=TEST_FRACTION, test_seed=TEST_SEED)
    if split == "test":
      return _with_meta(pool.subset(test, "test"), **record, indices_sha256=indices_sha256(test))
  if source.splits["val"] is None:
    rest, val = carve(pool.labels[keep], VAL_FRACTION, seed, "val")
    record.update(val_fraction=VAL_FRACTION, val_seed=seed)
    keep = keep[val] if split == "val" else keep[rest]
  return _with_meta(pool.subset(keep, split), **record, indices_sha256=indices_sha256(keep))


def _check_args(name: object, split: object, seed: object, max_examples: object,
                image_size: object) -> None:
  if not isinstance(name, str) or not name:
    raise ValueError(f"name must be a non-empty string, got {name!r}")
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
  if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
    raise ValueError(f"seed must be an integer, got {seed!r}")
  for arg, value in (("max_examples", max_examples), ("image_size", image_size)):
    if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                              or value < 1):
      raise ValueError(f"{arg} must be None or a positive integer, got {value!r}")


def load_dataset(name: str, split: str, data_dir: str | None = None, seed: int = 0,
                 max_examples: int | None = None, *, image_size: int | None = None) -> ImageDataset:
  """Loads one split of a dataset.

  Args:
    name: a name from `dataset_names()`, "tfds:<tfds name>" or "folder:<path>".
    split: "train", "val" or "test".
    data_dir: where the files live: the TFDS data_dir, or a folder holding an offline set's
      files (default: the installed packages / system folder).
    seed: picks the carved validation split, the subsample, and the procedural images.
    max_examples: keep at most this many, stratified (class proportions kept) and seeded.
    image_size: square side for lazy sources (folder, TFDS); fixed-size sources stay native.

  Returns:
    The split, with `meta` recording source, carving and subsampling.

  Raises:
    ValueError: a bad argument (unknown names list close matches), a one-class or empty
      folder, or labels that do not fit the task.
    FileNotFoundError: the data is not where it should be.
  """
  _check_args(name, split, seed, max_examples, image_size)
  dataset = _split(_source(name, data_dir, int(seed), image_size), split, int(seed))
  dataset = _with_meta(dataset, name=name, split=split, seed=int(seed), max_examples=max_examples)
  if max_examples is None or max_examples >= len(dataset):
    return dataset
  class_counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
  counts = proportional_counts(class_counts, max_examples)
  chosen = sample_per_class(dataset.labels, counts, seeded_rng(seed, f"subsample/{split}"))
  return _with_meta(dataset.subset(chosen), subsample_sha256=indices_sha256(chosen))
