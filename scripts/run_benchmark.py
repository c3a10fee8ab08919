"""Runs the end-to-end micro benchmark (configs/micro_zoo.py); prints its tables and paths."""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache, io
from guidedrec_jax.benchmark import pipeline

config_flags.DEFINE_config_file("config", None, "configs/micro_zoo.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder (reruns reuse its caches).", required=True)


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  result = pipeline.run_benchmark(flags.FLAGS.config, flags.FLAGS.workdir)
  print("\nLeave-one-task-out Pearson (Table 2 shape):\n")
  print(io.markdown_table(result["table2"]))
  print(f"Recommendation for {flags.FLAGS.config.recommend.task}:\n")
  print(io.markdown_table(result["recommendation"].to_dict("records")))
  print("table:", *result["table2_paths"])
  print("plots:", *result["plots"])
  print("recommendation:", result["recommendation_path"])
  print("seconds per stage:", {k: round(v, 1) for k, v in result["seconds"].items()})


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
