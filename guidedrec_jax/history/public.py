"""Importers for the three public fine-tuning histories in `<shared>/data/histories/`.

* `sfda_group1`: 11 torchvision ImageNet-supervised models x 11 datasets (SFDA, NCTI, ETran);
* `ncti_group2`: 12 self-supervised ResNet-50s x 13 datasets (NCTI): the models differ only
  in their pre-training method, so meta features cannot separate them;
* `modelspider`: 66 `FTD_<arch>_<source>` models (3 architectures, each first fine-tuned on
  one of 22 source datasets) x 7 targets (Model Spider).

Each becomes a history table (`schema` columns): dataset names normalised (lower case,
aliases) to those of `datasets.csv`, which gives `num_classes` and `num_train` (NaN where the
source fixes no train split); model metadata (`params_m`, `gmacs` of the headless network,
`input_size`) was measured from the torchvision architectures built without weights, with
`torch.utils.flop_counter.FlopCounterMode` as `zoo.registry.model_meta` does;
tests/history/test_public.py re-measures it. Model Spider rows also get `source_data`, its
`source_images` and `source_classes`, and `source_match` (1 where the model's source is the
target dataset): declared as fields by `configs/setting3.py`. voc2007 (mAP, not top-1) is left
out as a target by default, as for PARC.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from guidedrec_jax import paths
from guidedrec_jax.history import generic, schema

FILES = {"sfda_group1": "sfda_group1_supervised.csv", "ncti_group2": "ncti_group2_selfsup.csv",
         "modelspider": "modelspider_multi_source.csv"}
ACCURACY_COLUMN = "finetune_top1"
DEFAULT_EXCLUDED = ("voc2007",)
# (params in millions, GMACs, input size) of the headless torchvision network, measured.
ARCHITECTURES = {
    "resnet34": (21.2847, 3.6632, 224), "resnet50": (23.5080, 4.0871, 224),
    "resnet101": (42.5002, 7.7994, 224), "resnet152": (58.1438, 11.5116, 224),
    "densenet121": (6.9539, 2.8331, 224), "densenet169": (12.4845, 3.3582, 224),
    "densenet201": (18.0929, 4.2894, 224), "mnasnet1_0": (3.1023, 0.3131, 224),
    "mobilenet_v2": (2.2239, 0.2995, 224), "googlenet": (5.5999, 1.4974, 224),
    "inception_v3": (21.7856, 5.7112, 299),
}
ALIASES = {"pet": "pets", "oxford_pets": "pets", "resisc45": "resisc", "cub200": "cub2011"}
# Sources of Model Spider's models that datasets.csv lacks: (train images, classes).
EXTRA_SOURCES = {"imagenet": (1_281_167, 1000), "dogs": (12_000, 120),
                 "nabirds": (23_929, 555), "svhn": (73_257, 10), "smallnorb": (24_300, 5),
                 "pacs": (np.nan, 7)}


def normalize_dataset(name: str) -> str:
  """Lower case, aliases resolved: `Pet` → `pets`, `Resisc45` → `resisc`."""
  key = str(name).strip().lower()
  return ALIASES.get(key, key)


def _family(arch: str) -> str:
  for family in ("resnet", "densenet", "mnasnet", "mobilenet", "googlenet", "inception"):
    if arch.startswith(family):
      return family
  raise ValueError(f"architecture {arch!r} has no known family")


def dataset_facts(shared: pathlib.Path | None = None) -> pd.DataFrame:
  """`datasets.csv` indexed by normalised name: num_classes, num_train (NaN if blank)."""
  path = (shared or paths.shared_dir()) / "data" / "histories" / "datasets.csv"
  if not path.exists():
    raise FileNotFoundError(f"{path} is missing (see {path.parent}/README.md)")
  facts = pd.read_csv(path)
  facts.index = facts["dataset"].map(normalize_dataset)
  return facts[["num_classes", "num_train"]].astype(float)


def load_public(name: str, exclude_targets: tuple[str, ...] = DEFAULT_EXCLUDED,
                shared: pathlib.Path | None = None) -> pd.DataFrame:
  """The history table of one public history (`FILES` key), validated by `schema`.

  Raises:
    ValueError: an unknown name, or a model/dataset the tables here do not describe.
    FileNotFoundError: the shared file is missing.
  """
  if name not in FILES:
    raise ValueError(f"name must be one of {sorted(FILES)}, got {name!r}")
  path = (shared or paths.shared_dir()) / "data" / "histories" / FILES[name]
  if not path.exists():
    raise FileNotFoundError(f"{path} is missing (see {path.parent}/README.md)")
  frame = generic.read_history(path, top1_column=ACCURACY_COLUMN)
  frame["dataset"] = frame["dataset"].map(normalize_dataset)
  frame = frame[~frame["dataset"].isin([normalize_dataset(d) for d in exclude_targets])]
  facts = dataset_facts(shared)
  unknown = sorted(set(frame["dataset"]) - set(facts.index))
  if unknown:
    raise ValueError(f"{path.name}: datasets {unknown} are not in datasets.csv")
  frame["num_classes"] = frame["dataset"].map(facts["num_classes"])
  frame["num_train"] = frame["dataset"].map(facts["num_train"])
  if name == "sfda_group1":
    arch, domain = frame["model"], "in1k"
  elif name == "ncti_group2":
    arch, domain = pd.Series("resnet50", index=frame.index), "self-supervised"
  else:
    parts = frame["model"].str.extract(r"^FTD_(.+)_([^_]+)$")
    if parts.isna().any().any():
      raise ValueError(f"{path.name}: model names must be FTD_<arch>_<source>")
    arch, domain = parts[0], "in1k+source"
    source = parts[1].map(normalize_dataset)
    frame["source_data"] = source
    source_facts = pd.concat([facts, pd.DataFrame(EXTRA_SOURCES, index=["num_train",
                                                                        "num_classes"]).T])
    missing = sorted(set(source) - set(source_facts.index))
    if missing:
      raise ValueError(f"{path.name}: sources {missing} have no dataset facts")
    frame["source_images"] = source.map(source_facts["num_train"])
    frame["source_classes"] = source.map(source_facts["num_classes"])
    frame["source_match"] = (source == frame["dataset"]).astype(float)
  unknown = sorted(set(arch) - set(ARCHITECTURES))
  if unknown:
    raise ValueError(f"{path.name}: architectures {unknown} have no measured metadata")
  frame["family"] = arch.map(_family)
  frame["params_m"] = arch.map(lambda a: ARCHITECTURES[a][0])
  frame["gmacs"] = arch.map(lambda a: ARCHITECTURES[a][1])
  frame["input_size"] = arch.map(lambda a: float(ARCHITECTURES[a][2]))
  frame["pretrain_domain"] = domain
  return schema.validate_history(frame.reset_index(drop=True))

