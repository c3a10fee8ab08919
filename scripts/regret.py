"""Regret@k (k = 1, 3, 5) of a finished benchmark run, each task held out in turn: the saved
recommender (`config.recommender`, the blend) against "a model's mean on the other tasks", the same weighted by each
task's MS-score resemblance to the held-out one (similar datasets), and each raw MS score
(benchmark/regret.py). Writes <workdir>/regret/.

  .venv/bin/python scripts/regret.py --config=configs/micro_zoo.py --workdir=workdir/micro_zoo

Expected headline: the `recommender` row's regret@1 at most the model mean's, every raw MS
score far above both (figures of real runs: RESULTS.md).
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache, io
from guidedrec_jax.benchmark import regret

config_flags.DEFINE_config_file("config", None, "configs/micro_zoo.py", lock_config=True)
flags.DEFINE_string("workdir", None, "The benchmark run's workdir.", required=True)


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  result = regret.run_regret(flags.FLAGS.config, flags.FLAGS.workdir)
  print(io.markdown_table(result["summary"].to_dict("records"), float_format="{:.2f}"))
  print("written to", *result["paths"], f"({result['seconds']:.0f} s)")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
