"""Setting 1 on a timm history: unseen models on ImageNet, 10 random 80/20 splits.

420 models of the 2022-07-27 snapshot (timm's in1k + in21k metadata tags, as the paper's
zoo); meta features only. `d,m`: model ID, family, pre-training domain, log params, log
GMACs, log input size; `d,m+x` adds family / domain x size crosses; `d,m+b+x` adds 8
training-quantile size bands of params, GMACs and input size (features `binned` fields) to
`d,m+x`. FM / FFM predict the mean of 3 training seeds. Command:

  .venv/bin/python scripts/evaluate.py --config=configs/setting1_timm.py \
      --workdir=/tmp/eval/setting1_timm

Measured (mean ± std over the 10 splits, seeds 0–9; shared 2-core CPU box, load 12–14,
587 s; hyper-parameters and the size bands chosen on development splits 100–109, not on
these, where FM (d,m+b+x) reached 0.924):
  Pearson: FM (d,m) 0.887 ± 0.031, FM (d,m+b+x) 0.909 ± 0.032, FFM (d,m) 0.895 ± 0.035,
  FFM (d,m+b+x) 0.906 ± 0.037; ridge (d,m) 0.850, (d,m+x) 0.873, (d,m+b+x) 0.909 ± 0.032;
  gradient-boosted trees (d,m) 0.870 ± 0.035; raw params 0.409, raw GMACs 0.438. The
  issue's target (0.92) is missed by 0.011. Spearman: FM (d,m+b+x) 0.876, ridge (d,m+b+x)
  0.884. Top-1 regret (points): ridge (d,m+b+x) 0.33, FM (d,m) 0.67, FM (d,m+b+x) 0.80,
  trees 1.40; top-3 regret: ridge (d,m) 0.08, FM (d,m+b+x) 0.32.
  Before issue 11 (one seed, no bands): LR 0.829, FM 0.884, FFM 0.892. The paper: LR
  0.53 ± 0.07, FM 0.54 ± 0.06.
`--config=configs/setting1_timm.py:snapshot=latest` runs the latest snapshot (1298 models;
491 s at load 11–13): Pearson FM (d,m+b+x) 0.957 ± 0.011, FFM (d,m+b+x) 0.957 ± 0.011
(target 0.95 met), FM (d,m) 0.943, ridge (d,m+b+x) 0.944, trees (d,m) 0.950 ± 0.011;
regret@1 FFM (d,m+b+x) 0.53, FM (d,m+b+x) 0.71, trees 0.71; regret@3 FM / FFM (d,m+b+x)
0.10. `:smoke` runs 2 splits, FM only, 5 epochs.
"""

import ml_collections

from configs.common import parse_arg
from guidedrec_jax.recommender import evaluate

CROSSES = "d,m+x=d,m,family_x_params,family_x_gmacs,family_x_input_size,domain_x_params"
# Size bands (training-quantile bins of params / GMACs / input size) and the crosses: a
# nonlinear size effect per family; chosen on development splits 100-109, not the reported.
BANDS = ("d,m+b+x=d,m,params_bin,gmacs_bin,input_size_bin,family_x_params,family_x_gmacs,"
         "family_x_input_size,domain_x_params")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False, snapshot="2022-07-27")
  config = evaluate.default_config()
  config.protocol = "setting1"
  config.history.source = "timm"
  config.history.snapshot = args.snapshot
  config.history.datasets = ("imagenet",)
  config.history.pretrain_domains = ("in1k", "in21k")
  config.setting1.dataset = "imagenet"
  config.setting1.repeats = 10
  config.baselines = ("params_m", "gmacs")
  config.ridge_field_sets = ("d,m", CROSSES, BANDS)
  config.tree_field_sets = ("d,m",)
  config.models = ("fm", "ffm")
  config.field_sets = ("d,m", BANDS)
  config.ensemble_seeds = 3            # FM / FFM: mean of 3 training seeds
  config.train.update(dict(optimizer="adam", learning_rate=0.01, l2=1e-3, rank=8, batch_size=64,
                           epochs=300, patience=20))
  if args.smoke:
    config.setting1.repeats = 2
    config.train.epochs = 5
    config.models = ("fm",)
    config.ensemble_seeds = 1
  return config
