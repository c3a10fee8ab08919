"""The target tasks: 40 image classification tasks named by how TFDS stores them.

The paper fine-tunes on 40 downstream tasks; this catalogue holds the VTAB-1k set (natural,
specialized, structured) plus fine-grained and other classification sets of the kind it
lists. It is our list, not a verbatim copy of the paper's table. Each task says which TFDS
split serves as our train/val/test (None: carved from train, seeded and stratified, by the
registry) and how an example maps to a class label: a ClassLabel feature, or a rule from
`LABEL_RULES` (the VTAB conventions for the structured tasks). Tasks TFDS lacks carry
`tfds_name=None`; use them through "folder:<path>" with a local copy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np

Example = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One target task.

  Attributes:
    name: catalogue name (what `load_dataset` accepts).
    tfds_name: TFDS name with config ("eurosat/rgb"), or None when TFDS lacks the dataset.
    splits: our split ("train", "val", "test") -> TFDS split string, or None to carve.
    label: a ClassLabel feature key ("label"), or a key of `LABEL_RULES`.
    group: "natural", "specialized", "structured", "fine-grained" or "other".
    pixel_scale: multiplies pixels (dSprites stores 0/1 masks).
    notes: anything a user needs to know to reproduce the task.
  """
  name: str
  tfds_name: str | None
  splits: Mapping[str, str | None]
  label: str = "label"
  group: str = "natural"
  pixel_scale: int = 1
  notes: str = ""


def _bin(value: int, num_values: int, num_bins: int) -> int:
  """Bins an integer factor value into `num_bins` equal ranges (VTAB's dSprites binning)."""
  return int(value) * num_bins // num_values


def _clevr_count(example: Example) -> int:
  return len(example["objects"]["size"]) - 3  # CLEVR scenes hold 3..10 objects.


def _clevr_distance(example: Example) -> int:
  depth = np.min(np.asarray(example["objects"]["pixel_coords"])[:, 2])
  return int(np.searchsorted([0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0], depth, side="left") - 1)


def _kitti_distance(example: Example) -> int:
  # KITTI types 0-2 are Car, Van, Truck; with no vehicle the distance is "infinite" (class 3).
  objects = example["objects"]
  depth = np.asarray(objects["location"]).reshape(-1, 3)[np.asarray(objects["type"]) < 3, 2]
  nearest = float(np.min(depth)) if depth.size else 1000.0
  return int(np.searchsorted([-100.0, 8.0, 20.0, 999.0], nearest, side="left") - 1)


# name -> (example -> label, class names).
LABEL_RULES: dict[str, tuple[Callable[[Example], int], tuple[str, ...]]] = {
    "clevr_count": (_clevr_count, tuple(str(n) for n in range(3, 11))),
    "clevr_distance": (_clevr_distance, ("lt8", "8-8.5", "8.5-9", "9-9.5", "9.5-10", "gt10")),
    "dsprites_location": (lambda e: _bin(e["label_x_position"], 32, 16),
                          tuple(f"x_bin{i}" for i in range(16))),
    "dsprites_orientation": (lambda e: _bin(e["label_orientation"], 40, 16),
                             tuple(f"angle_bin{i}" for i in range(16))),
    "kitti_distance": (_kitti_distance, ("le8m", "8-20m", "gt20m", "no_vehicle")),
}

_STD = {"train": "train", "val": None, "test": "test"}
_TVT = {"train": "train", "val": "validation", "test": "test"}
_ONLY_TRAIN = {"train": "train", "val": None, "test": None}
_ONLY_TEST = {"train": "test", "val": None, "test": None}
_VAL_AS_TEST = {"train": "train", "val": None, "test": "validation"}

_TASKS = (
    # VTAB-1k natural.
    TaskSpec("caltech101", "caltech101", _STD),
    TaskSpec("cifar100", "cifar100", _STD),
    TaskSpec("dtd", "dtd", _TVT),
    TaskSpec("oxford_flowers102", "oxford_flowers102", _TVT),
    TaskSpec("oxford_iiit_pet", "oxford_iiit_pet", _STD),
    TaskSpec("sun397", "sun397/tfds", _TVT),
    TaskSpec("svhn", "svhn_cropped", _STD),
    # VTAB-1k specialized.
    TaskSpec("patch_camelyon", "patch_camelyon", _TVT, group="specialized"),
    TaskSpec("eurosat", "eurosat/rgb", _ONLY_TRAIN, group="specialized"),
    TaskSpec("resisc45", "resisc45", _ONLY_TRAIN, group="specialized"),
    TaskSpec("retinopathy", "diabetic_retinopathy_detection/btgraham-300", _TVT,
             group="specialized", notes="manual download from Kaggle"),
    # VTAB-1k structured, with VTAB's split and label conventions.
    TaskSpec("clevr_count", "clevr",
             {"train": "train[:90%]", "val": "train[90%:]", "test": "validation"},
             label="clevr_count", group="structured", notes="CLEVR test has no labels"),
    TaskSpec("clevr_distance", "clevr",
             {"train": "train[:90%]", "val": "train[90%:]", "test": "validation"},
             label="clevr_distance", group="structured"),
    TaskSpec("dsprites_location", "dsprites",
             {"train": "train[:60%]", "val": "train[60%:80%]", "test": "train[80%:]"},
             label="dsprites_location", group="structured", pixel_scale=255),
    TaskSpec("dsprites_orientation", "dsprites",
             {"train": "train[:60%]", "val": "train[60%:80%]", "test": "train[80%:]"},
             label="dsprites_orientation", group="structured", pixel_scale=255),
    TaskSpec("smallnorb_azimuth", "smallnorb",
             {"train": "train", "val": "test[:50%]", "test": "test[50%:]"},
             label="label_azimuth", group="structured"),
    TaskSpec("smallnorb_elevation", "smallnorb",
             {"train": "train", "val": "test[:50%]", "test": "test[50%:]"},
             label="label_elevation", group="structured"),
    TaskSpec("dmlab", "dmlab", _TVT, group="structured"),
    TaskSpec("kitti_distance", "kitti", _TVT, label="kitti_distance", group="structured"),
    # Fine-grained.
    TaskSpec("cub200", "caltech_birds2011", _STD, group="fine-grained"),
    TaskSpec("stanford_dogs", "stanford_dogs", _STD, group="fine-grained"),
    TaskSpec("stanford_cars", "cars196", _STD, group="fine-grained"),
    TaskSpec("food101", "food101", _VAL_AS_TEST, group="fine-grained"),
    TaskSpec("fgvc_aircraft", None, _STD, group="fine-grained", notes="not in TFDS"),
    TaskSpec("nabirds", None, _STD, group="fine-grained", notes="not in TFDS"),
    # Other natural, ImageNet and domain-specific sets.
    TaskSpec("cifar10", "cifar10", _STD),
    TaskSpec("caltech256", None, _STD, notes="not in TFDS"),
    TaskSpec("stl10", "stl10", _STD),
    TaskSpec("tf_flowers", "tf_flowers", _ONLY_TRAIN),
    TaskSpec("cats_vs_dogs", "cats_vs_dogs", _ONLY_TRAIN),
    TaskSpec("imagenet", "imagenet2012", _VAL_AS_TEST, notes="manual download"),
    TaskSpec("imagenet_v2", "imagenet_v2", _ONLY_TEST, group="other",
             notes="evaluation set only: train/val/test are all carved from it"),
    TaskSpec("imagenet_r", "imagenet_r", _ONLY_TEST, group="other",
             notes="evaluation set only: train/val/test are all carved from it"),
    TaskSpec("imagenet_sketch", "imagenet_sketch", _ONLY_TEST, group="other",
             notes="evaluation set only: train/val/test are all carved from it"),
    TaskSpec("beans", "beans", _TVT, group="other"),
    TaskSpec("cassava", "cassava", _TVT, group="other"),
    TaskSpec("plant_village", "plant_village", _ONLY_TRAIN, group="other"),
    TaskSpec("colorectal_histology", "colorectal_histology", _ONLY_TRAIN, group="other"),
    TaskSpec("deep_weeds", "deep_weeds", _ONLY_TRAIN, group="other"),
    TaskSpec("uc_merced", "uc_merced", _ONLY_TRAIN, group="other"),
)

CATALOG: dict[str, TaskSpec] = {task.name: task for task in _TASKS}


def generic_task(tfds_name: str, split_names: set[str], label: str = "label") -> TaskSpec:
  """Returns a spec for an uncatalogued TFDS dataset from the splits it has.

  Args:
    tfds_name: the TFDS name (with config, if any).
    split_names: the splits the prepared dataset holds.
    label: the ClassLabel feature to predict.

  Raises:
    ValueError: the dataset has neither a "train" nor a "test" split.
  """
  pool = "train" if "train" in split_names else "test" if "test" in split_names else None
  if pool is None:
    raise ValueError(f"tfds_name {tfds_name!r} has no train or test split: {sorted(split_names)}")
  splits = {"train": pool,
            "val": "validation" if "validation" in split_names else None,
            "test": "test" if pool == "train" and "test" in split_names else None}
  return TaskSpec(tfds_name, tfds_name, splits, label=label, group="other")
