"""Writes a dataset split as a folder of PNGs, one subfolder per class (`folder:` input).

Used to try `recommend.py --dataset=folder:...` on a real dataset the benchmark never
fine-tuned on:

  .venv/bin/python scripts/export_image_folder.py --dataset=fashion_mnist --split=test \
      --max_examples=2000 --out=/tmp/fashion_mnist_png
"""

from absl import flags

from guidedrec_jax import cli
from guidedrec_jax.data import folder, load_dataset

flags.DEFINE_string("dataset", None, "A load_dataset name.", required=True)
flags.DEFINE_string("split", "test", "train | val | test")
flags.DEFINE_integer("max_examples", 2000, "Keep at most this many (stratified, seeded).")
flags.DEFINE_integer("seed", 0, "Seed of the subsample.")
flags.DEFINE_string("out", None, "Output folder (must not exist yet).", required=True)


def main(argv):
  del argv
  f = flags.FLAGS
  folder.new_folder(f.out)  # refused before anything is loaded
  data = load_dataset(f.dataset, f.split, seed=f.seed, max_examples=f.max_examples)
  count = folder.export_folder(data, f.out)
  print(f"wrote {count} images of {len(data.class_names)} classes to {f.out}")


if __name__ == "__main__":
  cli.run(main)
