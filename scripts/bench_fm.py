"""Benchmarks our FM on MovieLens-100k against xlearn's; see configs/bench_fm.py."""

import os

# Single-threaded timing: set before JAX is imported (by the library import below).
os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from guidedrec_jax import cli, compilation_cache, io  # noqa: E402
from guidedrec_jax.recommender import fm_benchmark  # noqa: E402

config_flags.DEFINE_config_file("config", None, "configs/bench_fm.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  print(io.markdown_table(fm_benchmark.run_benchmark(flags.FLAGS.config, flags.FLAGS.workdir),
                          float_format="{:.4f}"))


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
