"""Runs one evaluation protocol on a history and writes tables and plots; see configs/setting*.py."""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache, io
from guidedrec_jax.recommender import evaluate

config_flags.DEFINE_config_file("config", None, "configs/setting*.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  summary = evaluate.evaluate(flags.FLAGS.config, flags.FLAGS.workdir)
  print(io.markdown_table(summary.to_dict("records")))


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
