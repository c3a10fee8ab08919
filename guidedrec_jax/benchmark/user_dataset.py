"""A user's dataset for `recommend.py --dataset=<spec>`: loaded, checked, and described.

`<spec>` is anything `data.load_dataset` accepts: `folder:<path>` (one subfolder per class),
an offline or catalogue name, `tfds:<name>`. The dataset is the pool the recommendation is for:
its training split (a folder: every readable image in it). Every check a user can fail runs
here, in the driver, before any model is built:

* a folder that is missing or holds no class subfolder with images;
* fewer than two classes, or a class with fewer than two (readable) images;
* unreadable image files (truncated, not an image) are skipped, never silently: their paths
  are returned and counted in the output.

The result travels to the torch child as a JSON plan (`to_plan` / `from_plan`): the exact
file list and labels of a folder, so the child never re-decides which files are good.
Imports neither torch nor JAX (the data package is plain NumPy + PIL).
"""

from __future__ import annotations

import hashlib
import pathlib
import re
from typing import Any, NamedTuple

import numpy as np

from guidedrec_jax.benchmark import layout
from guidedrec_jax.data import folder as folder_lib
from guidedrec_jax.data import load_dataset
from guidedrec_jax.data.base import ImageDataset

# Feature caches and history rows of user datasets live under this prefix, apart from the
# benchmark's tasks: a probe set of "digits" drawn here must never replace the benchmark's.
PREFIX = layout.USER + "/"
MIN_PER_CLASS = 2


class UserDataset(NamedTuple):
  """A checked user dataset.

  Attributes:
    spec: the `--dataset` value as given.
    name: its key in caches and histories (`user/<slug>`).
    dataset: the pool (train split), images lazy for folders; `dataset.name` is `name`.
    skipped: unreadable files left out (folders only), as strings.
  """
  spec: str
  name: str
  dataset: ImageDataset
  skipped: tuple[str, ...]


def dataset_key(spec: str) -> str:
  """`user/<slug>`: a folder's name plus a hash of its absolute path, else the spec itself."""
  if spec.startswith("folder:"):
    root = pathlib.Path(spec[len("folder:"):]).expanduser().resolve()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    slug = f"{root.name or 'root'}-{digest}"
  else:
    slug = spec
  return PREFIX + re.sub(r"[^A-Za-z0-9_.@-]+", "-", slug).strip("-")


def _readable(path: pathlib.Path) -> bool:
  """True if PIL decodes the whole file (a header check passes truncated files)."""
  from PIL import Image, UnidentifiedImageError  # Imported here: only folders decode.
  try:
    with Image.open(path) as image:
      image.load()
    return True
  except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
    return False


def _scan_folder(root: pathlib.Path) -> tuple[dict[str, list[pathlib.Path]], list[str]]:
  """Class name -> readable image files (sorted), and the unreadable files."""
  if not root.is_dir():
    raise ValueError(f"dataset: folder {root} does not exist or is not a folder")
  classes: dict[str, list[pathlib.Path]] = {}
  skipped: list[str] = []
  for sub in sorted(p for p in root.iterdir() if p.is_dir()):
    files = sorted(f for f in sub.rglob("*")
                   if f.is_file() and f.suffix.lower() in folder_lib.IMAGE_SUFFIXES)
    good = [f for f in files if _readable(f)]
    skipped += [str(f) for f in files if f not in set(good)]
    if files:
      classes[sub.name] = good
  if not classes:
    raise ValueError(f"dataset: folder {root} is empty: it has no class subfolders holding "
                     f"images ({', '.join(sorted(folder_lib.IMAGE_SUFFIXES))})")
  return classes, skipped


def _folder_dataset(name: str, root: pathlib.Path, classes: dict[str, list[pathlib.Path]],
                    image_size: int) -> ImageDataset:
  class_names = tuple(classes)
  files = [f for c in class_names for f in classes[c]]
  labels = np.concatenate([np.full(len(classes[c]), i, np.int64)
                           for i, c in enumerate(class_names)])
  meta = {"source": "folder", "root": str(root), "image_size": int(image_size),
          "files_sha256": hashlib.sha256("\n".join(map(str, files)).encode()).hexdigest()}
  return ImageDataset(name, "train", folder_lib.FolderImages(files, image_size), labels,
                      class_names, meta)


def check_classes(dataset: ImageDataset, spec: str) -> None:
  """Raises ValueError for fewer than two classes or a class with fewer than two images."""
  counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
  if len(counts) < 2:
    raise ValueError(f"dataset {spec!r} has {len(counts)} class; classification needs at "
                     "least two")
  small = [f"{dataset.class_names[c]!r} ({counts[c]})" for c in range(len(counts))
           if counts[c] < MIN_PER_CLASS]
  if small:
    raise ValueError(f"dataset {spec!r}: classes need at least {MIN_PER_CLASS} readable images "
                     f"each; too few in {', '.join(small)}")


def load_user_dataset(spec: str, seed: int = 0, image_size: int = 64) -> UserDataset:
  """Loads and checks the dataset `spec` names (see the module docstring).

  Args:
    spec: `folder:<path>` or any other name `data.load_dataset` accepts.
    seed: the seed of carved splits (named datasets).
    image_size: square side folder images are resized to when read (>= the zoo's inputs).

  Raises:
    ValueError: an empty or missing folder, one class, a class with < 2 readable images, or
      a name `load_dataset` does not know.
  """
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError(f"dataset must be a non-empty spec such as 'folder:/path', got {spec!r}")
  name = dataset_key(spec)
  skipped: list[str] = []
  if spec.startswith("folder:"):
    root = pathlib.Path(spec[len("folder:"):]).expanduser().resolve()
    classes, skipped = _scan_folder(root)
    dataset = _folder_dataset(name, root, classes, image_size)
  else:
    dataset = load_dataset(spec, "train", seed=seed).replace(name=name)
  check_classes(dataset, spec)
  return UserDataset(spec, name, dataset, tuple(skipped))


def to_plan(user: UserDataset, seed: int) -> dict[str, Any]:
  """The JSON plan from which the torch child rebuilds exactly this dataset."""
  plan: dict[str, Any] = {"spec": user.spec, "name": user.name, "seed": int(seed),
                          "skipped": list(user.skipped)}
  images = user.dataset.images
  if isinstance(images, folder_lib.FolderImages):
    plan.update(files=[str(f) for f in images.files], labels=user.dataset.labels.tolist(),
                class_names=list(user.dataset.class_names), image_size=images.image_size,
                meta=dict(user.dataset.meta or {}))
  return plan


def from_plan(plan: dict[str, Any]) -> ImageDataset:
  """Rebuilds the dataset of `to_plan` (a folder from its file list; a name by loading it)."""
  if "files" in plan:
    files = [pathlib.Path(f) for f in plan["files"]]
    return ImageDataset(plan["name"], "train",
                        folder_lib.FolderImages(files, int(plan["image_size"])),
                        np.asarray(plan["labels"], np.int64), tuple(plan["class_names"]),
                        plan["meta"])
  return load_dataset(plan["spec"], "train", seed=int(plan["seed"])).replace(name=plan["name"])
