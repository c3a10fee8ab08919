"""The one image pipeline from stored uint8 images to model inputs (fine-tuning and extraction).

Two steps, both used by `finetune.train` (resize once, normalise per batch, augment between)
and by `zoo.extract` (both at once, per batch):

1. `resize_uint8`: uint8 [N, H, W, 1|3] -> uint8 [N, 3, S, S]: the whole image resized to the
   model's square input (bilinear, antialiased; no crop), rounded back to uint8 (so a
   resized training set stays small on the device), grey repeated to 3 channels;
2. `normalise`: uint8 (or float on the 0-255 scale, e.g. augmented) -> float32, the model's
   per-channel mean/std applied.

`InputSpec` says what a model expects; the zoo derives it from its `ModelSpec`
(`zoo.registry.input_spec`), so the size and constants are written down once.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

# Recorded in feature-cache sidecars: a change here must invalidate cached features.
PIPELINE = "resize bilinear antialias -> round uint8 -> (x - 255 mean) / (255 std)"
# Rows resized at once: bounds the float32 temporary at 224 px to ~150 MB.
_RESIZE_CHUNK = 256


@dataclasses.dataclass(frozen=True)
class InputSpec:
  """What a model expects as input: square side in pixels and per-channel RGB mean/std (0-1)."""
  input_size: int
  mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
  std: tuple[float, float, float] = (0.229, 0.224, 0.225)

  def __post_init__(self):
    if not isinstance(self.input_size, int) or self.input_size < 8:
      raise ValueError(f"input_size must be an int >= 8, got {self.input_size!r}")
    if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
      raise ValueError(f"mean and std must hold 3 values (std > 0), got {self.mean}, {self.std}")


def resize_uint8(images: np.ndarray, size: int, name: str = "images") -> torch.Tensor:
  """Returns the images as uint8 [N, 3, size, size] on the CPU (grey -> 3 channels).

  Raises:
    ValueError: `images` is not uint8 [N, H, W, 1|3] (`name` names it in the message).
  """
  images = images if hasattr(images, "shape") else np.asarray(images)
  shape = tuple(images.shape)
  if len(shape) != 4 or shape[-1] not in (1, 3):
    raise ValueError(f"{name} must be uint8 [N, H, W, 1|3], got shape {shape}")
  out = torch.empty((shape[0], 3, size, size), dtype=torch.uint8)
  for start in range(0, shape[0], _RESIZE_CHUNK):
    rows = np.arange(start, min(start + _RESIZE_CHUNK, shape[0]))
    chunk = np.asarray(images[rows])
    if chunk.dtype != np.uint8:
      raise ValueError(f"{name} must be uint8 [N, H, W, 1|3], got {chunk.dtype} {shape}")
    x = torch.from_numpy(np.ascontiguousarray(chunk)).permute(0, 3, 1, 2).float()
    if x.shape[-2:] != (size, size):
      x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    out[start:start + len(rows)] = x.round().clamp(0, 255).expand(-1, 3, -1, -1).to(torch.uint8)
  return out


def normalise(x: torch.Tensor, spec: InputSpec) -> torch.Tensor:
  """float32 model input from uint8 (or 0-255 float) [B, 3, S, S]: (x - 255 mean) / (255 std)."""
  mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1) * 255
  std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1) * 255
  return (x.float() - mean) / std


def model_input(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
  """Both steps at once: uint8 [B, H, W, 1|3] -> the float32 [B, 3, S, S] a model is fed."""
  return normalise(resize_uint8(images, spec.input_size), spec)
