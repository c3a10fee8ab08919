"""RESULTS.md from the finished runs the README's commands write (guidedrec_jax/results.py).

Each run in `runs` that exists must carry a run record (any evaluation or main-job run made
with the current code does); one that does not exist is listed under "Not run". Command:

  .venv/bin/python scripts/results.py --config=configs/results.py

Other runs: `--config.runs='("workdir/setting3_mine",)'`; another file:
`--config.out=workdir/RESULTS.md`. Expected headline (stdout): `wrote RESULTS.md: 6 runs in 6
sections, 2 not run` with the README's runs made. `:smoke` reads only workdir/micro_zoo into
workdir/RESULTS_smoke.md.
"""

import ml_collections

from configs.common import parse_arg

# The workdirs of the README's evaluation and main-job commands.
RUNS = ("workdir/micro_zoo", "workdir/setting1", "workdir/setting2", "workdir/setting3",
        "workdir/setting3_sfda_group1", "workdir/setting3_ncti_group2",
        "workdir/setting3_modelspider", "workdir/setting3_parc")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0  # unused: reading runs draws nothing
  config.runs = ("workdir/micro_zoo",) if args.smoke else RUNS
  config.out = "workdir/RESULTS_smoke.md" if args.smoke else "RESULTS.md"
  return config
