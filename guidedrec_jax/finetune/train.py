"""One fine-tuning job: a model, train/val image splits, hyper-parameters and a seed.

The input pipeline is plain torch on preprocessed tensors (no DataLoader workers), the one
feature extraction uses too (`data/images.py`): images are resized once to the model's input
size and kept as uint8 on the device; each batch is augmented (optional), normalised with the
model's mean/std and fed to the model. Shuffling and
augmentation draw from one `torch.Generator` seeded by the job, so a CPU run is reproducible
bit for bit given the seed (the caller seeds the head's initialisation, see `sweep.run_job`).

How the step runs on its device (`options.TrainOptions`): bf16 autocast, channels-last,
`torch.compile`; the float32 default computes exactly what the plain loop did. The loop asks
the host nothing per step, so a GPU never waits on it: the losses and a "non-finite loss
seen" flag stay on the device and are read once per epoch. A loss that turns non-finite
marks the epoch diverged; that epoch is not evaluated and training stops, as a per-step check
would stop it (the remaining steps of that epoch run on non-finite weights and are
discarded). Augmentation crops the batch in one gather, not one slice per image.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from guidedrec_jax import io
from guidedrec_jax.cost import rules
from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.data.images import InputSpec, normalise, resize_uint8
from guidedrec_jax.finetune.options import (TrainOptions, autocast, default_device,
                                            prepare_model, to_format)

OPTIMIZERS = ("sgd", "adamw")
_EVAL_BATCH = 256


@dataclasses.dataclass(frozen=True)
class HyperParams:
  """Hyper-parameters of one fine-tuning job (cosine schedule from `lr` to 0, no warm-up).

  Attributes:
    lr: peak learning rate, > 0.
    weight_decay: decoupled for AdamW, L2 for SGD; >= 0.
    epochs: passes over the training split, >= 1.
    batch_size: training batch size, >= 2 (batch norm needs two samples).
    optimizer: "sgd" (momentum 0.9, the paper's fine-tuning setup) or "adamw".
    augment: random horizontal flip and a random crop after padding by 1/8 of the side.
  """
  lr: float
  weight_decay: float = 0.0
  epochs: int = 1
  batch_size: int = 64
  optimizer: str = "sgd"
  augment: bool = False

  def __post_init__(self):
    if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
      raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
    if not (isinstance(self.weight_decay, (int, float)) and math.isfinite(self.weight_decay)
            and self.weight_decay >= 0):
      raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
    if not isinstance(self.epochs, int) or self.epochs < 1:
      raise ValueError(f"epochs must be an int >= 1, got {self.epochs!r}")
    if not isinstance(self.batch_size, int) or self.batch_size < 2:
      raise ValueError(f"batch_size must be an int >= 2, got {self.batch_size!r}")
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
  """What one job produced.

  Attributes:
    top1: best validation top-1 accuracy over the epochs, in percent (0-100).
    best_epoch: the epoch (1-based) that reached `top1`; 0 if training diverged in epoch 1.
    final_train_loss: mean training loss of the last epoch run (NaN if it diverged).
    wall_s: seconds from the start of preprocessing to the end of the last evaluation.
    device: "cpu" or "cuda:0", ...
    val_top1_per_epoch: validation top-1 after each completed epoch.
    diverged: the loss became non-finite; training stopped after that epoch.
    precision: the precision the step ran in ("fp32" | "bf16"; see `options`).
    channels_last: the step ran in channels-last memory format.
    compiled: the forward pass ran through `torch.compile`.
  """
  top1: float
  best_epoch: int
  final_train_loss: float
  wall_s: float
  device: str
  val_top1_per_epoch: tuple[float, ...]
  diverged: bool = False
  precision: str = "fp32"
  channels_last: bool = False
  compiled: bool = False


def preprocess(dataset: ImageDataset, size: int, device: torch.device) -> torch.Tensor:
  """Returns the images as uint8 [N, 3, size, size] on `device` (`images.resize_uint8`).

  Raises:
    ValueError: the images are not uint8 [N, H, W, 1|3].
  """
  return resize_uint8(dataset.images, size, f"dataset {dataset.name!r} images").to(device)


def _augment_draws(sizes: list[int], side: int, generator: torch.Generator,
                   device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
  """Each step's (flip [n], crop offsets [n, 2]) on `device`, drawn up front for the epoch.

  Drawn from the CPU `generator` in the order a per-step draw would use (flip, then offsets,
  step by step), so the values are the same; moved to the device in one copy per epoch
  rather than two per step (a copy from pageable host memory waits for the device).
  """
  pad = max(1, side // 8)
  flips, offsets = [], []
  for n in sizes:
    flips.append(torch.rand(n, generator=generator) < 0.5)
    offsets.append(torch.randint(0, 2 * pad + 1, (n, 2), generator=generator))
  if not sizes:
    return []
  packed = torch.cat([torch.cat([f.long()[:, None], o], 1) for f, o in zip(flips, offsets)])
  packed = packed.to(device).split(sizes)
  return [(p[:, 0].bool(), p[:, 1:]) for p in packed]


def _augment(x: torch.Tensor, flip: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
  """Horizontal flip where `flip`, then a crop of the reflect-padded batch at `offsets` (per
  sample; see `_augment_draws`)."""
  n, c, h, w = x.shape
  x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
  pad = max(1, h // 8)
  padded = F.pad(x.float(), (pad, pad, pad, pad), mode="reflect")
  # One gather: out[i, :, y, x] = padded[i, :, dy_i + y, dx_i + x] (a copy, so exact).
  rows = (offsets[:, 0, None] + torch.arange(h, device=x.device))[:, None, :, None]
  cols = (offsets[:, 1, None] + torch.arange(w, device=x.device))[:, None, None, :]
  batch = torch.arange(n, device=x.device)[:, None, None, None]
  channel = torch.arange(c, device=x.device)[None, :, None, None]
  return padded[batch, channel, rows, cols]


def make_optimizer(model: torch.nn.Module, hparams: HyperParams) -> torch.optim.Optimizer:
  """SGD with momentum 0.9 (L2 weight decay) or AdamW (decoupled), at `hparams.lr`."""
  if hparams.optimizer == "sgd":
    return torch.optim.SGD(model.parameters(), lr=hparams.lr, momentum=0.9,
                           weight_decay=hparams.weight_decay)
  return torch.optim.AdamW(model.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay)


def train_step(forward: torch.nn.Module, optimizer: torch.optim.Optimizer,
               schedule: torch.optim.lr_scheduler.LRScheduler | None, x: torch.Tensor,
               y: torch.Tensor, spec: InputSpec, options: TrainOptions) -> torch.Tensor:
  """One optimisation step on a uint8 (or augmented float) batch; returns the loss, detached
  and left on the device (reading it would sync the host).

  Normalise, memory format, forward and loss under the options' autocast, backward, update.
  `options` must be resolved (`TrainOptions.resolved`).
  """
  x = to_format(normalise(x, spec), options.channels_last)
  with autocast(x.device, options.precision):
    loss = F.cross_entropy(forward(x), y)
  optimizer.zero_grad(set_to_none=True)
  loss.backward()
  optimizer.step()
  if schedule is not None:
    schedule.step()
  return loss.detach()


def train_epoch(forward: torch.nn.Module, optimizer: torch.optim.Optimizer,
                schedule: torch.optim.lr_scheduler.LRScheduler | None, x_train: torch.Tensor,
                y_train: torch.Tensor, order: torch.Tensor, steps: int, hparams: HyperParams,
                spec: InputSpec, options: TrainOptions, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
  """`steps` steps over the batches of `order`; returns (mean loss, "a loss was non-finite"),
  both still on the device: the loop itself never syncs the host."""
  losses = []
  nonfinite = torch.zeros((), dtype=torch.bool, device=x_train.device)
  batches = [order[step * hparams.batch_size:(step + 1) * hparams.batch_size]
             for step in range(steps)]
  draws = (_augment_draws([len(rows) for rows in batches], x_train.shape[2], generator,
                          x_train.device) if hparams.augment else [])
  for step, rows in enumerate(batches):
    x = _augment(x_train[rows], *draws[step]) if hparams.augment else x_train[rows]
    loss = train_step(forward, optimizer, schedule, x, y_train[rows], spec, options)
    nonfinite |= ~torch.isfinite(loss)
    losses.append(loss)
  return torch.stack(losses).mean(), nonfinite


@torch.no_grad()
def evaluate_top1(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  spec: InputSpec, options: TrainOptions | None = None,
                  forward: torch.nn.Module | None = None) -> float:
  """Returns the top-1 accuracy (percent) of `model` on preprocessed uint8 `images`.

  `options` (resolved, default fp32) sets the precision and memory format of the forward
  pass; `forward` is the callable to run (e.g. the compiled model), `model` by default. The
  count stays on the device until the end (one host sync).
  """
  options = options or TrainOptions(precision="fp32")
  forward = forward or model
  model.eval()
  correct = torch.zeros((), dtype=torch.int64, device=labels.device)
  for start in range(0, len(labels), _EVAL_BATCH):
    x = to_format(normalise(images[start:start + _EVAL_BATCH], spec), options.channels_last)
    with autocast(x.device, options.precision):
      logits = forward(x)
    correct += (logits.argmax(1) == labels[start:start + _EVAL_BATCH]).sum()
  return 100.0 * int(correct) / len(labels)


def finetune(model: torch.nn.Module, train: ImageDataset, val: ImageDataset,
             hparams: HyperParams, spec: InputSpec, seed: int,
             device: str | torch.device | None = None,
             save_path: str | os.PathLike | None = None,
             options: TrainOptions | None = None) -> FinetuneResult:
  """Fine-tunes `model` (all layers) on `train`, keeping the best epoch on `val`.

  Args:
    model: a classifier whose output has `train.num_classes` logits.
    train: the training split.
    val: the held-out validation split (same classes).
    hparams: learning rate, weight decay, epochs, batch size, optimizer, augmentation.
    spec: the model's input size and normalisation.
    seed: seeds shuffling and augmentation.
    device: where to train; the first CUDA device if available when None.
    options: precision ("auto": bf16 on CUDA, fp32 elsewhere), channels-last and compile
      (`options.TrainOptions`); the defaults when None.
    save_path: if given, the `state_dict` of the best epoch is written there atomically
      (`torch.save`), e.g. to turn a small architecture trained on a source task into a zoo
      model.

  Returns:
    A `FinetuneResult`.

  Raises:
    ValueError: empty splits, differing class sets, labels out of range, image and label
      counts that differ, images that are not uint8 [N, H, W, 1|3], or `options` that is
      not a `TrainOptions`.
  """
  if options is not None and not isinstance(options, TrainOptions):
    raise ValueError(f"options must be a TrainOptions, got {type(options).__name__}")
  if len(train) < 2 or len(val) < 1:
    raise ValueError(f"train needs >= 2 images and val >= 1, got {len(train)} and {len(val)}")
  if train.num_classes != val.num_classes:
    raise ValueError(f"train has {train.num_classes} classes but val has {val.num_classes}")
  for split in (train, val):
    if len(split.images) != len(split):
      raise ValueError(f"{split.split} has {len(split.images)} images but {len(split)} labels")
    if split.labels.min() < 0 or split.labels.max() >= split.num_classes:
      raise ValueError(f"{split.split} labels must lie in 0..{split.num_classes - 1}")
  device = torch.device(device) if device is not None else default_device()
  options = (options or TrainOptions()).resolved(device)
  if device.type == "cuda":
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
  start_time = time.perf_counter()
  generator = torch.Generator().manual_seed(seed)
  x_train = preprocess(train, spec.input_size, device)
  x_val = preprocess(val, spec.input_size, device)
  y_train = torch.tensor(np.asarray(train.labels, np.int64), device=device)
  y_val = torch.tensor(np.asarray(val.labels, np.int64), device=device)
  model, forward = prepare_model(model, device, options)
  optimizer = make_optimizer(model, hparams)
  # A batch of one breaks batch norm in training mode, so a remainder of one is dropped.
  steps_per_epoch = rules.steps_per_epoch(len(train), hparams.batch_size)
  schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps_per_epoch * hparams.epochs)
  history, best_state, loss_mean, diverged = [], None, float("nan"), False
  for _ in range(hparams.epochs):
    model.train()
    order = torch.randperm(len(train), generator=generator).to(device)
    epoch_loss, nonfinite = train_epoch(forward, optimizer, schedule, x_train, y_train, order,
                                        steps_per_epoch, hparams, spec, options, generator)
    if bool(nonfinite):  # the epoch's one sync
      diverged, loss_mean = True, float("nan")
      break
    loss_mean = float(epoch_loss)
    top1 = evaluate_top1(model, x_val, y_val, spec, options, forward)
    # Strictly better only: ties keep the earlier epoch, as `best_epoch` (argmax) does.
    if save_path is not None and top1 > max(history, default=-1.0):
      best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    history.append(top1)
  if save_path is not None and best_state is not None:
    with io.atomic_path(save_path) as tmp:
      torch.save(best_state, tmp)
  best_epoch = int(np.argmax(history)) + 1 if history else 0
  return FinetuneResult(
      top1=max(history, default=0.0), best_epoch=best_epoch, final_train_loss=loss_mean,
      wall_s=time.perf_counter() - start_time, device=str(device),
      val_top1_per_epoch=tuple(history), diverged=diverged, precision=options.precision,
      channels_last=options.channels_last, compiled=options.compile)
