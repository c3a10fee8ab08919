"""Image folders for the user-dataset tests: the one builder they all import."""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image


def write_folder(root: pathlib.Path, per_class=(10, 10, 10), broken: int = 0) -> pathlib.Path:
  """Class folders of seeded random PNGs (each class its own brightness), plus broken files."""
  rng = np.random.default_rng(0)
  for c, count in enumerate(per_class):
    folder = root / f"class_{c}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
      image = (rng.random((20, 20, 3)) * 90 + 60 * c).astype(np.uint8)
      Image.fromarray(image).save(folder / f"{i}.png")
  for i in range(broken):
    (root / "class_0" / f"broken_{i}.png").write_bytes(b"\x89PNG not really")
  return root
