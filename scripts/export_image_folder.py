"""Writes a dataset split as a folder of PNGs, one subfolder per class (`folder:` input).

Used to try `recommend.py --dataset=folder:...` on a real dataset the benchmark never
fine-tuned on:

  .venv/bin/python scripts/export_image_folder.py --dataset=fashion_mnist --split=test \
      --max_examples=2000 --out=/tmp/fashion_mnist_png
"""

import pathlib

from absl import flags
import numpy as np
from PIL import Image

from guidedrec_jax import cli
from guidedrec_jax.data import load_dataset

flags.DEFINE_string("dataset", None, "A load_dataset name.", required=True)
flags.DEFINE_string("split", "test", "train | val | test")
flags.DEFINE_integer("max_examples", 2000, "Keep at most this many (stratified, seeded).")
flags.DEFINE_integer("seed", 0, "Seed of the subsample.")
flags.DEFINE_string("out", None, "Output folder (must not exist yet).", required=True)


def main(argv):
  del argv
  f = flags.FLAGS
  out = pathlib.Path(f.out)
  if out.exists():
    raise ValueError(f"out: {out} exists already; give a new folder")
  data = load_dataset(f.dataset, f.split, seed=f.seed, max_examples=f.max_examples)
  names = [n.replace("/", "-").replace(" ", "_") for n in data.class_names]
  for i in range(len(data)):
    image = np.asarray(data.images[i])
    folder = out / names[int(data.labels[i])]
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{i:05d}.png")
  print(f"wrote {len(data)} images of {len(names)} classes to {out}")


if __name__ == "__main__":
  cli.run(main)
