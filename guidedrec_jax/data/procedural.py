"""VTAB-"structured"-like tasks drawn from a seed: shape, orientation, position, counting and
texture classes of 32x32 grey images, made with numpy in milliseconds.

Each image is a binary mask (from implicit shape functions on the pixel grid, vectorised over
the batch) painted with a random foreground over a random background plus Gaussian noise, so
the nuisance factors (scale, position, rotation, contrast) vary while only the label factor
decides the class. Every split holds exactly `per_class` images of every class.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from guidedrec_jax.data.base import ImageDataset, seeded_rng

SIZE = 32
PER_CLASS = {"train": 250, "val": 50, "test": 100}
_SHAPES = ("square", "circle", "triangle", "cross")
_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5  # Pixel centres.

Render = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class ProceduralTask(NamedTuple):
  """A generated task: class names and a renderer (labels [N], rng) -> bool masks [N, S, S]."""
  class_names: tuple[str, ...]
  render: Render


def _frame(cx: np.ndarray, cy: np.ndarray, angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Returns each image's pixel coordinates (u, v) [N, S, S] in a frame centred at (cx, cy),
  rotated by `angle` (radians), so shapes are defined once, axis-aligned at the origin."""
  dx, dy = _X - cx[:, None, None], _Y - cy[:, None, None]
  cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
  return cos * dx + sin * dy, -sin * dx + cos * dy


def _shape_mask(kind: np.ndarray, u: np.ndarray, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
  """Masks [N, S, S] of shape `kind[i]` (index into _SHAPES) with radius `scale[i]`."""
  s = scale[:, None, None]
  # Equilateral triangle: inside all three edges, each at distance s/2 from the centre.
  edge_normals = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
  masks = [np.maximum(abs(u), abs(v)) <= 0.8 * s,
           u * u + v * v <= s * s,
           np.all([np.cos(a) * u + np.sin(a) * v <= s / 2 for a in edge_normals], axis=0),
           ((abs(u) <= s / 3) & (abs(v) <= s)) | ((abs(v) <= s / 3) & (abs(u) <= s))]
  return np.choose(kind[:, None, None], masks)


def _render_shape(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  n = len(labels)
  u, v = _frame(rng.uniform(11, 21, n), rng.uniform(11, 21, n), rng.uniform(0, 2 * np.pi, n))
  return _shape_mask(labels, u, v, rng.uniform(5, 9, n))


def _render_orientation(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  # An arrow-like isosceles triangle: one apex, so every direction in 0..360 is distinct.
  # Angles stay inside the middle 70% of their 45-degree bin so classes do not touch.
  n = len(labels)
  angle = (labels + rng.uniform(0.15, 0.85, n)) * (2 * np.pi / 8)
  u, v = _frame(rng.uniform(12, 20, n), rng.uniform(12, 20, n), angle)
  s = rng.uniform(7, 10, n)[:, None, None]
  return (v >= -s / 2) & (v <= s) & (abs(u) <= (s - v) / 3)


def _render_position(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  n, cell = len(labels), SIZE / 3
  cx = (labels % 3 + rng.uniform(0.3, 0.7, n)) * cell
  cy = (labels // 3 + rng.uniform(0.3, 0.7, n)) * cell
  u, v = _frame(cx, cy, rng.uniform(0, 2 * np.pi, n))
  return _shape_mask(rng.integers(0, len(_SHAPES), n), u, v, rng.uniform(2.5, 3.5, n))


def _render_counting(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  # label + 1 discs, each in its own cell of a 4x4 grid: never overlapping, always countable.
  n, cell = len(labels), SIZE // 4
  rank = np.argsort(rng.random((n, 16)), axis=1).argsort(axis=1)
  present = rank <= labels[:, None]  # [N, 16]: label+1 cells per image.
  masks = np.zeros((n, SIZE, SIZE), bool)
  for c in range(16):
    cx = (c % 4) * cell + cell / 2 + rng.uniform(-1.2, 1.2, n)
    cy = (c // 4) * cell + cell / 2 + rng.uniform(-1.2, 1.2, n)
    r = rng.uniform(1.6, 2.6, n)[:, None, None]
    u, v = _frame(cx, cy, np.zeros(n))
    masks |= present[:, c, None, None] & (u * u + v * v <= r * r)
  return masks


def _render_texture(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  n = len(labels)
  period = rng.uniform(4, 8, n)[:, None, None]
  # A small rotation jitter; diagonal stripes pick 45 or 135 degrees.
  diagonal = np.where(rng.random(n) < 0.5, np.pi / 4, 3 * np.pi / 4) * (labels == 2)
  u, v = _frame(rng.uniform(0, SIZE, n), rng.uniform(0, SIZE, n),
                rng.uniform(-0.14, 0.14, n) + diagonal)
  wave_u, wave_v = np.sin(2 * np.pi * u / period), np.sin(2 * np.pi * v / period)
  du, dv = np.mod(u, period) - period / 2, np.mod(v, period) - period / 2
  masks = [wave_v > 0,                                   # horizontal stripes
           wave_u > 0,                                   # vertical stripes
           wave_u > 0,                                   # diagonal stripes (rotated frame)
           wave_u * wave_v > 0,                          # checkerboard
           du * du + dv * dv < (period / 4) ** 2,        # dots
           (abs(du) < period / 8) | (abs(dv) < period / 8)]  # grid lines
  return np.choose(labels[:, None, None], masks)


TASKS: dict[str, ProceduralTask] = {
    "procedural/shape": ProceduralTask(_SHAPES, _render_shape),
    "procedural/orientation": ProceduralTask(tuple(f"{45 * k}-{45 * (k + 1)}deg" for k in range(8)),
                                             _render_orientation),
    "procedural/position": ProceduralTask(
        tuple(f"row{r}_col{c}" for r in range(3) for c in range(3)), _render_position),
    "procedural/counting": ProceduralTask(tuple(str(k) for k in range(1, 7)), _render_counting),
    "procedural/texture": ProceduralTask(("horizontal", "vertical", "diagonal", "checkered",
                                          "dotted", "grid"), _render_texture),
}


def generate(name: str, split: str, seed: int, per_class: int | None = None) -> ImageDataset:
  """Draws one split of a procedural task.

  Args:
    name: a key of `TASKS` ("procedural/counting").
    split: "train", "val" or "test" (each drawn from its own stream of `seed`).
    seed: the seed; the same (name, split, seed, per_class) gives identical arrays.
    per_class: images per class (default `PER_CLASS[split]`).

  Returns:
    uint8 [C * per_class, 32, 32, 1] images with exactly `per_class` of each label.

  Raises:
    ValueError: unknown name or split, or per_class < 1.
  """
  if name not in TASKS:
    raise ValueError(f"name must be one of {sorted(TASKS)}, got {name!r}")
  if split not in PER_CLASS:
    raise ValueError(f"split must be one of {sorted(PER_CLASS)}, got {split!r}")
  per_class = PER_CLASS[split] if per_class is None else per_class
  if per_class < 1:
    raise ValueError(f"per_class must be >= 1, got {per_class}")
  task = TASKS[name]
  rng = seeded_rng(seed, f"{name}/{split}")
  labels = rng.permutation(np.repeat(np.arange(len(task.class_names)), per_class)).astype(np.int64)
  masks = task.render(labels, rng)
  n = len(labels)
  background = rng.uniform(0, 70, n)[:, None, None]
  foreground = rng.uniform(150, 255, n)[:, None, None]
  pixels = np.where(masks, foreground, background) + rng.normal(0, 12, masks.shape)
  images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)[..., None]
  meta = {"source": "procedural", "seed": int(seed), "per_class": int(per_class), "size": SIZE}
  return ImageDataset(name, split, images, labels, task.class_names, meta)
