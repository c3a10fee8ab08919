"""Trains and saves a recommender on one or more histories; see configs/train_recommender.py.

  .venv/bin/python scripts/train_recommender.py --config=configs/train_recommender.py \
      --workdir=workdir/micro_zoo
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache
from guidedrec_jax.benchmark import recommender_run

config_flags.DEFINE_config_file("config", None, "configs/train_recommender.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder (gets recommender/).", required=True)


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  model = recommender_run.train_recommender(flags.FLAGS.config, flags.FLAGS.workdir)
  print(f"saved recommender to {flags.FLAGS.workdir}/recommender ({model.meta['num_rows']} "
        f"rows, {len(model.meta['datasets'])} datasets): {model.name}")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
