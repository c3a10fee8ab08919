"""History tables from PARC's fine-tuning oracles (Bolya et al., NeurIPS 2021).

A PARC "model" is an architecture pre-trained on a source: `resnet50.moco_imagenet`. The
target dataset is the history's `dataset`, the oracle (fine-tuned accuracy) its `top1`.

Features derived from the source name (`<task>[_<data>]_<id>` for detectron2 checkpoints,
`<method>_<data>` for self/semi-supervised ones, a bare dataset name for supervised ones):

* `pretrain_domain`: the pre-training task — `supervised`, `detection` (Faster R-CNN,
  RetinaNet), `instance-segmentation` (Mask R-CNN), `keypoints`, `panoptic`,
  `self-supervised` (MoCo, SimCLR, SwAV, NPID, PIRL, DeepCluster-v2, ClusterFit, Jigsaw,
  RotNet) or `semi-supervised`;
* `source_data` and `source_images`: the pre-training data and its training-set size
  (detectron2 checkpoints: COCO unless the name says LVIS, Cityscapes or VOC; PARC's own
  classification sources: `datasets.csv`, except `imagenet` = the full ImageNet-1k train);
* `layers` (PARC's `architectures.csv`), `params_m`, `gmacs` and `arch_imagenet_top1` (the
  torchvision figures of each architecture at 224 px), `input_size` = 224.

voc2007 as a target: PARC scores it as multi-label classification, so its "oracle" (all
models within 91–98) is not a top-1 accuracy and its spread is unlike any other target.
`load_parc` leaves it out as a target by default (`exclude_targets`); as a *source* it stays.
Oracles of -1 (PARC's mark of a missing run: 10 rows of `oracles_all.csv`, mostly
`resnet101.simclr_imagenet`) are dropped.
"""

from __future__ import annotations

import os
import pathlib
import re

import pandas as pd

from guidedrec_jax import paths
from guidedrec_jax.history import schema

ORACLE_FILES = {"all": "oracles_all.csv", "controlled": "oracles_controlled.csv"}
ORACLE_COLUMNS = ("Architecture", "Source Dataset", "Target Dataset", "Oracle")
DEFAULT_EXCLUDED_TARGETS = ("voc2007",)
# torchvision's published figures: (params in millions, GMACs at 224 px, ImageNet top-1).
ARCHITECTURES = {
    "alexnet": (61.10, 0.71, 56.52), "googlenet": (6.62, 1.50, 69.78),
    "resnet18": (11.69, 1.81, 69.76), "resnet50": (25.56, 4.09, 76.13),
    "resnet101": (44.55, 7.80, 77.37),
}
# Training-set sizes of pre-training data not in datasets.csv (or, for ImageNet, larger).
SOURCE_IMAGES = {
    "imagenet": 1_281_167, "imagenet22k": 14_197_122, "coco": 118_287, "lvis": 100_170,
    "cityscapes": 2_975, "voc": 16_551, "instagram": 940_000_000, "yfcc100m": 100_000_000,
    "places205": 2_448_873,
}
_DETECTRON_TASKS = {"faster-rcnn": "detection", "retinanet": "detection",
                    "mask-rcnn": "instance-segmentation", "keypoint-rcnn": "keypoints",
                    "panoptic-rcnn": "panoptic"}
_SELF_SUPERVISED = ("moco", "simclr", "swav", "npid", "pirl", "deepclusterv2", "clusterfit",
                    "jigsaw", "rotnet")


def describe_source(source: str) -> tuple[str, str]:
  """Returns (pre-training task, pre-training data) of a PARC source name.

  Examples: `mask-rcnn_fpn_lvis_144219072` -> (`instance-segmentation`, `lvis`);
  `moco_imagenet` -> (`self-supervised`, `imagenet`); `cub200` -> (`supervised`, `cub200`).
  """
  if not source:
    raise ValueError("source must be a non-empty PARC source-dataset name")
  head, _, rest = source.partition("_")
  if head in _DETECTRON_TASKS:
    for data in ("lvis", "cityscapes", "voc"):
      if re.search(rf"(^|_){data}(_|$)", rest):
        return _DETECTRON_TASKS[head], data
    return _DETECTRON_TASKS[head], "coco"
  if head in _SELF_SUPERVISED:
    return "self-supervised", rest
  if head == "semisup":
    return "semi-supervised", rest
  if head == "supervised":
    return "supervised", rest
  return "supervised", source


def load_parc(which: str = "all", exclude_targets: tuple[str, ...] = DEFAULT_EXCLUDED_TARGETS,
              root: str | os.PathLike | None = None) -> pd.DataFrame:
  """Builds a validated history table from PARC's oracles.

  Args:
    which: `all` (469 rows, 70 models) or `controlled` (196 rows: 4 archs x 8 sources).
    exclude_targets: target datasets to drop (see the module docstring on voc2007).
    root: folder holding PARC's CSVs; `shared/data/parc` when None.

  Returns:
    The history table: schema columns plus `architecture`, `source`, `source_data`,
    `source_images`, `layers`, `arch_imagenet_top1`.
  """
  if which not in ORACLE_FILES:
    raise ValueError(f"which must be one of {list(ORACLE_FILES)}, got {which!r}")
  folder = pathlib.Path(root) if root is not None else paths.shared_path("data", "parc")
  oracles = pd.read_csv(folder / ORACLE_FILES[which]).dropna(how="all")
  missing = [c for c in ORACLE_COLUMNS if c not in oracles.columns]
  if missing:
    raise ValueError(f"{folder / ORACLE_FILES[which]} is missing columns {missing}")
  datasets = pd.read_csv(folder / "datasets.csv").set_index("dataset")
  layers = pd.read_csv(folder / "architectures.csv").set_index("architecture")["layers"]
  unknown = sorted(set(oracles["Architecture"]) - set(ARCHITECTURES))
  if unknown:
    raise ValueError(f"Architecture values {unknown} have no entry in ARCHITECTURES")
  # PARC writes -1 where a fine-tuning run is missing (10 rows of oracles_all): no target.
  oracles = oracles[(oracles["Oracle"] >= 0) & ~oracles["Target Dataset"].isin(exclude_targets)]
  arch, source = oracles["Architecture"], oracles["Source Dataset"]
  described = source.map(describe_source)
  source_data = described.str[1]
  source_images = source_data.map(
      lambda d: SOURCE_IMAGES.get(d, datasets["num_images"].get(d, float("nan"))))
  history = pd.DataFrame({
      "dataset": oracles["Target Dataset"], "model": arch + "." + source,
      "top1": oracles["Oracle"],
      "num_train": oracles["Target Dataset"].map(datasets["num_images"]),
      "num_classes": oracles["Target Dataset"].map(datasets["num_classes"]),
      "family": arch.str.replace(r"\d+$", "", regex=True), "input_size": 224,
      "params_m": arch.map(lambda a: ARCHITECTURES[a][0]),
      "gmacs": arch.map(lambda a: ARCHITECTURES[a][1]),
      "pretrain_domain": described.str[0], "architecture": arch, "source": source,
      "source_data": source_data, "source_images": source_images.astype(float),
      "layers": arch.map(layers).astype(float),
      "arch_imagenet_top1": arch.map(lambda a: ARCHITECTURES[a][2]),
  })
  return schema.validate_history(history)
