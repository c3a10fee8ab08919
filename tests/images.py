"""What a test of a written plot checks: a real PNG of a drawn figure, not a blank canvas."""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image


def assert_drawn(path: pathlib.Path, min_side: int = 100) -> None:
  """`path` is a PNG at least `min_side` pixels each way with visible content: many distinct
  grey levels and a non-trivial spread (a blank or single-colour canvas fails)."""
  with Image.open(path) as image:
    assert image.format == "PNG", f"{path} is {image.format}, not PNG"
    grey = np.asarray(image.convert("L"), np.float64)
  assert min(grey.shape) >= min_side, f"{path} is only {grey.shape}"
  assert grey.std() > 5 and len(np.unique(grey)) > 16, f"{path} looks blank"
