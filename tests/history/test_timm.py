"""timm importer: families, domains, the paper's 420-model zoo and the benchmark join."""

import pandas as pd
import pytest

from guidedrec_jax.history import timm


@pytest.mark.parametrize("name, family", [
    ("tf_efficientnet_b3.ns_jft_in1k", "efficientnet"), ("resnet50d", "resnet"),
    ("swinv2_base_window8_256", "swin"), ("mobilenetv3_large_100", "mobilenet"),
    ("res2net50_26w_4s", "res2net"), ("seresnext26t_32x4d", "resnext"), ("vit_base_patch16_224",
    "vit"), ("convnext_tiny.fb_in22k_ft_in1k", "convnext"), ("dm_nfnet_f0", "nfnet"),
    ("gluon_resnet101_v1b", "resnet"), ("deit3_small_patch16_224", "deit"),
    ("wide_resnet50_2", "resnet"), ("resnet33ts", "resnet")])
def test_architecture_family(name, family):
  assert timm.architecture_family(name) == family


@pytest.mark.parametrize("tag, domain", [
    ("in1k", "in1k"), ("fb_in22k_ft_in1k", "in21k"), ("ra2_in1k", "in1k"),
    ("fb_dist_in1k", "distilled"), ("laion2b_ft_in12k_in1k", "image-text"),
    ("mim_in22k_ft_in1k", "self-supervised"), ("ns_jft_in1k", "semi-supervised"),
    ("fb_swsl_ig1b_ft_in1k", "semi-supervised"), ("fb_wsl_ig1b_ft_in1k", "weakly-supervised"),
    ("ap_in1k", "adversarial")])
def test_domain_from_tag(tag, domain):
  assert timm.domain_from_tag(tag) == domain


def test_2022_snapshot_is_the_papers_420_models(shared_dir):
  history = timm.load_timm("2022-07-27")
  imagenet = history[history["dataset"] == "imagenet"]
  assert len(imagenet) == 420 and imagenet["model"].is_unique
  assert imagenet["pretrain_domain"].value_counts().to_dict() == {"in1k": 379, "in21k": 41}
  assert set(history["dataset"]) == set(timm.VARIANTS)
  assert imagenet[["gmacs", "params_m", "input_size"]].notna().all().all()
  raw = pd.read_csv(shared_dir / "data/timm/2022-07-27/results-sketch.csv").set_index("model")
  row = history[(history["dataset"] == "imagenet-sketch") & (history["model"] == "resnet50")]
  assert row["top1"].item() == pytest.approx(raw.loc["resnet50", "top1"])
  assert row["num_classes"].item() == 1000
  assert (history.loc[history["dataset"] == "imagenet-r", "num_classes"] == 200).all()


def test_latest_snapshot_joins_gmacs_and_parses_thousands(shared_dir):
  history = timm.load_timm("latest", datasets=("imagenet",))
  assert len(history) == 1556 and history["model"].is_unique
  assert history["gmacs"].notna().sum() >= 1450
  giant = history[history["model"] == "eva_giant_patch14_336.clip_ft_in1k"]
  assert giant["params_m"].item() == pytest.approx(1013.01)
  assert giant["pretrain_domain"].item() == "image-text"


def _write_tiny_snapshot(root):
  folder = root / "latest"
  folder.mkdir(parents=True)
  results = pd.DataFrame({"model": ["net_a.in1k", "net_a.in1k", "net_b.in1k"],
                          "img_size": [224, 288, 224], "top1": [70.0, 71.0, 60.0],
                          "param_count": ["1,001.5", "1,001.5", "3"]})
  for stem, _ in timm.VARIANTS.values():
    results.to_csv(folder / f"{stem}.csv", index=False)
  pd.DataFrame({"model": ["net_a", "net_a"], "infer_img_size": [224, 256],
                "infer_gmacs": [1.0, 2.0]}).to_csv(folder / "benchmark-infer-amp-x.csv",
                                                     index=False)
  pd.DataFrame({"model": ["net_a"], "pretrain": ["in1k"]}).to_csv(
      folder / "model_metadata-in1k.csv", index=False)


def test_benchmark_join_exact_then_nearest_resolution(tmp_path):
  _write_tiny_snapshot(tmp_path)
  history = timm.load_timm("latest", datasets=("imagenet",), root=tmp_path).set_index("model")
  # Exact resolution 224 -> 1.0; 288 has no row, the nearest (256) gives 2.0; net_b: none.
  assert history.loc["net_a.in1k@224", "gmacs"] == 1.0
  assert history.loc["net_a.in1k@288", "gmacs"] == 2.0
  assert pd.isna(history.loc["net_b.in1k", "gmacs"])
  assert history.loc["net_a.in1k@288", "params_m"] == pytest.approx(1001.5)


def test_bad_arguments_raise(tmp_path):
  with pytest.raises(ValueError, match="snapshot"):
    timm.load_timm("2019")
  with pytest.raises(ValueError, match="imagenet-x"):
    timm.load_timm(datasets=("imagenet-x",), root=tmp_path)
