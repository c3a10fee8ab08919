"""Trains and saves a recommender (one registry method block, by default the blend) on one or
more histories.

Sources, concatenated: `run_workdir`, a finished benchmark run (its `sweep/history.csv` with
`scores.csv` and the difficulty column joined, as its own `config.json` says, plus the rows
its guided loop measured on user datasets), and every entry of `histories` (the shared timm
or PARC tables, or any history CSV). Writes `<workdir>/recommender/` (recommender/saved.py)
and, under `<workdir>/train_recommender/`, `config.json`, `metrics.jsonl` and
`training_rows.{csv,md}` (rows per source dataset). Command (on the main job's run):

  .venv/bin/python scripts/train_recommender.py --config=configs/train_recommender.py \
      --workdir=workdir/micro_zoo

`--workdir` is also the default run (`run_workdir` "" = the workdir itself), so the command
above refreshes the recommender that `recommend.py --dataset` reads; it must be the block the
run's config names (configs/micro_zoo.py `recommender`), which this one is. Expected headline:
`saved recommender to <workdir>/recommender (<rows> rows, <datasets> datasets)`. `:smoke`: the
block of `configs/micro_zoo.py:smoke` (5 FM epochs, one seed).
"""

import ml_collections

from configs.common import parse_arg, recommender_block


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.run_workdir = ""  # a benchmark run's workdir; "" = --workdir; "none" = no run rows
  # Further histories: "timm" (2022-07-27 snapshot), "parc" (PARC's oracles) or
  # "csv:<path>" (a history CSV, history/schema.py); read by evaluate.load_configured_history.
  config.histories = ()
  config.history_fields = ""  # declared columns of the histories (history/generic.py)
  # The recommender every config ranks by (configs/micro_zoo.py's too), so the run loads it.
  config.recommender = ml_collections.ConfigDict(recommender_block(args.smoke))
  return config
