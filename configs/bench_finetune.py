"""Throughput of the project's fine-tuning step and extraction against plain reference loops.

Runs `finetune.bench.run_bench`: for each model and precision, the project's epoch loop
against a timm-`train.py`-style step (`torch.autocast`, channels-last, SGD with momentum), and
the project's extraction against a plain `torch.inference_mode` loop, same model (random
init, nothing downloaded), batch and precision, in one process. Prints images per second of
both, their ratio and the project's bf16 / fp32 speed-up, then each target (`min_ratio`,
`min_bf16_speedup`) as met or missed; writes the project's rates as
measured rows of the throughput table (`guidedrec_jax/cost/throughput.py` format) to
`<workdir>/throughput.csv`, and appends them to `table` when set.

On a GPU (resnet50, vit_small_patch16_224, convnext_tiny at 224 px, batch 64):

  .venv/bin/python scripts/bench_finetune.py --config=configs/bench_finetune.py \\
      --workdir=workdir/bench_finetune

On a CPU (tiny models at 32 px, one thread; bf16 autocast on a CPU without bf16 units is
slow and only checks the code path):

  .venv/bin/python scripts/bench_finetune.py --config=configs/bench_finetune.py:cpu \\
      --workdir=workdir/bench_finetune_cpu

Expected headline: one `target ... met` line per target (`targets.md`). On a bare GPU machine
without ml_collections, `scripts/bench_finetune_gpu.sh` runs the GPU variant in one command.

`:smoke` is one tiny model, fp32, a few steps (tests/finetune/test_bench.py).
"""

import ml_collections

from configs.common import parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False, cpu=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.device = ""                 # "" = the first CUDA device if any, else the CPU
  config.num_threads = 1             # torch CPU threads
  config.models = ("resnet50", "vit_small_patch16_224", "convnext_tiny")
  config.input_size = 224
  config.num_classes = 100           # the fine-tuning head
  config.precisions = ("fp32", "bf16")
  config.channels_last = True
  config.compile = False             # torch.compile both loops (timm's --torchcompile)
  config.batch_size = 64             # fine-tuning batch
  config.steps = 40                  # timed fine-tuning steps per repeat
  config.extract_batch_size = 128
  config.extract_images = 2048       # timed extraction images per repeat
  config.repeats = 3                 # timed repeats per loop (median kept), after a warm-up
  config.table = ""                  # a throughput CSV to append the measured rows to
  # Targets, checked after the run (`targets.csv|md`, printed; 0 = none): every row's
  # project / reference images per second, and the project's bf16 / fp32 fine-tuning speed-up
  # of `speedup_models`.
  config.min_ratio = 0.9
  config.min_bf16_speedup = 1.7
  config.speedup_models = ("resnet50",)
  if args.cpu or args.smoke:
    config.device = "cpu"
    # The micro / smoke zoos' architectures (zoo names or timm names), random init.
    config.models = ("resnet10t", "lcnet_050", "regnetx_002", "mobilenetv2_100",
                     "vit_tiny_patch8_32")
    config.input_size = 32
    config.num_classes = 10
    config.channels_last = False
    config.batch_size = 32
    config.steps = 30
    config.extract_batch_size = 64
    config.extract_images = 2048
    config.repeats = 5
    config.min_bf16_speedup = 0.0    # bf16 on a CPU checks the code path, not a speed-up
    config.speedup_models = ()
  if args.smoke:
    config.models = ("resnet10t",)
    config.precisions = ("fp32",)
    config.batch_size = 8
    config.steps = 4
    config.extract_batch_size = 8
    config.extract_images = 16
    config.repeats = 1
    config.min_ratio = 0.0           # a few steps time noise, not the loops
  return config
