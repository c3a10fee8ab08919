"""Image folders: one subfolder per class (`root/<class>/<image>`), read lazily with PIL.

If `root` holds `train/` (and optionally `val/`, `test/`) subfolders, each is a split with
class subfolders of its own; otherwise the whole folder is one pool that the registry carves
into splits. Images are converted to RGB and resized to a square side, since folders mix
sizes and modes.
"""

from __future__ import annotations

import pathlib

import numpy as np

from guidedrec_jax.data.base import ImageDataset, LazyImages

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                            ".ppm"})
DEFAULT_IMAGE_SIZE = 224
_SPLIT_DIRS = {"train": "train", "val": "val", "test": "test"}


class FolderImages(LazyImages):
  """Lazy uint8 [N, S, S, 3] images of a list of files; indexing reads those files."""

  def __init__(self, files: list[pathlib.Path], image_size: int):
    self.files, self.image_size = files, image_size

  def __len__(self) -> int:
    return len(self.files)

  def read(self, index: int) -> np.ndarray:
    from PIL import Image  # Imported here: only folder sources need PIL at load time.
    with Image.open(self.files[index]) as image:
      return np.asarray(image.convert("RGB"))


def _scan(root: pathlib.Path, argument: str) -> dict[str, list[pathlib.Path]]:
  """Returns class name -> sorted image files, for class subfolders that hold images."""
  classes = {}
  for sub in sorted(p for p in root.iterdir() if p.is_dir()):
    files = sorted(f for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if files:
      classes[sub.name] = files
  if not classes:
    raise ValueError(f"{argument}: folder {root} has no class subfolders holding images "
                     f"({', '.join(sorted(IMAGE_SUFFIXES))})")
  return classes


def folder_splits(root: str | pathlib.Path) -> dict[str, str | None]:
  """Returns our split -> the subfolder holding it ("" = the whole folder), None = carve.

  Raises:
    ValueError: `root` is not a folder, has a `val/` or `test/` but no `train/`, or holds
      fewer than two classes.
  """
  root = pathlib.Path(root)
  if not root.is_dir():
    raise ValueError(f"name: 'folder:{root}' is not a folder")
  present = {split: sub for split, sub in _SPLIT_DIRS.items() if (root / sub).is_dir()}
  if not present:
    splits: dict[str, str | None] = {"train": "", "val": None, "test": None}
  elif "train" not in present:
    raise ValueError(f"name: folder {root} has {sorted(present)} subfolders but no train/")
  else:
    splits = {split: present.get(split) for split in _SPLIT_DIRS}
  train_classes = _scan(root / splits["train"], "name")
  if len(train_classes) < 2:
    raise ValueError(f"name: folder {root / splits['train']} has one class "
                     f"({next(iter(train_classes))!r}); classification needs at least two")
  return splits


def load_folder(root: str | pathlib.Path, subfolder: str, split: str,
                image_size: int | None = None) -> ImageDataset:
  """Loads `root/subfolder` as a lazy `ImageDataset`, classes named after the train classes.

  Args:
    root: the folder given as "folder:<root>".
    subfolder: which split folder to read ("" = root itself; see `folder_splits`).
    split: our split name to record.
    image_size: square side to resize to (default `DEFAULT_IMAGE_SIZE`).

  Raises:
    ValueError: the folder holds no images, or a split has classes the train split lacks.
  """
  root = pathlib.Path(root)
  train_dir = root / folder_splits(root)["train"]
  class_names = tuple(_scan(train_dir, "name"))
  classes = _scan(root / subfolder, "name")
  unknown = sorted(set(classes) - set(class_names))
  if unknown:
    raise ValueError(f"name: {root / subfolder} has classes {unknown} that {train_dir} lacks")
  files = [f for name in class_names for f in classes.get(name, [])]
  labels = np.concatenate([np.full(len(classes.get(name, [])), c, np.int64)
                           for c, name in enumerate(class_names)])
  size = image_size or DEFAULT_IMAGE_SIZE
  meta = {"source": "folder", "root": str(root.resolve()), "native_split": subfolder or ".",
          "image_size": size}
  return ImageDataset(f"folder:{root}", split, FolderImages(files, size), labels, class_names, meta)


def new_folder(out: str | pathlib.Path) -> pathlib.Path:
  """`out` as a path; ValueError if it exists already (nothing a user made is overwritten)."""
  out = pathlib.Path(out)
  if out.exists():
    raise ValueError(f"out: {out} exists already; give a new folder")
  return out


def export_folder(data: ImageDataset, out: str | pathlib.Path) -> int:
  """Writes `data` as an image folder `load_folder` reads back (one PNG per image under its
  class's subfolder; "/" and spaces in class names replaced); returns the image count.

  Raises:
    ValueError: `out` exists already (`new_folder`).
  """
  from PIL import Image  # pylint: disable=import-outside-toplevel  # folders alone need PIL
  out = new_folder(out)
  names = [n.replace("/", "-").replace(" ", "_") for n in data.class_names]
  for i in range(len(data)):
    image = np.asarray(data.images[i])
    folder = out / names[int(data.labels[i])]
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{i:05d}.png")
  return len(data)
