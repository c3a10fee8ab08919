"""timm importer: families, domains, name columns, the paper's 420 models, the benchmark join."""

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
  # Files without the optional columns: NaN numbers, `unknown` / `none` categories.
  row = history.loc["net_a.in1k@224"]
  assert pd.isna(row["macts"]) and pd.isna(row["crop_pct"]) and row["macts_band"] == "none"
  assert row["interpolation"] == "unknown" and row["weight_source"] == "timm"


def test_bad_arguments_raise(tmp_path):
  with pytest.raises(ValueError, match="snapshot"):
    timm.load_timm("2019")
  with pytest.raises(ValueError, match="imagenet-x"):
    timm.load_timm(datasets=("imagenet-x",), root=tmp_path)


@pytest.mark.parametrize("name, source, recipe, patch", [
    ("tv_resnet50", "tv", "none", None), ("gluon_resnet50_v1b", "gluon", "none", None),
    ("tf_efficientnetv2_m_in21ft1k", "tf", "in21k_ft", None), ("resnet50", "timm", "none", None),
    ("resmlp_big_24_224_in22ft1k", "timm", "in21k_ft", None),
    ("vit_base_patch16_224_miil", "timm", "miil", 16.0),
    ("resnetv2_50x1_bitm", "timm", "bitm", None),
    ("resnetv2_152x2_bit_teacher_384", "timm", "bit_teacher", None),
    ("vit_base_patch32_224_sam", "timm", "sam", 32.0),
    ("efficientnet_b1_pruned", "timm", "pruned", None), ("tf_efficientnet_b3_ns", "tf", "ns", None),
    ("xcit_small_12_p8_224", "timm", "none", 8.0), ("vit_tiny_r_s16_p8_384", "timm", "none", 16.0),
    ("swin_base_patch4_window7_224", "timm", "none", 4.0),
    ("resnet50.tv2_in1k", "tv2", "none", None),
    ("convnext_tiny.fb_in22k_ft_in1k", "fb", "none", None),
    ("resnest50d_4s2x40d", "timm", "none", None), ("jx_nest_base", "jx", "none", None)])
def test_name_columns(name, source, recipe, patch):
  assert timm.weight_source(name) == source
  assert timm.recipe(name) == recipe
  if patch is None:
    assert pd.isna(timm.patch_size(name))
  else:
    assert timm.patch_size(name) == patch


def test_2022_model_extra_columns(shared_dir):
  history = timm.load_timm("2022-07-27", datasets=("imagenet", "imagenet-a")).set_index(
      ["dataset", "model"])
  assert history[list(timm.MODEL_EXTRA)].drop(columns="patch_size").notna().all().all()
  # Hand-checked against results-imagenet.csv and the rtx3090 benchmark of the snapshot.
  row = history.loc[("imagenet", "tv_resnet50")]
  assert row["weight_source"] == "tv" and row["interpolation"] == "bilinear"
  assert row["crop_pct"] == pytest.approx(0.875)
  deit = history.loc[("imagenet", "deit_base_patch16_384")]
  assert deit["arch_group"] == "vit" and deit["patch_size"] == 16.0 and deit["crop_pct"] == 1.0
  assert deit["macts"] == pytest.approx(101.56) and deit["macts_band"] == "7"  # log2 = 6.67
  resnet = history.loc[("imagenet", "resnet50")]
  assert resnet["weight_source"] == "timm" and resnet["crop_pct"] == pytest.approx(0.95)
  assert resnet["macts"] == pytest.approx(11.11) and resnet["macts_band"] == "3"  # log2 = 3.47
  assert resnet["throughput"] == pytest.approx(2733.34)
  # Model columns are the model's, whatever the evaluation set.
  assert history.loc[("imagenet-a", "tv_resnet50"), "crop_pct"] == pytest.approx(0.875)
  assert (history.loc["imagenet", "arch_group"] != "gc").all()
