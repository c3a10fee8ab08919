"""Prices a benchmark run before it starts: jobs, epochs, images, GPU-hours, wall clock on K GPUs.

  .venv/bin/python scripts/plan_cost.py --config=configs/paper_zoo.py --gpu=h100 --num_gpus=8
  .venv/bin/python scripts/plan_cost.py --config=configs/paper_zoo.py:smoke

Rates come from the throughput table (`guidedrec_jax/cost/throughput.csv`: measured rows from
`scripts/bench_finetune.py` where there are any, stated estimates otherwise; `--table` reads
another file of the same columns).
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli
from guidedrec_jax.cost import plan

_CONFIG = config_flags.DEFINE_config_file("config", None, "A benchmark config "
                                          "(configs/paper_zoo.py, configs/micro_zoo.py).",
                                          lock_config=True)
_GPU = flags.DEFINE_string("gpu", "h100", "GPU kind of the throughput table's rows.")
_NUM_GPUS = flags.DEFINE_integer("num_gpus", 1, "GPUs the run gets (the wall clock's K).")
_TABLE = flags.DEFINE_string("table", "", "A throughput CSV; '' = the project's table.")


def main(argv: list[str]) -> None:
  del argv
  print(plan.run_plan_cost(_CONFIG.value, _TABLE.value, _GPU.value, _NUM_GPUS.value), end="")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
