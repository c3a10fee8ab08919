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

It writes the history (`sweep/history.csv`, `history_quality.md`), the MS scores
(`scores.csv`), the leave-one-task-out table of the evaluation block (`table2.md`: the
`recommender` row, the blend of configs/common.py, beside its members, the paper's LR / FM /
FFM and every raw MS score), the saved recommender (`recommender/`) and one ranked task.
Expected headline (`table2.md`): the `recommender` row at least the model mean's Pearson;
measured figures are in RESULTS.md. `:smoke` (4 models, 3 tasks, 96 training images, 1 grid
point, 1 epoch, a one-seed blend) runs end to end in a few minutes (tests/benchmark).

Ranked recommendation for one task, constrained:

  .venv/bin/python scripts/recommend.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo --task=digits --max_params=2 --max_gmacs=0.01
"""

import ml_collections

from configs.common import benchmark_blocks, parse_arg

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
      # How the step runs (finetune/options.py), for fine-tuning and extraction alike:
      # precision "auto" (bf16 on CUDA, fp32 on CPU) | "fp32" | "bf16"; channels-last memory
      # format; torch.compile. The defaults keep a CPU run's history bit for bit.
      precision="auto", channels_last=False, compile=False,
  ))
  # The noise ceiling: the sweep re-run with another seed on these tasks; per task, the
  # Pearson between the two runs is the best any recommender can reach (table2.md).
  config.noise_ceiling = ml_collections.ConfigDict(dict(
      seed=1, tasks=("digits", "procedural/counting")))
  config.probe = ml_collections.ConfigDict(dict(max_images=250, max_per_class=25,
                                                batch_size=64))
  config.scores = ("logme", "lfc", "parc", "hscore", "transrate", "leep")

  # The recommender (recommender/registry.py blocks, the blend of configs/common.py) and the
  # leave-one-task-out table over the run's history (configs/common.py benchmark_blocks).
  config.recommender, config.evaluation = benchmark_blocks("mobilenetv2_100@32", args.smoke)

  config.recommend = ml_collections.ConfigDict(dict(
      task="procedural/counting",  # the held-out task to rank the zoo for
      max_params=0.0,              # keep models with <= this many M parameters; 0 = any
      max_gmacs=0.0,               # keep models with <= this many GMACs; 0 = any
      # --dataset (a dataset nobody has fine-tuned on; benchmark/guided.py):
      dataset="",                  # a load_dataset spec ("folder:/path", ...); "" = use task
      max_input_size=0,            # keep models whose input side is <= this; 0 = any
      families=(),                 # keep models of these families; () = any
      models=(),                   # rank only these zoo models; () = the whole zoo
      image_size=64,               # folder images are resized to this square side when read
      finetune_top=0,              # fine-tune the top-k recommended models (the guided loop)
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
    config.recommend.task = "digits"
  return config
