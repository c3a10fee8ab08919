"""Setting 2 on the 2022-07-27 timm history: train on ImageNet, rank the models on its variants.

The 420 in1k/in21k models; training history = their ImageNet top-1; test datasets = ImageNet
ReaL, V2, Sketch, A, R and the A/R "clean" subsets (all models unseen on them). Command:

  .venv/bin/python scripts/evaluate.py --config=configs/setting2_timm.py \
      --workdir=workdir/setting2

Expected headline (summary.md): every learned row close to the model's ImageNet top-1
("model mean"): with one training dataset the learned models can only rediscover it, so
matching, not beating, it is the ceiling; figures in RESULTS.md.
`--config=configs/setting2_timm.py:smoke` tests on ImageNet-V2 only with FM only, 5 epochs.
"""

import ml_collections

from configs.common import evaluation_config, parse_arg

# timm's ImageNet variants (history/timm.py VARIANTS), ImageNet itself left out.
VARIANTS = ("imagenet-real", "imagenetv2", "imagenet-sketch", "imagenet-a", "imagenet-a-clean",
            "imagenet-r", "imagenet-r-clean")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  # One split, every model in training: train on all rows for a fixed number of epochs. An
  # early-stopping holdout would leave the held-out rows' model IDs untrained (in setting 2
  # each model has one training row), adding their random latent vectors to test scores.
  train = dict(optimizer="adam", learning_rate=0.01, l2=1e-3, rank=8, batch_size=64,
               epochs=5 if args.smoke else 300, patience=0)
  kinds = ("fm",) if args.smoke else ("lr", "fm", "ffm")
  methods = (dict(type="column", column="params_m"), dict(type="column", column="gmacs"),
             dict(type="model_mean"), dict(type="ridge", fields="d,m"),
             *(dict(type=kind, fields="d,m", train=train) for kind in kinds))
  recommender = dict(type="blend", members=(
      dict(type="model_mean"), dict(type="ridge", fields="d,m"),
      dict(type="fm", fields="d,m", train=train)))
  config = evaluation_config("setting2", methods, recommender, source="timm")
  config.history.snapshot = "2022-07-27"
  config.history.datasets = ()
  config.history.pretrain_domains = ("in1k", "in21k")
  config.setting2.train_datasets = ("imagenet",)
  config.setting2.test_datasets = VARIANTS
  config.setting2.training_seeds = 3
  if args.smoke:
    config.history.datasets = ("imagenet", "imagenetv2")
    config.setting2.test_datasets = ("imagenetv2",)
    config.setting2.training_seeds = 1
  return config
