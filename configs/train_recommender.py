"""Trains and saves a recommender (a seed ensemble of one method) on one or more histories.

Sources, concatenated: `run_workdir`, a finished benchmark run (its `sweep/history.csv` with
`scores.csv` and the difficulty column joined, as its own `config.json` says, plus the rows
its guided loop measured on user datasets), and every entry of `histories` (the shared timm
or PARC tables, or any history CSV). Writes `<workdir>/recommender/` (recommender/saved.py) and, under
`<workdir>/train_recommender/`, `config.json`, `metrics.jsonl` and `training_rows.{csv,md}`
(rows per source dataset).
Command (on the main job's run):

  .venv/bin/python scripts/train_recommender.py --config=configs/train_recommender.py \
      --workdir=workdir/micro_zoo

`--workdir` is also the default run (`run_workdir` "" = the workdir itself), so the command
above refreshes the recommender that `recommend.py --dataset` reads. Measured 2026-12-01 on
a finished micro_zoo run (90 rows: 15 models x 6 tasks): FM (d,m,S_logme), raw top-1
target, 5 seeds, 13.7 s wall for the whole command on the shared 2-core box at load
average 12. `:smoke`: 30 epochs (patience 5), 3 seeds.
"""

import ml_collections

from configs.common import parse_arg
from guidedrec_jax.recommender import methods


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.run_workdir = ""  # a benchmark run's workdir; "" = --workdir; "none" = no run rows
  # Further histories: "timm" (2022-07-27 snapshot), "parc" (PARC's oracles) or
  # "csv:<path>" (a history CSV, history/schema.py); read by evaluate.load_configured_history.
  config.histories = ()
  method = methods.default_method_config()
  method.update(dict(model="fm", fields="d,m,S_logme", target="raw", score_norm="global_z",
                     seed=config.seed))
  method.train.update(dict(optimizer="adam", learning_rate=0.01, l2=1e-3, rank=4,
                           batch_size=32, epochs=200, patience=20))
  config.recommender = ml_collections.ConfigDict(dict(method=method, seeds=(0, 1, 2, 3, 4)))
  if args.smoke:
    config.recommender.method.train.update(dict(epochs=30, patience=5))
    config.recommender.seeds = (0, 1, 2)
  return config
