"""Scores a zoo of cached features on one probe set; writes the long-form scores table.

  .venv/bin/python scripts/score_zoo.py --config=configs/score_zoo.py --workdir=workdir/score_zoo
  .venv/bin/python scripts/score_zoo.py --config=configs/score_zoo.py:smoke --workdir=workdir/score_zoo_smoke
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache
from guidedrec_jax.scores import zoo

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a configs/score_zoo.py file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv: list[str]) -> None:
  del argv
  compilation_cache.enable(_CONFIG.value.compilation_cache)
  zoo.run_score_zoo(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
