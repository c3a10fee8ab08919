"""Frozen features of a probe set, written to the feature cache the JAX half reads.

One convention for every architecture: timm's `forward_features`, then
`forward_head(x, pre_logits=True)` (the pooled representation right before the classifier);
for models with a pre-trained head also the softmax of that head (`source_probs`, for LEEP and
NCE). Preprocessing is the fine-tuning loop's (`data/images.py`, one pipeline): the whole image
resized to the model's square input (bilinear, antialiased; no crop, no augmentation), rounded
to uint8, grayscale repeated to 3 channels, the model's mean/std applied.

Device and precision (the fine-tuning step's choices, `finetune.options`): the first CUDA
device when available (or `device`), bf16 autocast on CUDA and float32 elsewhere
(`precision="auto"`), optionally channels-last. Batches are resized on the host and
normalised on the device; the outputs stay on the device until the end (one copy back).
Features and source probabilities are returned and cached as float32 whatever the precision,
and the sidecar records the precision (part of the match: a bf16 cache never serves an fp32
request) and the device (recorded only).

Cache contract (`contracts/feature_cache.py`: layout and loading, shared with the JAX half):
`<cache_root>/features/<dataset>/<model>.npz` holding `features` float32 [N, D], `labels`
int64 [N] and, when there is a source head, `source_probs` float32 [N, Cs]; its JSON sidecar records what made it (model, weights sha256, dataset, split, probe seed, N, D, code
version, preprocessing). A cache is reused only if its sidecar matches the request and its
arrays are intact; otherwise it is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import time
from typing import Any, Mapping

import numpy as np
import torch

import guidedrec_jax
from guidedrec_jax import io, paths
from guidedrec_jax.contracts.feature_cache import feature_cache_path
from guidedrec_jax.data import images
from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.finetune.options import (TrainOptions, autocast, default_device,
                                            prepare_model, to_format)
from guidedrec_jax.zoo import registry, weights as weights_lib

_LOG = logging.getLogger(__name__)
FEATURE_CONVENTION = "timm forward_features -> forward_head(pre_logits=True)"


def extract_features(model_name: str, dataset: ImageDataset,
                     cache_root: str | os.PathLike | None, probe_meta: Mapping[str, Any],
                     batch_size: int = 64, input_size: int | None = None,
                     num_threads: int = 1, allow_download: bool = False,
                     precision: str = "auto", channels_last: bool = False,
                     device: str | None = None) -> pathlib.Path:
  """Computes (or reuses) the features of `dataset` under the zoo model `model_name`.

  Args:
    model_name: a registered zoo name.
    dataset: the probe set (images uint8 [N, H, W, 1|3], labels int64 [N]).
    cache_root: cache folder; None: `paths.cache_dir()`.
    probe_meta: how the probe set was drawn: JSON-able, with at least an int "seed" (the
      description `data.probe.probe_set` returns); recorded in the sidecar (its seed also as
      "probe_seed") and part of the match.
    batch_size: images per forward pass.
    input_size: model input side; None: the spec's (override e.g. to run an ImageNet model
      at a smaller size on CPU; recorded and matched).
    num_threads: torch intra-op threads while extracting (restored afterwards).
    allow_download: let `weights="timm"` models download (see `registry.create_model`).
    precision: "auto" (bf16 on CUDA, fp32 elsewhere), "fp32" or "bf16" (autocast); recorded
      and matched.
    channels_last: run the model in channels-last memory format.
    device: where to run; None: the first CUDA device when available, else the CPU.

  Returns:
    The path of the `.npz` cache. Reusing a cache costs one model build and weights hash
    (the sha256 is of the weights as loaded), no forward pass.

  Raises:
    ValueError: an argument is malformed (named in the message), before any model is built.
    RuntimeError: the model produced non-finite features (nothing is cached).
  """
  spec = registry.get_spec(model_name)
  _check_request(dataset, probe_meta, batch_size, input_size, num_threads)
  # A fine-tuning job's checks: ValueError for a bad precision or channels_last.
  options = TrainOptions(precision, channels_last)
  try:
    device = torch.device(device) if device is not None else default_device()
  except (RuntimeError, TypeError) as e:
    raise ValueError(f"device {device!r} is not a torch device: {e}") from e
  options = options.resolved(device)
  precision = options.precision
  size = input_size or spec.input_size
  path = feature_cache_path(cache_root or paths.cache_dir(), dataset.name, model_name)
  previous_threads = torch.get_num_threads()
  torch.set_num_threads(num_threads)
  try:
    model = registry.create_model(model_name, allow_download=allow_download)
    has_head = bool(spec.num_source_classes) and spec.weights is not None
    expect = {
        "model": model_name, "weights_sha256": weights_lib.state_dict_sha256(model),
        "dataset": dataset.name, "split": dataset.split,
        "probe_seed": int(probe_meta["seed"]), "probe": dict(probe_meta),
        "n": len(dataset), "labels_sha256": _labels_sha256(dataset),
        "input_size": size, "mean": list(spec.mean), "std": list(spec.std),
        "feature": FEATURE_CONVENTION, "pipeline": images.PIPELINE,
        "has_source_probs": has_head, "precision": precision,
        "code_version": guidedrec_jax.__version__,
    }
    try:
      io.load_arrays(path, expect)
      return path
    except FileNotFoundError:
      pass
    except io.CacheError as e:
      _LOG.info("recomputing features: %s", e)
    start = time.perf_counter()
    arrays = _run(model, dataset, images.InputSpec(size, tuple(spec.mean), tuple(spec.std)),
                  batch_size, has_head, device, options)
    seconds = time.perf_counter() - start
  finally:
    torch.set_num_threads(previous_threads)
  meta = dict(expect, architecture=spec.architecture, pretrain_domain=spec.pretrain_domain,
              d=int(arrays["features"].shape[1]), extract_seconds=round(seconds, 3),
              images_per_second=round(len(dataset) / seconds, 2), num_threads=num_threads,
              device=str(device), channels_last=channels_last)
  io.save_arrays(path, arrays, meta)
  return path


def _check_request(dataset: ImageDataset, probe_meta: Mapping[str, Any], batch_size: int,
                   input_size: int | None, num_threads: int) -> None:
  """Raises ValueError naming the first malformed argument of `extract_features`."""
  if not isinstance(dataset, ImageDataset):
    raise ValueError(f"dataset must be an ImageDataset, got {type(dataset).__name__}")
  name = pathlib.PurePosixPath(dataset.name)
  if not dataset.name or name.is_absolute() or ".." in name.parts:
    raise ValueError(f"dataset.name {dataset.name!r} must be a relative path without '..' "
                     "(it names the cache folder)")
  labels = np.asarray(dataset.labels)
  if labels.ndim != 1 or labels.dtype != np.int64 or labels.size == 0:
    raise ValueError(
        f"dataset.labels must be non-empty int64 [N], got {labels.dtype} {labels.shape}")
  if len(dataset.images) != labels.size:
    raise ValueError(f"dataset.images has {len(dataset.images)} rows, dataset.labels {labels.size}")
  seed = probe_meta.get("seed") if isinstance(probe_meta, Mapping) else None
  if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
    raise ValueError(f"probe_meta must be a mapping with an int 'seed', got {probe_meta!r}")
  try:
    json.dumps(dict(probe_meta))
  except TypeError as e:
    raise ValueError(f"probe_meta must hold plain JSON values (it goes in the sidecar): {e}") from e
  for name, value in (("batch_size", batch_size), ("num_threads", num_threads),
                      ("input_size", 1 if input_size is None else input_size)):
    if not isinstance(value, int) or value < 1:
      raise ValueError(f"{name} must be a positive int, got {value!r}")


def _labels_sha256(dataset: ImageDataset) -> str:
  """Fingerprints the probe selection through its labels (cheap; images may be lazy)."""
  labels = np.ascontiguousarray(dataset.labels, dtype=np.int64)
  return hashlib.sha256(labels.tobytes()).hexdigest()


def _uint8_batch(batch: np.ndarray, size: int) -> torch.Tensor:
  """uint8 [B, 3, size, size] of a batch: `images.resize_uint8`, whose resize, rounding and
  cast are the identity on RGB uint8 images already at `size`, so those are only permuted."""
  batch = np.asarray(batch)
  if batch.dtype == np.uint8 and batch.ndim == 4 and batch.shape[1:] == (size, size, 3):
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).contiguous()
  return images.resize_uint8(batch, size)


def _run(model: torch.nn.Module, dataset: ImageDataset, spec: images.InputSpec,
         batch_size: int, has_head: bool, device: torch.device | None = None,
         options: TrainOptions | None = None) -> dict[str, np.ndarray]:
  """Runs the model over the dataset in batches on `device` with the resolved `options`'
  precision and memory format (default fp32, NCHW); returns the float32 arrays."""
  device = device or torch.device("cpu")
  options = options or TrainOptions("fp32")
  precision, channels_last = options.precision, options.channels_last
  # The fine-tuning step's placement and memory format; never compiled (the forward here is
  # `forward_features` / `forward_head`, not the module's call).
  model, _ = prepare_model(model, device, options)
  features, probs = [], []
  with torch.inference_mode():
    for start in range(0, len(dataset), batch_size):
      rows = np.arange(start, min(start + batch_size, len(dataset)))
      x = _uint8_batch(dataset.images[rows], spec.input_size).to(device, non_blocking=True)
      x = to_format(images.normalise(x, spec), channels_last)  # = images.model_input on CPU
      with autocast(device, precision):
        feature_map = model.forward_features(x)
        pooled = model.forward_head(feature_map, pre_logits=True)
        if pooled.ndim != 2:  # the contract is one vector per image
          raise RuntimeError(f"forward_head(pre_logits=True) gave shape {tuple(pooled.shape)}")
        features.append(pooled.float())
        if has_head:  # the softmax in float32, from the head's (possibly bf16) logits
          probs.append(torch.softmax(model.forward_head(feature_map).float(), dim=-1))
  arrays = {"features": torch.cat(features).cpu().numpy().astype(np.float32),
            "labels": np.asarray(dataset.labels, dtype=np.int64)}
  if not np.isfinite(arrays["features"]).all():
    raise RuntimeError(f"model {getattr(model, 'pretrained_cfg', {}).get('architecture')} "
                       "produced non-finite features; nothing was cached")
  if has_head:
    arrays["source_probs"] = torch.cat(probs).cpu().numpy().astype(np.float32)
  return arrays
