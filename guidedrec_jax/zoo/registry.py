"""The model zoo: which timm models we recommend among, where their weights come from, and
their measured size (the model-side meta features of the recommender).

A zoo entry is a `ModelSpec`. Its `weights` field says where the pre-trained weights come from:

  * `None`: random init (the paper's "random init" column); seeded, so reproducible.
  * `"timm"`: timm's own pre-trained weights for the architecture: the Hugging Face / torch hub
    cache when present, else an offline copy (`weights.OFFLINE_WEIGHTS`, remapped into timm's
    layout), else a download when the caller allows one (see `weights.load_pretrained`).
  * a path to a `.pth`/`.pt`/`.safetensors` timm-format state dict, e.g. one written by our own
    pre-training on a source task; register it with `register_model(ModelSpec(...))`.

The built-in micro zoo (`MICRO_ZOO`) holds the four ImageNet models that have offline weights
here, plus small architectures of other families that run fast at 32 px on one CPU thread.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from typing import Any, Mapping, NamedTuple

import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.flop_counter import FlopCounterMode

from guidedrec_jax.data.images import InputSpec
from guidedrec_jax.zoo import weights as weights_lib

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]+$")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One zoo model.

  Attributes:
    name: zoo name, unique; letters, digits and `_ . @ -` (it names cache files).
    architecture: the timm architecture (`timm.create_model` name, without a pretrained tag).
    family: architecture family (a recommender field), e.g. "mobilenet", "vit".
    pretrain_domain: "in1k", "random", or the source task a locally pre-trained model saw.
    weights: None (random init), "timm", or a checkpoint path (see the module docstring).
    input_size: side of the square input the model is run at; None: timm's pretrained config.
    num_source_classes: classes of the pre-trained head (1000 for ImageNet), used for
      LEEP/NCE source probabilities; None when there is no pre-trained head.
    mean: per-channel input mean (0-1 scale); None: timm's pretrained config.
    std: per-channel input std; None: timm's pretrained config.
    timm_kwargs: extra `timm.create_model` arguments (e.g. `img_size`, `patch_size`).
  """
  name: str
  architecture: str
  family: str
  pretrain_domain: str
  weights: str | None = None
  input_size: int | None = None
  num_source_classes: int | None = None
  mean: tuple[float, float, float] | None = None
  std: tuple[float, float, float] | None = None
  timm_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class ModelMeta(NamedTuple):
  """Measured size of a model (without a classification head).

  Attributes:
    params_m: parameters, millions.
    gmacs: multiply-accumulates of one forward pass at `input_size`, billions. Measured with
      `torch.utils.flop_counter.FlopCounterMode`, which counts matmul/conv/attention FLOPs
      (2 per multiply-add) and ignores elementwise ops (norms, activations); GMACs = FLOPs / 2.
    input_size: the input side the count was taken at.
  """
  params_m: float
  gmacs: float
  input_size: int


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec, overwrite: bool = False) -> ModelSpec:
  """Adds a model to the zoo, filling `input_size`, `mean` and `std` from timm's config.

  Args:
    spec: the model; `weights` may be None, "timm" or an existing checkpoint path.
    overwrite: replace an entry of the same name instead of raising.

  Returns:
    The completed spec, as stored.

  Raises:
    ValueError: bad name, unknown architecture (with close matches), a weights path that does
      not exist or has an unknown suffix, `pretrain_domain` "random" with weights (or not
      "random" without), a name already taken (unless `overwrite`).
  """
  if not _NAME_PATTERN.match(spec.name):
    raise ValueError(f"spec.name {spec.name!r} may only hold letters, digits and _ . @ -")
  if spec.name in _REGISTRY and not overwrite:
    raise ValueError(f"spec.name {spec.name!r} is already registered (pass overwrite=True)")
  if not timm.is_model(spec.architecture):
    close = difflib.get_close_matches(spec.architecture, timm.list_models(), n=5)
    raise ValueError(f"spec.architecture {spec.architecture!r} is not a timm model; close: {close}")
  weights_lib.check_weights_field(spec.weights)
  if (spec.weights is None) != (spec.pretrain_domain == "random"):
    raise ValueError(f"spec.pretrain_domain {spec.pretrain_domain!r} contradicts spec.weights "
                     f"{spec.weights!r}: 'random' exactly when weights is None")
  if spec.num_source_classes is not None and spec.num_source_classes < 1:
    raise ValueError(f"spec.num_source_classes must be >= 1 or None, got {spec.num_source_classes}")
  reserved = {"num_classes", "pretrained"} & set(spec.timm_kwargs)
  if reserved:
    raise ValueError(f"spec.timm_kwargs may not set {sorted(reserved)}; create_model sets them")
  cfg = timm.get_pretrained_cfg(spec.architecture)
  cfg = cfg.to_dict() if cfg is not None else {}
  spec = dataclasses.replace(
      spec,
      input_size=spec.input_size or int(cfg.get("input_size", (3, 224, 224))[-1]),
      mean=tuple(spec.mean or cfg.get("mean", IMAGENET_DEFAULT_MEAN)),
      std=tuple(spec.std or cfg.get("std", IMAGENET_DEFAULT_STD)),
      timm_kwargs=dict(spec.timm_kwargs))
  _REGISTRY[spec.name] = spec
  model_meta.cache_clear()
  return spec


def unregister_model(name: str) -> None:
  """Removes a model from the zoo (e.g. a checkpoint that was deleted); unknown names raise."""
  get_spec(name)
  del _REGISTRY[name]
  model_meta.cache_clear()


def get_spec(name: str) -> ModelSpec:
  """Returns the registered spec called `name`.

  Raises:
    ValueError: `name` is not registered; the message lists close matches.
  """
  if name not in _REGISTRY:
    close = difflib.get_close_matches(name, list(_REGISTRY), n=5)
    raise ValueError(f"model_name {name!r} is not in the zoo; close matches: {close}")
  return _REGISTRY[name]


def list_models(pretrain_domain: str | None = None) -> list[str]:
  """Returns registered zoo names (sorted), optionally only those of one pre-train domain."""
  return sorted(n for n, s in _REGISTRY.items()
                if pretrain_domain is None or s.pretrain_domain == pretrain_domain)


def create_model(name: str, num_classes: int | None = None, pretrained: bool = True,
                 seed: int = 0, allow_download: bool = False) -> torch.nn.Module:
  """Builds a zoo model in eval mode.

  Args:
    name: zoo name.
    num_classes: None keeps the pre-trained head (`spec.num_source_classes`; no head, i.e.
      `num_classes=0`, when there is none); 0 removes the head; N > 0 puts a new N-way head.
    pretrained: load the spec's weights; False gives a random init of the same architecture.
    seed: seeds every random init (whole model or new head), so builds are reproducible.
    allow_download: for `weights="timm"`, fetch from the hub when neither the hub cache nor an
      offline copy has them (a user with internet); never done by default.

  Returns:
    The model (`torch.nn.Module`, eval mode).

  Raises:
    ValueError: unknown name, negative `num_classes`.
    FileNotFoundError: the weights are nowhere to be found (and no download allowed).
    weights.WeightsMismatchError: the weights file does not fit the architecture.
  """
  spec = get_spec(name)
  if num_classes is not None and num_classes < 0:
    raise ValueError(f"num_classes must be >= 0 or None, got {num_classes}")
  source_head = spec.num_source_classes or 0
  with torch.random.fork_rng(devices=[]):
    torch.manual_seed(seed)
    model = timm.create_model(spec.architecture, pretrained=False, num_classes=source_head,
                              **spec.timm_kwargs)
    if pretrained and spec.weights is not None:
      weights_lib.load_pretrained(model, spec.architecture, spec.weights, allow_download,
                                  spec.timm_kwargs)
    if num_classes is not None and num_classes != source_head:
      model.reset_classifier(num_classes)
  return model.eval()


def count_gmacs(model: torch.nn.Module, input_size: int) -> float:
  """GMACs of one forward pass of `model` on a 1 x 3 x `input_size`^2 input (FLOPs / 2).

  The one count of the project (zoo meta features, throughput-table rows), so that every
  figure is taken the same way. Attention is counted through timm's non-fused path (the
  model's `fused_attn` flags are turned off, in place): this torch's FlopCounterMode does
  not count the CPU fused attention kernel, and the two paths compute the same products.
  """
  for module in model.modules():
    if hasattr(module, "fused_attn"):
      module.fused_attn = False
  counter = FlopCounterMode(display=False)
  with torch.inference_mode(), counter:
    model(torch.zeros(1, 3, input_size, input_size))
  return counter.get_total_flops() / 2e9


@functools.lru_cache(maxsize=None)
def model_meta(name: str) -> ModelMeta:
  """Measures parameters and GMACs (`count_gmacs`) of a zoo model, headless, at its input
  size."""
  spec = get_spec(name)
  model = create_model(name, num_classes=0, pretrained=False)
  params = sum(p.numel() for p in model.parameters())
  return ModelMeta(params / 1e6, count_gmacs(model, spec.input_size), spec.input_size)


def input_spec(name: str) -> InputSpec:
  """The input a zoo model is fed (size, mean/std from its `ModelSpec`), in fine-tuning and in
  feature extraction alike (`data.images`)."""
  spec = get_spec(name)
  return InputSpec(spec.input_size, tuple(spec.mean), tuple(spec.std))


def model_columns(name: str) -> dict[str, Any]:
  """Returns the model columns of the history table for `name` (see DESIGN.md)."""
  spec, meta = get_spec(name), model_meta(name)
  return {"family": spec.family, "input_size": spec.input_size,
          "params_m": round(meta.params_m, 4), "gmacs": round(meta.gmacs, 5),
          "pretrain_domain": spec.pretrain_domain}


# The micro zoo. ImageNet models with offline weights here run at their native size; the
# small architectures run at 32 px (CIFAR-like inputs) and start from random init until a
# source-task checkpoint of ours is registered under a new name.
_IN1K = (("mobilenetv2_100", "mobilenet"), ("tf_efficientnet_lite0", "efficientnet"),
         ("tf_efficientnet_lite1", "efficientnet"), ("tf_efficientnet_lite2", "efficientnet"))
_SMALL_32PX = (
    ModelSpec("resnet10t", "resnet10t", "resnet", "random", input_size=32),
    ModelSpec("convnext_atto", "convnext_atto", "convnext", "random", input_size=32),
    ModelSpec("regnetx_002", "regnetx_002", "regnet", "random", input_size=32),
    ModelSpec("mobilevit_xxs", "mobilevit_xxs", "mobilevit", "random", input_size=32),
    ModelSpec("lcnet_050", "lcnet_050", "lcnet", "random", input_size=32),
    # 8-px patches: a 4x4 token grid keeps a 12-layer ViT at ~0.09 GMACs (4-px: 0.37).
    ModelSpec("vit_tiny_patch8_32", "vit_tiny_patch16_224", "vit", "random", input_size=32,
              timm_kwargs={"img_size": 32, "patch_size": 8}),
)
for _arch, _family in _IN1K:
  register_model(ModelSpec(_arch, _arch, _family, "in1k", weights="timm", num_source_classes=1000))
for _spec in _SMALL_32PX:
  register_model(_spec)
MICRO_ZOO: tuple[str, ...] = tuple(a for a, _ in _IN1K) + tuple(s.name for s in _SMALL_32PX)
