"""The end-to-end micro benchmark: a 15-model zoo fine-tuned on 6 small tasks, on CPU.

Zoo: the 4 ImageNet models with offline weights, run at 32 px (`<arch>@32`); 6 small timm
architectures pre-trained here from random init on a source task (`<arch>.<source>`:
4 families on Fashion-MNIST, 2 on the procedural shape task); the 5 random-init architectures
(the paper's "random init" column). Targets: mnist, animal_mnist, digits and 3 procedural
tasks, each fine-tuned on 384 images (2 lr x 1 wd, 2 epochs of 24 steps, 128 held out for
validation) and probed with <= 250 images; digits and procedural/counting are fine-tuned
again with seed 1 (the noise ceiling). Command:

  .venv/bin/python scripts/run_benchmark.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo

Measured 2026-12-01, cold workdir and an empty JAX compilation cache
(`GUIDEDREC_CACHE=/tmp/cold_cache`, workdir `/tmp/cold_run`), in a quiet window of the shared
2-core box (load average 0.75-2.4 over the run): 486 s wall (8.1 min): pre-training 29 s
(6 models), sweep 276 s (180 jobs), noise-ceiling re-run 90 s (60 jobs), extraction 9 s,
scores 26 s, evaluation 45 s. The same cold run beside other engineers' jobs (load 4.5-14.3,
mean 10.6) took 3294 s (sweep 2224 s, re-run 714 s). The histories of both runs are
identical (seeded). History
(`history_quality.md`): 8 of 90 pairs (8.9 %) within 5 points of chance (before: 27 of 90);
per task chance / median / max top-1: animal_mnist 10 / 46.9 / 72.7, digits 10 / 67.2 /
93.8, mnist 10 / 52.3 / 82.8, counting 16.7 / 29.7 / 58.6, orientation 12.5 / 18.8 / 97.7
(4 of 15 near chance), texture 16.7 / 53.1 / 100. Noise ceiling (Pearson seed 0 vs 1):
digits 0.93, counting 0.97. Leave-one-task-out mean Pearson over the 6 tasks (regret in
points): raw scores H-score 0.05, LFC 0.18, LogME 0.28, TransRate 0.37, LEEP 0.41, PARC
0.62 (13.4); params 0.54; model mean on training tasks 0.82 (2.7); LR 0.80 / 0.80 / 0.83,
FM 0.83 / 0.83 / 0.84, FFM 0.83 / 0.81 / 0.86 (0.7-12.5) with `d,m` / `d,m,S_logme` /
`d,m,S`; on digits / counting the best method reaches 0.92 / 0.97 against the ceiling's
0.93 / 0.97.
The evaluation block's selected method (the FM chosen per outer fold by an inner
leave-one-task-out on the fold's training tasks, `d,m,S`, 3 seeds), in the quiet cold run
above: 0.860 mean Pearson, regret@1 1.0, against model mean 0.819 (2.7); ridge (d,m,S) 0.867
(1.4); trees (d,m,S) 0.879 (0.5) (`table2.md`). The similar datasets' weighted model mean
(`recommender/neighbors.py`, MS-score similarity, tau = 1; its evaluation rerun on a copy of
that run, 46 s at load 0.3-2.6): 0.832, regret@1 0.65.

`--config=configs/micro_zoo.py:smoke` (4 models, 3 tasks, 96 training images, 1 grid point,
1 epoch, digits re-run with seed 1, LR/FM only) ran end to end in 211 s at load ~10
(tests/benchmark/test_pipeline.py, 2026-12-01; 78 s with ray_address=local right after).

Ranked recommendation for one task, constrained:

  .venv/bin/python scripts/recommend.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo --task=digits --max_params=2 --max_gmacs=0.01
"""

import ml_collections

from configs.common import parse_arg
from guidedrec_jax.recommender import evaluate

IMAGENET = ("mobilenetv2_100", "tf_efficientnet_lite0", "tf_efficientnet_lite1",
            "tf_efficientnet_lite2")
RANDOM = ("resnet10t", "convnext_atto", "regnetx_002", "lcnet_050", "vit_tiny_patch8_32")
# The ViT stays random-init only: it trains ~4x slower than the other small models here.
PRETRAIN = tuple((arch, "fashion_mnist") for arch in RANDOM[:4]) + (
    ("resnet10t", "procedural/shape"), ("lcnet_050", "procedural/shape"))
TASKS = ("mnist", "animal_mnist", "digits", "procedural/counting", "procedural/orientation",
         "procedural/texture")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.num_workers = 2          # torch worker processes, one thread each (ray_address "")
  config.device = "cpu"           # fine-tuning device; "" = the first CUDA device if any
  # Where the fan-out stages run (distributed.make_executor): "" = here (num_workers
  # processes for the torch stages, the driver for scores); "local" = a Ray started on this
  # machine with ray_local_num_cpus CPUs (0 = all); "auto" | "host:port" | "ray://host:port"
  # = a running Ray cluster.
  config.ray_address = ""
  config.ray_local_num_cpus = 2
  config.ray_max_retries = 3      # reruns of a job whose Ray worker or node died
  # What Ray reserves per job of each stage (ignored for ""): CPUs, and GPUs, which may be
  # fractional (0.25: four jobs share one GPU).
  config.resources = ml_collections.ConfigDict({
      stage: ml_collections.ConfigDict(dict(num_cpus=1.0, num_gpus=0.0))
      for stage in ("pretrain", "sweep", "extract", "scores")})
  config.cache_dir = ""           # feature cache root; "" = <workdir>/cache
  config.zoo = ml_collections.ConfigDict(dict(
      imagenet=IMAGENET,          # offline ImageNet weights, registered as <arch>@<size>
      imagenet_input_size=32,     # their input side here (CPU budget), recorded in the history
      random=RANDOM,              # registered random-init zoo models (zoo.MICRO_ZOO names)
      # architecture -> family of `imagenet` entries the zoo registry does not know
      families=ml_collections.ConfigDict(),
  ))
  config.tfds_mock_examples = 0   # > 0: TFDS tasks read tfds.testing.mock_data (smoke tests)
  config.pretrain = ml_collections.ConfigDict(dict(
      models=PRETRAIN,            # (architecture zoo name, source task) -> <arch>.<source>
      num_train=1600, num_val=400, epochs=3, lr=0.05, weight_decay=5e-4, batch_size=64,
  ))
  config.tasks = TASKS
  config.sweep = ml_collections.ConfigDict(dict(
      # Chosen so that every model learns every task (history_quality.md): 2 epochs of 384
      # images with 24 steps each rather than 1 epoch of 256; the weight decay is fixed, the
      # budget going to images and steps instead of a wider grid.
      num_train=384, num_val=128, lrs=(0.01, 0.05), weight_decays=(5e-4,), epochs=2,
      batch_size=16, optimizer="sgd", augment=False,
  ))
  # The noise ceiling: the sweep re-run with another seed on these tasks; per task, the
  # Pearson between the two runs is the best any recommender can reach (table2.md).
  config.noise_ceiling = ml_collections.ConfigDict(dict(
      seed=1, tasks=("digits", "procedural/counting")))
  config.probe = ml_collections.ConfigDict(dict(max_images=250, max_per_class=25,
                                                batch_size=64))
  config.scores = ("logme", "lfc", "parc", "hscore", "transrate", "leep")

  config.evaluation = evaluate.default_config()
  ev = config.evaluation
  ev.seed = config.seed
  ev.protocol = "setting3"
  ev.history.source = "csv"        # paths are filled in by the pipeline
  ev.history.difficulty_score = "logme"
  ev.history.difficulty_model = "mobilenetv2_100@32"
  ev.baselines = ("params_m", "gmacs")
  ev.history_mean_baseline = True  # a model's mean accuracy on the training tasks
  ev.neighbor_baselines = (1.0,)   # ... weighted by each task's MS-score similarity
  ev.ridge_field_sets = ("d,m,S",)   # baselines on the same encoded fields (issue 11)
  ev.tree_field_sets = ("d,m,S",)
  ev.models = ("lr", "fm", "ffm")
  ev.field_sets = ("d,m", "d,m,S_logme", "d,m,S")
  ev.train.update(dict(optimizer="adam", learning_rate=0.01, l2=1e-3, rank=4, batch_size=32,
                       epochs=200, patience=20))
  # FM whose target, score normalisation, descriptor interactions and L2 are picked by an
  # inner leave-one-task-out on each outer fold's training tasks (recommender/selection.py).
  ev.selection.models = ("fm",)
  ev.selection.fields = "d,m,S"
  ev.selection.num_seeds = 3
  ev.selection.grid = ml_collections.ConfigDict(dict(
      target=("dataset_z",), score_norm=("global_z", "dataset_z"),
      d_interactions=("all", "id_only"), train=dict(l2=(1e-3, 1e-1), patience=(0,))))

  config.recommend = ml_collections.ConfigDict(dict(
      task="procedural/counting",  # the held-out task to rank the zoo for
      method="FM (d,m,S_logme)",   # a method name of the evaluation
      max_params=0.0,              # keep models with <= this many M parameters; 0 = any
      max_gmacs=0.0,               # keep models with <= this many GMACs; 0 = any
      # --dataset (a dataset nobody has fine-tuned on; benchmark/guided.py):
      dataset="",                  # a load_dataset spec ("folder:/path", ...); "" = use task
      max_input_size=0,            # keep models whose input side is <= this; 0 = any
      families=(),                 # keep models of these families; () = any
      models=(),                   # rank only these zoo models; () = the whole zoo
      image_size=64,               # folder images are resized to this square side when read
      finetune_top=0,              # fine-tune the top-k recommended models (the guided loop)
      similar_tau=1.0,             # temperature of the history's similar datasets (neighbors.py)
      # What ranks the table: auto (the lower leave-one-task-out regret@1 on the run's tasks),
      # recommender (the saved recommender's prediction) or similar_datasets.
      rank_by="auto",
  ))
  # The saved recommender (recommender/saved.py): written to <workdir>/recommender by
  # scripts/train_recommender.py and at the end of the main job, read by --dataset.
  config.recommender = ml_collections.ConfigDict(dict(
      # A recommender/methods.py method block; raw target: predictions are top-1 in percent.
      method=ml_collections.ConfigDict(dict(
          name="", model="fm", fields="d,m,S_logme", target="raw", score_norm="global_z",
          ridge_l2=1.0, num_seeds=1, seed=0, train=ev.train.to_dict())),
      seeds=(0, 1, 2, 3, 4),       # one ensemble member per seed: mean +- spread
  ))

  if args.smoke:
    config.zoo.imagenet = ("mobilenetv2_100",)
    config.zoo.random = ("lcnet_050", "regnetx_002")
    config.pretrain.models = (("lcnet_050", "procedural/shape"),)
    config.pretrain.update(dict(num_train=160, num_val=40, epochs=1))
    config.tasks = ("digits", "procedural/counting", "procedural/texture")
    config.sweep.update(dict(num_train=96, num_val=48, lrs=(0.05,), weight_decays=(0.0,),
                             epochs=1))
    config.probe.max_per_class = 8
    config.noise_ceiling.tasks = ("digits",)
    config.scores = ("logme", "lfc")
    ev.models = ("lr", "fm")
    ev.field_sets = ("d,m", "d,m,S_logme")
    ev.train.update(dict(epochs=30, patience=5))
    ev.selection.models = ()  # the smoke run keeps ridge and trees, not the nested grid
    config.recommend.task = "digits"
    config.recommender.method.train.update(dict(epochs=30, patience=5))
    config.recommender.seeds = (0, 1, 2)
  return config
