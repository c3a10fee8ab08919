"""Setting 3 on PARC's oracles: leave one target dataset out, for each of the 6 targets.

70 source models (5 architectures x supervised / self-supervised / semi-supervised /
detectron2 sources) on cifar10, caltech101, cub200, nabird, oxford_pets, stanford_dogs
(voc2007 left out as a target: multi-label, see history/parc.py). PARC ships no raw MS
scores, so the baselines are MS-free heuristics. Field sets: `d,m` and `d,m,src` (`d,m` plus
source_data, log source_images, log layers, the architecture's ImageNet top-1). Command:

  .venv/bin/python scripts/evaluate.py --config=configs/setting3_parc.py \
      --workdir=/tmp/eval/setting3_parc

Expected (mean over the 6 targets; learned methods: mean ± std over 5 training seeds;
measured on the shared 2-core CPU box, heavily loaded, in ≈ 320 s):
  Pearson: MS-free single-column heuristics source_images 0.154, layers 0.076,
  arch_imagenet_top1 0.065, params -0.028; the model's mean z-scored accuracy on the other
  targets ("model mean (train)") 0.657; ridge 0.660 / 0.656 (d,m / d,m,src);
  LR 0.660 ± 0.004 / 0.656 ± 0.008, FM 0.615 ± 0.003 / 0.619 ± 0.007,
  FFM 0.647 ± 0.003 / 0.661 ± 0.002. Spearman: FFM (d,m,src) 0.688, model mean 0.650.
  Top-1 regret (points): source_images and model mean 0.45, FFM (d,m) 0.65 ± 0.27,
  FM (d,m) 0.92 ± 0.33, LR (d,m) 1.15 ± 0.71, params 19.9.
  The learned recommenders beat every single-column MS-free heuristic by ≈ 0.5 Pearson, but
  only match the "model mean" history heuristic: with 6 targets there is little to learn
  about target x model interactions. (l2 = 1e-2 and fixed 300 epochs were chosen on this
  same leave-one-out; with l2 = 1e-3 and early stopping FM/FFM are ≈ 0.60/0.65.)
These figures are kept for comparison with the paper's table; since their hyper-parameters
were tuned on the reported folds, the honest setting-3 figure on PARC is
`configs/setting3.py:parc` (nested selection; FM selected 0.656 vs model mean 0.657).
`--config=configs/setting3_parc.py:smoke` holds out cifar10 only with FM only, 5 epochs.
"""

import ml_collections

from configs.common import parse_arg
from guidedrec_jax.recommender import evaluate

SOURCE_FIELDS = "d,m,src=d,m,source_data,source_images,layers,arch_imagenet_top1"


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = evaluate.default_config()
  config.protocol = "setting3"
  config.history.source = "parc"
  config.history.parc_oracles = "all"
  config.history.exclude_targets = ("voc2007",)
  config.setting3.datasets = ()
  config.setting3.training_seeds = 5
  config.baselines = ("source_images", "params_m", "arch_imagenet_top1", "layers")
  config.history_mean_baseline = True
  config.ridge_field_sets = ("d,m", SOURCE_FIELDS)
  config.models = ("lr", "fm", "ffm")
  config.field_sets = ("d,m", SOURCE_FIELDS)
  # One split, every model in training: train on all rows for a fixed number of epochs. An
  # early-stopping holdout would leave the held-out rows' model IDs untrained (in setting 2
  # each model has one training row), adding their random latent vectors to test scores.
  config.train.update(dict(optimizer="adam", learning_rate=0.01, l2=1e-2, rank=8, batch_size=64,
                           epochs=300, patience=0))
  if args.smoke:
    config.setting3.datasets = ("cifar10",)
    config.train.epochs = 5
    config.setting3.training_seeds = 1
    config.models = ("fm",)
  return config
