"""PARC importer: source names -> task and data; missing oracles and voc2007 handling."""

import pandas as pd
import pytest

from guidedrec_jax.history import parc


@pytest.mark.parametrize("source, expected", [
    ("mask-rcnn_fpn_lvis_144219072", ("instance-segmentation", "lvis")),
    ("faster-rcnn_c4_voc_142202221", ("detection", "voc")),
    ("retinanet_190397773", ("detection", "coco")),
    ("keypoint-rcnn_fpn_137261548", ("keypoints", "coco")),
    ("panoptic-rcnn_fpn_139514544", ("panoptic", "coco")),
    ("moco_imagenet", ("self-supervised", "imagenet")),
    ("rotnet_imagenet22k", ("self-supervised", "imagenet22k")),
    ("semisup_instagram", ("semi-supervised", "instagram")),
    ("supervised_places205", ("supervised", "places205")),
    ("cub200", ("supervised", "cub200"))])
def test_describe_source(source, expected):
  assert parc.describe_source(source) == expected


def test_load_parc_all(shared_dir):
  history = parc.load_parc()
  assert set(history["dataset"]) == {"cifar10", "caltech101", "cub200", "nabird", "oxford_pets",
                                     "stanford_dogs"}
  assert history["model"].nunique() == 70 and (history["top1"] >= 0).all()
  assert history[["source_images", "layers", "params_m"]].notna().all().all()
  raw = pd.read_csv(shared_dir / "data/parc/oracles_all.csv").dropna(how="all")
  # 10 rows carry PARC's -1 "missing" mark; 67 go with the voc2007 target.
  assert len(history) == len(raw) - (raw["Target Dataset"] == "voc2007").sum() - 9
  with_voc = parc.load_parc(exclude_targets=())
  assert "voc2007" in set(with_voc["dataset"]) and len(with_voc) == len(raw) - 10
  row = history[(history["model"] == "resnet50.moco_imagenet") & (history["dataset"] == "cub200")]
  assert row["pretrain_domain"].item() == "self-supervised"
  assert row["num_classes"].item() == 200


def test_load_parc_controlled(shared_dir):
  history = parc.load_parc("controlled", exclude_targets=())
  assert set(history["family"]) == {"resnet", "googlenet", "alexnet"}
  assert history["model"].nunique() == 32 and len(history) == 196


def test_bad_input_raises(tmp_path):
  with pytest.raises(ValueError, match="which"):
    parc.load_parc("some")
  pd.DataFrame({"Architecture": ["resnet50"], "Target Dataset": ["cifar10"],
                "Oracle": [1.0]}).to_csv(tmp_path / "oracles_all.csv", index=False)
  with pytest.raises(ValueError, match="Source Dataset"):
    parc.load_parc(root=tmp_path)
