"""Images per second of the project's fine-tuning step and extraction against reference loops.

  .venv/bin/python scripts/bench_finetune.py --config=configs/bench_finetune.py \
      --workdir=workdir/bench_finetune
  .venv/bin/python scripts/bench_finetune.py --config=configs/bench_finetune.py:cpu \
      --workdir=workdir/bench_finetune_cpu
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli
from guidedrec_jax.finetune import bench

_CONFIG = config_flags.DEFINE_config_file("config", None,
                                          "Path to a configs/bench_finetune.py file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv: list[str]) -> None:
  del argv
  results, targets = bench.run_bench(_CONFIG.value, _WORKDIR.value)
  for row in results:
    print(f"{row['model']:<24}{row['stage']:<9}{row['device']:<6}{row['precision']:<5} "
          f"project {row['project_per_s']:>9.1f}/s  reference {row['reference_per_s']:>9.1f}/s"
          f"  ratio {row['ratio']:.3f}  bf16/fp32 {row['speedup_vs_fp32']:.3f}")
  for t in targets:
    print(f"target {t['target']:<22}{t['model']:<24}{t['stage']:<9}{t['precision']:<5} "
          f"{t['value']:.3f}  {'met' if t['met'] else 'MISSED'}")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
