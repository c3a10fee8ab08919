"""Tiny datasets and models for the fine-tuning tests (also imported by a child process).

Usage: `from tests.finetune import fixtures` (pytest runs from the repo root).
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np
import torch

from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.finetune import InputSpec, ModelInfo, hpo_grid, run_sweep


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


# The small sweep the sweep and Ray executor tests run: 2 datasets x 2 models x 2 learning rates.
REPO = pathlib.Path(__file__).resolve().parents[2]
GRID = hpo_grid(lrs=(0.02, 0.2), weight_decays=(0.0,), epochs=2, batch_size=16)
SIZES = dict(num_train=100, num_val=40, seed=0)


def sweep(workdir, factory=None, grid=GRID, **kwargs):
  """`run_sweep` of `datasets()` x `MODELS` over `grid` into `workdir` (factory: tiny_cnn)."""
  return run_sweep(datasets(), MODELS, factory or tiny_cnn, grid, workdir,
                   **{**SIZES, "progress": False, **kwargs})


def history(workdir) -> list[dict[str, str]]:
  """The sweep's `history.csv` rows."""
  with open(pathlib.Path(workdir) / "history.csv") as f:
    return list(csv.DictReader(f))


def log_lines(workdir) -> list[str]:
  """The sweep's `jobs.jsonl` lines."""
  return (pathlib.Path(workdir) / "jobs.jsonl").read_text().splitlines()
