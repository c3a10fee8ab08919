"""History tables from timm's published ImageNet results (`results/` of pytorch-image-models).

Each evaluation set is a "dataset" of the history and each timm model a "model"; `top1` is the
model's published top-1 on that set. Two snapshots are supported:

* `2022-07-27` (the period of the paper's timm zoo): `model` is the bare architecture name on
  every file. By default only models that `model_metadata-in1k.csv` tags `in1k` or `in21k` are
  kept, as the paper did: 379 + 41 = 420 models (the 150 result rows without metadata and the
  distilled / semi-supervised / JFT / Instagram / adversarial ones are left out).
* `latest`: `model` is `arch.tag`; the pre-training domain comes from the tag (timm's
  metadata file only knows 2022 names). Nothing is filtered by default (1556 models).

Join rules (as timm's own `generate_csv_results.py`): results <-> benchmark on the bare arch
and `img_size == infer_img_size`, else the benchmark row of the nearest resolution (latest);
the 2022 benchmark has one row per arch. `param_count` may hold a thousands separator.
Dataset sizes: every model was trained on ImageNet-1k train, so `num_train` is 1,281,167 for
every set; `num_classes` is 1000, or 200 for ImageNet-A/-R and their clean subsets (the
ImageNet validation images of the same 200 classes).

Further model columns (`MODEL_EXTRA`; known before any evaluation, declared to the
recommender through `history.fields`): from the name, `weight_source` (`tv`, `gluon`, `tf`,
... or `timm`), `recipe` (`in21k_ft`, `miil`, `bitm`, `sam`, `pruned`, ... or `none`),
`patch_size` (transformers; NaN otherwise) and `arch_group` (the family with its one-off
variants folded into their parent: `sehalonet` -> `halonet`, `deit` -> `vit`); from the
results file, the evaluation `crop_pct` and `interpolation` of the model's default config;
from the benchmark (as `gmacs`), `macts` (activations, millions), `throughput` (images/s)
and `macts_band` (`round(log2(macts))` as a category: fixed edges, no statistics).
"""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import pandas as pd

from guidedrec_jax import paths
from guidedrec_jax.history import schema

SNAPSHOTS = ("2022-07-27", "latest")
IMAGENET_TRAIN_IMAGES = 1_281_167
# dataset name -> (results file stem, classes scored).
VARIANTS = {
    "imagenet": ("results-imagenet", 1000),
    "imagenet-real": ("results-imagenet-real", 1000),
    "imagenetv2": ("results-imagenetv2-matched-frequency", 1000),
    "imagenet-sketch": ("results-sketch", 1000),
    "imagenet-a": ("results-imagenet-a", 200),
    "imagenet-a-clean": ("results-imagenet-a-clean", 200),
    "imagenet-r": ("results-imagenet-r", 200),
    "imagenet-r-clean": ("results-imagenet-r-clean", 200),
}
PAPER_DOMAINS = ("in1k", "in21k")
# model_metadata-in1k.csv tag -> pre-training domain.
METADATA_DOMAINS = {
    "in1k": "in1k", "in21k": "in21k", "in1k-dist": "distilled", "in1k-adv": "adversarial",
    "in1k-ap": "adversarial", "jft300m-ns": "semi-supervised", "ig1b-swsl": "semi-supervised",
    "yfc-semisl": "semi-supervised", "ig1b-wsl": "weakly-supervised",
    "in21k-selfsl": "self-supervised",
}
# Checked in order: the first pattern found in a `latest` tag names its domain. Image-text
# and self-supervised pre-training come first because their tags also end in `ft_in1k`.
TAG_DOMAINS = (
    (r"laion|openai|clip|webli|dfn|metaclip|siglip", "image-text"),
    (r"mim|mae|seer|dino|beit|m30m|m38m|in22k_selfsl", "self-supervised"),
    (r"swsl|ssl|semi|ns_jft|jft|ssld|bd_ssld", "semi-supervised"),
    (r"wsl|swag|ig1b|ig3b", "weakly-supervised"),
    (r"dist", "distilled"),
    (r"in21k|in22k|in12k|21k|22k", "in21k"),
    (r"adv|ap_in1k", "adversarial"),
)

# Name prefixes that mark a weight source or a small tweak, not an architecture.
_SOURCE_PREFIXES = ("tf_", "ig_", "ssl_", "swsl_", "gluon_", "legacy_", "ens_adv_", "adv_", "tv_",
                    "dm_", "jx_", "wide_", "ese_", "eca_")
# Weight sources: a name prefix (2022) or the first token of a `latest` tag.
WEIGHT_SOURCES = ("tv", "tv2", "gluon", "tf", "legacy", "jx", "dm", "ig", "ssl", "swsl", "fb",
                  "ens_adv", "adv")
# Pre-training / fine-tuning recipe tokens of the (2022) architecture name: first found wins.
RECIPE_TOKENS = (("in21ft1k", "in21k_ft"), ("in22ft1k", "in21k_ft"), ("miil", "miil"),
                 ("bit_teacher", "bit_teacher"), ("bitm", "bitm"), ("sam", "sam"),
                 ("pruned", "pruned"), ("ns", "ns"), ("ap", "ap"), ("distilled", "distilled"))
MODEL_EXTRA = ("weight_source", "recipe", "patch_size", "arch_group", "crop_pct",
               "interpolation", "macts", "throughput", "macts_band")
# One-off families folded into a parent: a family seen once carries no information for an
# unseen model, its parent does. Judged from the architectures (timm's docs), not from accuracies.
ARCH_GROUPS = {
    "gc": "efficientnet", "dla102x": "dla", "sehalonet": "halonet", "halonext": "halonet",
    "halo2botnet": "halonet", "lamhalobotnet": "halonet", "haloregnetz": "halonet",
    "botnext": "botnet", "lambda": "botnet", "densenetblur": "densenet", "resnetblur": "resnet",
    "res2next": "res2net", "gcresnet": "resnet", "gcresnext": "resnext", "senet": "resnext",
    "bat": "resnext", "cspresnext": "cspnet", "cspresnet": "cspnet", "cspdarknet": "cspnet",
    "gmixer": "mixer", "gmlp": "mixer", "resmlp": "mixer", "semnasnet": "mnasnet",
    "spnasnet": "mnasnet", "fbnetc": "mnasnet", "hardcorenas": "mnasnet", "mixnet": "mnasnet",
    "ghostnet": "mobilenet", "pnasnet": "nasnet", "nasnetalarge": "nasnet", "deit": "vit",
    "tnt": "vit", "visformer": "vit", "pit": "vit", "convit": "vit", "crossvit": "vit"}
_FOLDED_PREFIXES = (("seresnext", "resnext"), ("skresnext", "resnext"), ("ecaresnet", "resnet"),
                    ("seresnet", "resnet"), ("skresnet", "resnet"))


def architecture_family(name: str) -> str:
  """Returns the family of a timm model name: `tf_efficientnet_b3.ns_jft_in1k` -> `efficientnet`.

  The family is the first `_`-separated token of the bare architecture name once weight-source
  prefixes (`tf_`, `gluon_`, `ig_`, `dm_`, ...) are dropped, without its trailing depth/version
  (`resnet50d` -> `resnet`, `swinv2` -> `swin`, `mobilenetv3` -> `mobilenet`, `res2net50` ->
  `res2net`). Squeeze-excitation / ECA / SK ResNe(X)ts fold into `resnet` / `resnext`, and the
  normaliser-free nets (`nf_*`, `dm_nfnet`, `eca_nfnet`) into `nfnet`.
  """
  if not name:
    raise ValueError("name must be a non-empty model name")
  arch = name.split(".", 1)[0].lower()
  for prefix in _SOURCE_PREFIXES:
    if arch.startswith(prefix):
      arch = arch[len(prefix):]
  if arch.startswith("nf_"):
    return "nfnet"
  for prefix, family in _FOLDED_PREFIXES:
    if arch.startswith(prefix):
      return family
  token = arch.split("_", 1)[0]
  return re.sub(r"v?\d+[a-z]*$", "", token) or token


def domain_from_tag(tag: str) -> str:
  """Returns the pre-training domain of a `latest` pretrained tag (`in22k_ft_in1k` -> `in21k`)."""
  for pattern, domain in TAG_DOMAINS:
    if re.search(pattern, tag):
      return domain
  return "in1k"


def weight_source(name: str) -> str:
  """Who trained the weights: `tv_resnet50` -> `tv`, `resnet50.gluon_in1k` -> `gluon`, else timm."""
  arch, _, tag = name.partition(".")
  for source in sorted(WEIGHT_SOURCES, key=len, reverse=True):
    if arch.lower().startswith(source + "_"):
      return source
  first = tag.lower().split("_", 1)[0]
  return first if first in WEIGHT_SOURCES else "timm"


def recipe(name: str) -> str:
  """The recipe token of an architecture name: `tf_efficientnetv2_m_in21ft1k` -> `in21k_ft`."""
  arch = name.split(".", 1)[0].lower()
  for token, label in RECIPE_TOKENS:
    if re.search(rf"(^|_){token}(_|$)", arch):
      return label
  return "none"


def patch_size(name: str) -> float:
  """A transformer's patch size from its name (`vit_base_patch16_224` -> 16); NaN if none."""
  found = re.search(r"(?:patch|_p|_s)(\d+)(?:_|$)", name.split(".", 1)[0].lower())
  return float(found.group(1)) if found else float("nan")


def _read_results(folder: pathlib.Path, stem: str) -> pd.DataFrame:
  path = folder / f"{stem}.csv"
  if not path.exists():
    raise FileNotFoundError(f"timm results file {path} does not exist")
  frame = pd.read_csv(path, thousands=",")
  missing = [c for c in ("model", "top1", "img_size", "param_count") if c not in frame.columns]
  if missing:
    raise ValueError(f"{path} is missing columns {missing}")
  for column in ("crop_pct", "interpolation"):  # optional: NaN where a file lacks them
    if column not in frame.columns:
      frame[column] = np.nan
  return frame[["model", "top1", "img_size", "param_count", "crop_pct", "interpolation"]]


def _benchmark(folder: pathlib.Path) -> pd.DataFrame:
  files = sorted(folder.glob("benchmark-infer-amp-*.csv"))
  if not files:
    raise FileNotFoundError(f"no benchmark-infer-amp-*.csv in {folder}")
  frame = pd.read_csv(files[0], thousands=",")
  for column in ("infer_macts", "infer_samples_per_sec"):
    if column not in frame.columns:
      frame[column] = np.nan
  return frame[["model", "infer_img_size", "infer_gmacs", "infer_macts",
                "infer_samples_per_sec"]].dropna(subset=["infer_img_size", "infer_gmacs"])


def _bench_columns(models: pd.DataFrame, bench: pd.DataFrame, columns: list[str]) -> np.ndarray:
  """`columns` of each (arch, img_size) row's benchmark row: exact resolution, else nearest."""
  by_arch = {arch: rows for arch, rows in bench.groupby("model")}
  out = np.full((len(models), len(columns)), np.nan)
  for i, (arch, size) in enumerate(zip(models["arch"], models["img_size"])):
    rows = by_arch.get(arch)
    if rows is not None:
      nearest = np.argmin(np.abs(rows["infer_img_size"].to_numpy() - size))
      out[i] = rows[columns].to_numpy(np.float64)[nearest]
  return out


def _model_table(folder: pathlib.Path, snapshot: str,
                 pretrain_domains: tuple[str, ...] | None) -> pd.DataFrame:
  """One row per model of results-imagenet.csv with the model columns of the schema."""
  models = _read_results(folder, "results-imagenet")[["model", "img_size", "param_count",
                                                      "crop_pct", "interpolation"]]
  models = models.assign(arch=models["model"].str.split(".", n=1).str[0])
  if snapshot == "latest":
    models["pretrain_tag"] = models["model"].str.split(".", n=1).str[1].fillna("")
    models["pretrain_domain"] = models["pretrain_tag"].map(domain_from_tag)
  else:
    metadata = pd.read_csv(folder / "model_metadata-in1k.csv").set_index("model")["pretrain"]
    models["pretrain_tag"] = models["arch"].map(metadata).fillna("unknown")
    models["pretrain_domain"] = models["pretrain_tag"].map(METADATA_DOMAINS).fillna("unknown")
  if pretrain_domains is not None:
    keep = models["pretrain_tag"].isin(pretrain_domains) | models["pretrain_domain"].isin(
        pretrain_domains)
    models = models[keep]
  # A model evaluated at several resolutions is one row per resolution: name them apart.
  repeated = models["model"].duplicated(keep=False)
  unique_name = models["model"].where(~repeated, models["model"] + "@" + models["img_size"].astype(str))
  bench = _bench_columns(models, _benchmark(folder),
                         ["infer_gmacs", "infer_macts", "infer_samples_per_sec"])
  family = models["model"].map(architecture_family)
  band = np.round(np.log2(np.where(bench[:, 1] > 0, bench[:, 1], np.nan)))
  models = models.assign(
      timm_name=models["model"], model=unique_name, family=family, gmacs=bench[:, 0],
      macts=bench[:, 1], throughput=bench[:, 2],
      macts_band=[f"{b:.0f}" if np.isfinite(b) else "none" for b in band],
      weight_source=models["model"].map(weight_source), recipe=models["model"].map(recipe),
      patch_size=models["model"].map(patch_size),
      arch_group=family.map(lambda f: ARCH_GROUPS.get(f, f)),
      interpolation=models["interpolation"].astype(object).fillna("unknown").astype(str))
  return models.rename(columns={"img_size": "input_size", "param_count": "params_m"})


def load_timm(snapshot: str = "2022-07-27", datasets: tuple[str, ...] | None = None,
              pretrain_domains: tuple[str, ...] | None | str = "default",
              root: str | os.PathLike | None = None) -> pd.DataFrame:
  """Builds a validated history table from a timm results snapshot.

  Args:
    snapshot: `2022-07-27` or `latest`.
    datasets: names from `VARIANTS` to include; all when None.
    pretrain_domains: keep models whose metadata tag or domain is listed; None keeps all;
      `"default"` is `PAPER_DOMAINS` for 2022-07-27 and None for latest.
    root: folder holding the snapshot folders; `shared/data/timm` when None.

  Returns:
    The history table (schema columns plus `pretrain_tag` and `MODEL_EXTRA`), one row per
    (set, model); a model evaluated at several resolutions appears once per resolution as
    `name@size`.
  """
  if snapshot not in SNAPSHOTS:
    raise ValueError(f"snapshot must be one of {SNAPSHOTS}, got {snapshot!r}")
  datasets = tuple(VARIANTS) if datasets is None else tuple(datasets)
  unknown = [d for d in datasets if d not in VARIANTS]
  if unknown or not datasets:
    raise ValueError(f"datasets must be a non-empty subset of {list(VARIANTS)}; unknown {unknown}")
  if pretrain_domains == "default":
    pretrain_domains = PAPER_DOMAINS if snapshot == "2022-07-27" else None
  folder = (pathlib.Path(root) if root is not None else paths.shared_path("data", "timm")) / snapshot
  models = _model_table(folder, snapshot, pretrain_domains)
  tables = []
  for name in datasets:
    stem, classes = VARIANTS[name]
    results = _read_results(folder, stem)[["model", "img_size", "top1"]]
    results = results.rename(columns={"model": "timm_name", "img_size": "input_size"})
    joined = models.merge(results, on=["timm_name", "input_size"], how="inner")
    tables.append(joined.assign(dataset=name, num_train=IMAGENET_TRAIN_IMAGES, num_classes=classes))
  history = pd.concat(tables, ignore_index=True)
  columns = list(schema.REQUIRED_COLUMNS) + ["pretrain_tag", *MODEL_EXTRA]
  return schema.validate_history(history[columns])
