"""Ranks the zoo of a finished benchmark run for one task, optionally under a size budget.

  .venv/bin/python scripts/recommend.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo --task=digits --max_params=2 --max_gmacs=0.01
"""

from absl import app, flags
from ml_collections import config_flags

from guidedrec_jax import io
from guidedrec_jax.benchmark import recommend

config_flags.DEFINE_config_file("config", None, "configs/micro_zoo.py", lock_config=True)
flags.DEFINE_string("workdir", None, "The benchmark run's workdir.", required=True)
flags.DEFINE_string("task", None, "Held-out task (default: config.recommend.task).")
flags.DEFINE_float("max_params", None, "Keep models with <= this many M parameters; 0 = any.")
flags.DEFINE_float("max_gmacs", None, "Keep models with <= this many GMACs; 0 = any.")


def main(argv):
  del argv
  table, path = recommend.recommend(flags.FLAGS.config, flags.FLAGS.workdir, flags.FLAGS.task,
                                    flags.FLAGS.max_params, flags.FLAGS.max_gmacs)
  print(io.markdown_table(table.to_dict("records")))
  print("written to", path, "and", path.with_suffix(".csv"))


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  app.run(main)
