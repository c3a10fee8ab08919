"""Tiny datasets and models for the fine-tuning tests (also imported by a child process).

Usage: `from tests.finetune import fixtures` (pytest runs from the repo root).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.finetune import InputSpec, ModelInfo


def blobs(name: str, num_images: int, num_classes: int, side: int, channels: int,
          seed: int = 0) -> ImageDataset:
  """A learnable dataset: class k is a bright square in cell k of a grid, plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, num_images).astype(np.int64)
  images = rng.integers(0, 90, (num_images, side, side, channels)).astype(np.uint8)
  cell = side // 2
  for i, label in enumerate(labels):
    y, x = divmod(int(label) % 4, 2)
    images[i, y * cell:(y + 1) * cell, x * cell:(x + 1) * cell] += 150
  return ImageDataset(name, "train", images, labels, tuple(f"c{k}" for k in range(num_classes)))


def datasets() -> dict[str, ImageDataset]:
  """Two datasets: RGB 12 px with 4 classes, greyscale 20 px with 3 classes."""
  return {"rgb4": blobs("rgb4", 160, 4, 12, 3, seed=1),
          "grey3": blobs("grey3", 160, 3, 20, 1, seed=2)}


MODELS = (
    ModelInfo("cnn_narrow", "tinycnn", InputSpec(16), 0.001, 0.0001, "none"),
    ModelInfo("cnn_wide", "tinycnn", InputSpec(16, (0.5,) * 3, (0.25,) * 3), 0.004, 0.0004,
              "none"),
)


def tiny_cnn(name: str, num_classes: int, pretrained: bool) -> torch.nn.Module:
  """A two-layer CNN with batch norm; `pretrained` is accepted and ignored."""
  del pretrained
  width = {"cnn_narrow": 4, "cnn_wide": 8}[name]
  return torch.nn.Sequential(
      torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
      torch.nn.MaxPool2d(2), torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
      torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * width, num_classes))


def slow_tiny_cnn(name: str, num_classes: int, pretrained: bool) -> torch.nn.Module:
  """`tiny_cnn` after a pause, so that a sweep can be killed between two jobs."""
  time.sleep(0.4)
  return tiny_cnn(name, num_classes, pretrained)


class CountingFactory:
  """Wraps `tiny_cnn` and counts calls (one call = one job executed)."""

  def __init__(self):
    self.calls: list[str] = []

  def __call__(self, name: str, num_classes: int, pretrained: bool) -> torch.nn.Module:
    self.calls.append(name)
    return tiny_cnn(name, num_classes, pretrained)
