"""Datasets and probe sets (torch half: never imports JAX).

`load_dataset(name, split, ...)` returns an `ImageDataset` from offline package files,
procedural generators, TFDS (`tfds.data_source`, no TensorFlow) or an image folder;
`probe_set(dataset, seed)` draws the paper's probe set (<= 2,000 images, <= 25 per class).
"""

from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.data.catalog import CATALOG, TaskSpec
from guidedrec_jax.data.probe import probe_set
from guidedrec_jax.data.registry import SPLITS, dataset_names, load_dataset

__all__ = ["CATALOG", "ImageDataset", "SPLITS", "TaskSpec", "dataset_names", "load_dataset",
           "probe_set"]
