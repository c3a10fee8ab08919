"""Setting 3 on any history: leave one dataset out; the recommender (a stacked blend) and its
members as rows, every MS score as a raw-score row.

A history CSV needs `dataset, model, top1` (percent; `--config.history.top1_scale=1` for
fractions, `--config.history.top1_column=acc` for another name); every other column is kept,
and columns the recommender should use beyond the standard ones (`history/schema.py`) are
declared: `--config.history.fields=resolution=numeric:m:log,domain=categorical:d`
(`<column>=<kind>:<group>[:log]`; a score column of group S also declares its direction,
`otce=numeric:S:-`, unless the scores registry knows it — an undeclared unknown score is
refused). MS scores, long or wide, come from `--config.history.scores_path=...`. Command:

  .venv/bin/python scripts/evaluate.py --config=configs/setting3.py \
      --config.history.path=my_history.csv --workdir=workdir/setting3_mine

The three public histories by name: `--config=configs/setting3.py:public=sfda_group1` (or
`ncti_group2`, `modelspider`); PARC's oracles: `--config=configs/setting3.py:parc`.

Rows: `recommender` (configs/common.py `recommender_block`: the blend of the model mean, the
similar datasets, ridge, trees and a 3-seed FM, weights fitted by an inner leave-one-dataset-
out on each outer fold's training datasets only), then each member alone. Expected headline
(summary.md): the `recommender` row's Pearson within 0.01 of the best row's; figures of real
runs are in RESULTS.md. `:smoke` holds out two datasets with 5 FM epochs, one seed.
"""

import ml_collections

from configs.common import evaluation_config, parse_arg, recommender_block

# Declared extra columns of the public histories (plain data: history/public.py adds them).
PUBLIC_FIELDS = {
    "sfda_group1": "",
    "ncti_group2": "",
    "modelspider": ("source_data=categorical:m,source_images=numeric:m:log,"
                    "source_classes=numeric:m:log,source_match=numeric:m"),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False, public="", parc=False)
  if args.public and args.public not in PUBLIC_FIELDS:
    raise ValueError(f"public must be one of {sorted(PUBLIC_FIELDS)}, got {args.public!r}")
  recommender = recommender_block(args.smoke)
  # The other rows: each member of the blend alone.
  config = evaluation_config("setting3", recommender["members"], recommender, source="csv")
  config.seed = 0
  if args.parc:  # PARC's oracles (history/parc.py), voc2007 left out as a target
    config.history.source = "parc"
  elif args.public:
    config.history.source = "public"
    config.history.name = args.public
    config.history.fields = PUBLIC_FIELDS[args.public]
  if args.smoke:
    config.setting3.num_datasets = 2
  return config
