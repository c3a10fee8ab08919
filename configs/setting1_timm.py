"""Setting 1 on a timm history: unseen models on ImageNet, 10 random 80/20 splits.

420 models of the 2022-07-27 snapshot (timm's in1k + in21k metadata tags, as the paper's
zoo); meta features only. `m` is the paper's model fields (model ID, family, pre-training
domain, log params, log GMACs, log input size) plus the importer's declared columns
`NAME_FIELDS` (history/timm.py `MODEL_EXTRA`: weight source, recipe token, patch size and
parent family from the name; the default eval crop / interpolation; activations, their log2
band and throughput from timm's benchmark); `d,m (paper)` (ridge) is the paper's fields alone.
`d,m+x` adds family / domain x size crosses; `d,m+b+x` adds 8 training-quantile size bands
of params, GMACs and input size (features `binned` fields) to `d,m+x`. FM / FFM predict the
mean of 3 training seeds. `config.seed` is the split seed: the splits are seeds `seed` ...
`seed + 9` (and the training seed is `seed`). Command:

  .venv/bin/python scripts/evaluate.py --config=configs/setting1_timm.py \
      --workdir=/tmp/eval/setting1_timm

Issue 11, chosen on development splits (`--config.seed=100`: splits 100-109; checked on
200-209 with the FM rows), never on the reported ones. Development splits 100-109, this
config (shared 2-core CPU box, load 4.0-5.4, 345 s): Pearson FM (d,m) 0.943 ± 0.022,
FM (d,m+b+x) 0.954 ± 0.015, FFM (d,m) 0.941, FFM (d,m+b+x) 0.949, ridge (d,m (paper))
0.864, (d,m) 0.936, (d,m+b+x) 0.956, trees (d,m) 0.925; splits 200-209: FM (d,m) 0.933,
FM (d,m+b+x) 0.945 (without the declared columns and l2 1e-3: 0.872 / 0.903).
Reported splits (seeds 0-9), run once with that design (load 1.1-3.5, 189 s):
  Pearson: FM (d,m) 0.928 ± 0.027, FM (d,m+b+x) 0.937 ± 0.027, FFM (d,m) 0.922 ± 0.031,
  FFM (d,m+b+x) 0.936 ± 0.030 (target 0.92 met); ridge (d,m (paper)) 0.850 ± 0.044,
  (d,m) 0.914, (d,m+x) 0.917, (d,m+b+x) 0.940 ± 0.026; gradient-boosted trees (d,m)
  0.908 ± 0.034; raw params 0.409, raw GMACs 0.438. Spearman: FM (d,m+b+x) 0.920, ridge
  (d,m+b+x) 0.928. Top-1 regret (points): ridge (d,m) 0.31, FFM (d,m) 0.42, FM (d,m) 0.47,
  FM (d,m+b+x) 0.71, trees 0.76; top-3 regret: FFM 0.00, ridge (d,m) 0.03.
  Before (paper fields only, l2 1e-3): FM (d,m) 0.887, FM (d,m+b+x) 0.909, FFM (d,m)
  0.895, trees 0.870. The paper: LR 0.53 ± 0.07, FM 0.54 ± 0.06.
`--config=configs/setting1_timm.py:snapshot=latest` runs the latest snapshot (1298 models;
244 s at load 1.8-2.4): Pearson FM (d,m+b+x) 0.970 ± 0.009, FFM (d,m+b+x) 0.969 ± 0.010
(target 0.95 met; before 0.957), FM (d,m) 0.963, FFM (d,m) 0.964, ridge (d,m (paper))
0.913, ridge (d,m+b+x) 0.964, trees (d,m) 0.970 ± 0.007; regret@1 trees 0.13, FM
(d,m+b+x) 0.18. `:smoke` runs 2 splits, FM only, 5 epochs.
"""

import ml_collections

from configs.common import parse_arg
from guidedrec_jax.recommender import evaluate

# Model columns of the importer beyond the paper's (history/timm.py MODEL_EXTRA), declared so
# that they join the `m` token of every field set (issue 11): the name's weight source, recipe
# token and patch size, the parent family, the default eval crop / interpolation, and the
# benchmark's activations (also as fixed log2 bands) and throughput. Chosen (with FM's l2
# 1e-2) on development splits 100-109 and 200-209 (`--config.seed=100`), not the reported.
NAME_FIELDS = ("weight_source=categorical:m,recipe=categorical:m,patch_size=numeric:m:log,"
               "arch_group=categorical:m,crop_pct=numeric:m,interpolation=categorical:m,"
               "macts=numeric:m:log,throughput=numeric:m:log,macts_band=categorical:m")
# The paper's meta features alone (no declared columns), a reference row for ridge.
PAPER = ("d,m (paper)=dataset_id,num_train,num_classes,model_id,family,pretrain_domain,"
         "input_size,params,gmacs")
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
  config.history.fields = NAME_FIELDS
  config.setting1.dataset = "imagenet"
  config.setting1.repeats = 10
  config.baselines = ("params_m", "gmacs")
  config.ridge_field_sets = (PAPER, "d,m", CROSSES, BANDS)
  config.tree_field_sets = ("d,m",)
  config.models = ("fm", "ffm")
  config.field_sets = ("d,m", BANDS)
  config.ensemble_seeds = 3            # FM / FFM: mean of 3 training seeds
  config.train.update(dict(optimizer="adam", learning_rate=0.01, l2=1e-2, rank=8, batch_size=64,
                           epochs=300, patience=20))
  if args.smoke:
    config.setting1.repeats = 2
    config.train.epochs = 5
    config.models = ("fm",)
    config.ensemble_seeds = 1
  return config
