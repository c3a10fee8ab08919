"""Synthetic histories for the recommender tests: the one builder module they all import.

Usage: `from tests.recommender import histories` (pytest runs from the repository root).

* `history`: datasets x models with the standard columns; top-1 = dataset level + a planted
  model quality (or log-params and family) + noise, MS scores = quality + noise.
* `new_dataset`: every zoo model on an unseen dataset, no `top1`, plus a model without history.
* `two_families`: datasets of two families that rank the models oppositely (neighbors).
* `candidates`: planted candidate columns around the truth (the blend's "disaster" case).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def history(num_datasets: int = 4, num_models: int = 12, seed: int = 0, *,
            truth: str = "quality", noise: float = 0.5, spread: float = 5.0,
            levels: Sequence[float] | None = None, scores: Sequence[str] = ("logme",),
            score_noise: float = 0.1, score_level: float = 0.0,
            num_classes: Sequence[int] | None = None,
            num_train: Sequence[int] | None = None) -> pd.DataFrame:
  """A planted history (one row per (dataset, model)).

  Args:
    num_datasets, num_models, seed: size and the seed of every random draw.
    truth: `quality`: top-1 = level + spread * quality[m] + noise; `params`: top-1 = level +
      5 log10(params_m) + 3 [family == vit] + noise (a truth linear in the encoded fields).
    noise: std of the top-1 noise (points).
    spread: points per unit of quality (`quality` truth).
    levels: each dataset's level (default: uniform 45..75).
    scores: MS scores `ms_<name>` = quality + N(0, score_noise) + score_level * d (a score
      whose level differs between datasets, as H-score's does).
    num_classes, num_train: per dataset (default 10 (d + 1) and 1000 (d + 1)).
  """
  rng = np.random.default_rng(seed)
  quality = rng.normal(size=num_models)
  params = 10 ** rng.uniform(0, 3, num_models) if truth == "params" else 1.0 + np.arange(
      num_models)
  family = np.where(np.arange(num_models) % 2 == 0, "resnet", "vit")
  levels = rng.uniform(45, 75, num_datasets) if levels is None else np.asarray(levels, float)
  num_classes = [10 * (d + 1) for d in range(num_datasets)] if num_classes is None else list(
      num_classes)
  num_train = [1000 * (d + 1) for d in range(num_datasets)] if num_train is None else list(
      num_train)
  frames = []
  for d in range(num_datasets):
    if truth == "quality":
      top1 = levels[d] + spread * quality
    elif truth == "params":
      top1 = levels[d] + 5 * np.log10(params) + 3 * (family == "vit")
    else:
      raise ValueError(f"truth must be quality or params, got {truth!r}")
    frame = pd.DataFrame({
        "dataset": f"d{d}", "model": [f"m{m}" for m in range(num_models)],
        "top1": top1 + rng.normal(scale=noise, size=num_models),
        "num_train": num_train[d], "num_classes": num_classes[d], "family": family,
        "input_size": 224, "params_m": params, "gmacs": params / 10,
        "pretrain_domain": "in1k"})
    for name in scores:
      frame[f"ms_{name}"] = (quality + rng.normal(scale=score_noise, size=num_models)
                             + score_level * d)
    frames.append(frame)
  return pd.concat(frames, ignore_index=True)


def new_dataset(num_models: int = 12, seed: int = 5, name: str = "unseen", **kwargs
                ) -> pd.DataFrame:
  """Every zoo model on an unseen dataset (no `top1`), plus `brand_new`, a model without
  history (known by its meta features only)."""
  frame = history(1, num_models, seed, **kwargs).drop(columns="top1")
  extra = frame.iloc[:1].assign(model="brand_new", family="convnext", params_m=7.5)
  return pd.concat([frame, extra], ignore_index=True).assign(dataset=name, num_train=777,
                                                             num_classes=33)


def two_families(seed: int = 0) -> pd.DataFrame:
  """Two families of target datasets (A: a0..a2, B: b0..b2) that rank 12 models oppositely.

  Models m0..m5 are pre-trained on a source; `src_<target>` models exist for a0 and b0, and a
  source-A model transfers well to A datasets (and poorly to B), so a held-out a0 is
  recognised as an A dataset through its own source models. `ms_logme` follows each
  family's ranking.
  """
  rng = np.random.default_rng(seed)
  quality = rng.normal(size=12)
  sources = ["a0", "a0", "b0", "b0", "imagenet", "imagenet"] + ["imagenet"] * 6
  rows = []
  for d in ["a0", "a1", "a2", "b0", "b1", "b2"]:
    sign = 1.0 if d.startswith("a") else -1.0
    for m in range(12):
      affinity = {"a": 1.0, "b": -1.0}.get(sources[m][0], 0.0) * sign
      rows.append({"dataset": d, "model": f"m{m}", "source_data": sources[m],
                   "top1": 60 + 5 * sign * quality[m] + 3 * affinity + rng.normal(scale=0.2),
                   "ms_logme": sign * quality[m] + rng.normal(scale=0.05)})
  return pd.DataFrame(rows)


def candidates(num_datasets: int = 8, num_models: int = 12, seed: int = 0, *,
               flipped: Sequence[str] = ("d2",), num_noisy: int = 4, pearson: float = 0.65
               ) -> pd.DataFrame:
  """A history with planted candidate columns around the truth `top1`.

  `cand_a` is the (within-dataset standardised) truth on every dataset but those `flipped`,
  where it is the negated truth; `cand_n<k>` is the truth plus noise orthogonal to it and to
  each other, scaled so that its Pearson with the truth is exactly `pearson` on every
  dataset.
  """
  rng = np.random.default_rng(seed)
  scale = np.sqrt(1 / pearson ** 2 - 1)
  frames = []
  for d in range(num_datasets):
    t = rng.normal(size=num_models)
    t = (t - t.mean()) / t.std()
    noise = np.linalg.qr(np.column_stack([np.ones(num_models), t,
                                          rng.normal(size=(num_models, num_noisy))]))[0][:, 2:]
    frame = pd.DataFrame({"dataset": f"d{d}", "model": [f"m{m}" for m in range(num_models)],
                          "top1": 60 + 5 * t, "cand_a": -t if f"d{d}" in flipped else t})
    for k in range(num_noisy):
      frame[f"cand_n{k}"] = t + scale * np.sqrt(num_models) * noise[:, k]
    frames.append(frame)
  return pd.concat(frames, ignore_index=True)


def leveled(num_classes: Sequence[int], num_train: Sequence[int], levels: Sequence[float],
            num_models: int = 12, spread: float = 0.05, seed: int = 0) -> pd.DataFrame:
  """`history` with accuracies planted on the chance-free scale of `recommender/scale.py`:
  top-1 = chance + (100 - chance) (level[d] + spread * quality[m]), chance = 100 / classes,
  quality standardised (mean 0, std 1), so each dataset's mean chance-free accuracy is its
  level and its std the spread (clipped to [0, 1] where that would leave it)."""
  frame = history(len(levels), num_models, seed, num_classes=num_classes, num_train=num_train,
                  noise=0.0)
  rng = np.random.default_rng(seed + 1)
  quality = rng.normal(size=num_models)
  quality = (quality - quality.mean()) / quality.std()
  d = frame["dataset"].str[1:].astype(int).to_numpy()
  m = frame["model"].str[1:].astype(int).to_numpy()
  above = np.clip(np.asarray(levels, float)[d] + spread * quality[m], 0.0, 1.0)
  chance = 100.0 / frame["num_classes"].to_numpy(np.float64)
  return frame.assign(top1=chance + (100.0 - chance) * above,
                      ms_logme=quality[m] + rng.normal(scale=0.3, size=len(frame)))
