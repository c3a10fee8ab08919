"""The paper's scale: 22 ImageNet timm models x the TFDS catalogue, for a Ray cluster with GPUs.

The same keys and pipeline as `configs/micro_zoo.py`, every block written out here: 22 timm architectures with
ImageNet-1k weights run at 224 px (no pre-training here: `pretrain.models` is empty); the 37
tasks of the 40-task catalogue (`guidedrec_jax/data/catalog.py`) that TFDS serves (add
fgvc_aircraft, nabirds and caltech256 as `folder:<path>` tasks from local copies); VTAB-1k
sized subsets (800 training, 200 validation images) and a fine-tuning grid like the paper's
(4 learning rates x 2 weight decays, SGD with momentum, cosine schedule, 20 epochs,
augmentation) in bf16 autocast with channels-last batches (`sweep.precision` "auto": bf16 on
CUDA); every fan-out stage on the Ray cluster, fine-tuning and extraction on a quarter of a
GPU each.
The weights must be in the Hugging Face cache of every node (nothing is downloaded at run
time), the TFDS data prepared as array_record (`tfds build <name> --file_format=array_record`)
and the workdir on a shared file system. Command (on the cluster's head, after `ray start`):

  .venv/bin/python scripts/run_benchmark.py --config=configs/paper_zoo.py \\
      --workdir=/shared/paper_zoo

Priced before it starts (jobs, epochs, images, GPU-hours from the throughput table
`guidedrec_jax/cost/throughput.csv`, wall clock on K GPUs):

  .venv/bin/python scripts/plan_cost.py --config=configs/paper_zoo.py --gpu=h100 --num_gpus=8

Not run here (no GPU, no weights, no TFDS data). `--config=configs/paper_zoo.py:smoke` runs
here end to end on TFDS's generated mock data (random images and labels, so its accuracies
are at chance: it checks the plumbing, catalogue tasks through the whole job): 4 small models
(MobileNetV2 with offline weights at 32 px, 3 random-init), 3 catalogue tasks, in process.
"""

import ml_collections

from configs.common import benchmark_blocks, parse_arg

# The 22 architectures (timm names, ImageNet-1k weights) and their families.
FAMILIES = {
    "resnet18": "resnet", "resnet34": "resnet", "resnet50": "resnet", "resnet101": "resnet",
    "resnet152": "resnet", "wide_resnet50_2": "resnet", "densenet121": "densenet",
    "densenet169": "densenet", "densenet201": "densenet", "mobilenetv2_100": "mobilenet",
    "mobilenetv3_large_100": "mobilenet", "efficientnet_b0": "efficientnet",
    "efficientnet_b2": "efficientnet", "inception_v3": "inception", "vgg16_bn": "vgg",
    "regnety_016": "regnet", "convnext_tiny": "convnext", "vit_small_patch16_224": "vit",
    "vit_base_patch16_224": "vit", "deit_small_patch16_224": "deit",
    "swin_tiny_patch4_window7_224": "swin", "mixer_b16_224": "mixer",
}
# The catalogue's tasks that TFDS serves (catalog.CATALOG entries with a tfds_name).
TASKS = (
    "caltech101", "cifar100", "dtd", "oxford_flowers102", "oxford_iiit_pet", "svhn", "sun397",
    "patch_camelyon", "eurosat", "resisc45", "retinopathy", "clevr_count",
    "clevr_distance", "dsprites_location", "dsprites_orientation", "smallnorb_azimuth",
    "smallnorb_elevation", "dmlab", "kitti_distance", "cub200", "stanford_dogs",
    "stanford_cars", "food101", "cifar10", "stl10", "tf_flowers", "cats_vs_dogs", "imagenet",
    "imagenet_v2", "imagenet_r", "imagenet_sketch", "beans", "cassava", "plant_village",
    "colorectal_histology", "deep_weeds", "uc_merced",
)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.num_workers = 1          # local torch worker processes (ray_address "" only)
  config.device = ""              # each job's first CUDA device
  config.ray_address = "auto"     # the running Ray cluster (distributed.make_executor)
  config.ray_local_num_cpus = 0
  config.ray_max_retries = 3      # reruns of a job whose Ray worker or node died
  # What Ray reserves per job of each stage: four fine-tuning / extraction jobs share a GPU.
  config.resources = ml_collections.ConfigDict(dict(
      pretrain=dict(num_cpus=1.0, num_gpus=0.0), sweep=dict(num_cpus=2.0, num_gpus=0.25),
      extract=dict(num_cpus=2.0, num_gpus=0.25), scores=dict(num_cpus=4.0, num_gpus=0.0)))
  config.cache_dir = ""           # feature cache root; "" = <workdir>/cache
  config.zoo = ml_collections.ConfigDict(dict(
      imagenet=tuple(FAMILIES),   # ImageNet-1k weights from each node's cache, <arch>@224
      imagenet_input_size=224,
      random=(),                  # no random-init models at this scale
      families=ml_collections.ConfigDict(FAMILIES)))
  config.tfds_mock_examples = 0   # > 0: TFDS tasks read tfds.testing.mock_data (smoke)
  config.pretrain = ml_collections.ConfigDict(dict(
      models=(), num_train=1600, num_val=400, epochs=3, lr=0.05, weight_decay=5e-4,
      batch_size=64))             # nothing is pre-trained here
  config.tasks = TASKS
  config.sweep = ml_collections.ConfigDict(dict(
      num_train=800, num_val=200, lrs=(0.1, 0.03, 0.01, 0.003), weight_decays=(0.0, 1e-4),
      epochs=20, batch_size=64, optimizer="sgd", augment=True,
      precision="auto", channels_last=True, compile=False))  # bf16 autocast on CUDA
  config.noise_ceiling = ml_collections.ConfigDict(dict(
      seed=1, tasks=("cifar100", "dtd", "eurosat", "dsprites_location")))
  config.probe = ml_collections.ConfigDict(dict(max_images=2000, max_per_class=25,
                                                batch_size=64))
  config.scores = ("logme", "lfc", "parc", "hscore", "transrate", "gbc", "leep", "nce",
                   "sfda", "ncti")
  # The difficulty model (a zoo model's LogME of each task): the smoke zoo's own at 32 px.
  config.recommender, config.evaluation = benchmark_blocks(
      "mobilenetv2_100@32" if args.smoke else "resnet50@224", args.smoke)
  config.recommend = ml_collections.ConfigDict(dict(
      task="cifar100", max_params=0.0, max_gmacs=0.0, dataset="", max_input_size=0,
      families=(), models=(), image_size=64, finetune_top=0))

  if args.smoke:  # here, on TFDS mock data, in process
    config.device = "cpu"
    config.ray_address = ""
    config.num_workers = 2
    config.tfds_mock_examples = 80
    for stage in config.resources.values():
      stage.update(dict(num_cpus=1.0, num_gpus=0.0))
    config.zoo.imagenet = ("mobilenetv2_100",)
    config.zoo.imagenet_input_size = 32
    config.zoo.random = ("lcnet_050", "regnetx_002", "resnet10t")
    config.tasks = ("cifar10", "tf_flowers", "beans")
    config.sweep.update(dict(num_train=32, num_val=16, lrs=(0.05,), weight_decays=(0.0,),
                             epochs=1, batch_size=16, augment=False, channels_last=False))
    config.noise_ceiling.tasks = ("cifar10",)
    config.probe.update(dict(max_images=48, max_per_class=8))
    config.scores = ("logme", "lfc")
    config.recommend.task = "cifar10"
  return config
