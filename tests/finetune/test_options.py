"""Tests of the step's device options (`finetune.options`) and the no-sync divergence check."""

import dataclasses
import math

import pytest
import torch

from guidedrec_jax.finetune import (HyperParams, InputSpec, JobSpec, TrainOptions, finetune,
                                    options_from_config, resolve_precision, split_train_val)
from guidedrec_jax.finetune import run_sweep
from guidedrec_jax.finetune.history_writer import JobsLog
from tests.finetune import fixtures

SPEC = InputSpec(16)
HP = HyperParams(lr=0.05, epochs=2, batch_size=16)


def _splits():
  return split_train_val(fixtures.datasets()["rgb4"], num_train=120, num_val=40, seed=0)


class Spy(torch.nn.Module):
  """`tiny_cnn` that records, per training forward, autocast state and input layout, and
  can return non-finite logits from a given training step on (a diverging run)."""

  def __init__(self, nan_from_step: int | None = None):
    super().__init__()
    self.net = fixtures.tiny_cnn("cnn_wide", 4, False)
    self.nan_from_step = nan_from_step
    self.calls: list[tuple[bool, torch.dtype, bool]] = []
    self.train_steps = 0

  def forward(self, x):
    self.calls.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"),
                       x.is_contiguous(memory_format=torch.channels_last)
                       and not x.is_contiguous()))
    logits = self.net(x)
    if self.training:
      self.train_steps += 1
      if self.nan_from_step is not None and self.train_steps >= self.nan_from_step:
        logits = logits * float("nan")
    return logits


def _run(model, hparams=HP, **kwargs):
  train, val = _splits()
  torch.manual_seed(0)
  return finetune(model, train, val, hparams, SPEC, seed=0, device="cpu", **kwargs)


def test_resolve_precision():
  assert resolve_precision("auto", "cpu") == "fp32"
  assert resolve_precision("auto", torch.device("cuda:0")) == "bf16"
  assert resolve_precision("fp32", "cuda:0") == "fp32"
  assert resolve_precision("bf16", "cpu") == "bf16"
  with pytest.raises(ValueError, match="precision"):
    resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("kwargs, match", [
    (dict(precision="half"), "precision"), (dict(channels_last=1), "channels_last"),
    (dict(compile="yes"), "compile")])
def test_options_reject_bad_values(kwargs, match):
  with pytest.raises(ValueError, match=match):
    TrainOptions(**kwargs)


def test_options_from_config():
  assert options_from_config({"lrs": (0.1,)}) == TrainOptions()
  assert options_from_config({"precision": "bf16", "channels_last": True, "compile": False}
                             ) == TrainOptions("bf16", True, False)
  with pytest.raises(ValueError, match="config.sweep: precision"):
    options_from_config({"precision": "fp16"})


def test_finetune_rejects_bad_options():
  with pytest.raises(ValueError, match="options"):
    _run(Spy(), options={"precision": "bf16"})


def test_default_cpu_step_is_fp32_contiguous():
  spy = Spy()
  result = _run(spy)
  assert spy.calls and all(c == (False, spy.calls[0][1], False) for c in spy.calls)
  assert (result.precision, result.channels_last, result.compiled) == ("fp32", False, False)


def test_bf16_and_channels_last_reach_the_step_and_eval():
  spy = Spy()
  result = _run(spy, options=TrainOptions(precision="bf16", channels_last=True))
  # Training (8 steps x 2 epochs) and evaluation (1 batch x 2 epochs) forwards alike.
  assert len(spy.calls) == 2 * (8 + 1)
  assert all(c == (True, torch.bfloat16, True) for c in spy.calls), spy.calls
  assert (result.precision, result.channels_last) == ("bf16", True)
  assert next(spy.parameters()).dtype == torch.float32  # master weights stay float32
  fp32 = _run(Spy())
  assert result.final_train_loss != fp32.final_train_loss  # bf16 changes the numbers
  assert abs(result.final_train_loss - fp32.final_train_loss) < 0.1


def test_compile_wraps_the_forward_but_saves_plain_keys(monkeypatch, tmp_path):
  compiled = []
  def fake_compile(module):
    compiled.append(module)
    return module
  monkeypatch.setattr(torch, "compile", fake_compile)
  spy = Spy()
  result = _run(spy, options=TrainOptions(precision="fp32", compile=True),
                save_path=tmp_path / "w.pt")
  assert compiled == [spy] and result.compiled
  assert set(torch.load(tmp_path / "w.pt")) == set(spy.state_dict())


@pytest.mark.parametrize("nan_from_step, epochs_run", [(1, 0), (5, 0), (8, 0), (9, 1),
                                                      (16, 1), (17, 2)])
def test_no_sync_divergence_stops_at_the_per_step_checks_epoch(nan_from_step, epochs_run):
  # 120 images / batch 16: 8 steps per epoch (the last one of 8 images). A per-step check
  # stops in the epoch of the first non-finite loss, evaluating only the epochs before it.
  hparams = HyperParams(lr=0.05, epochs=3, batch_size=16)
  result = _run(Spy(nan_from_step), hparams)
  assert len(result.val_top1_per_epoch) == epochs_run
  assert result.diverged
  assert math.isnan(result.final_train_loss)
  assert result.best_epoch == (0 if epochs_run == 0 else
                               1 + result.val_top1_per_epoch.index(result.top1))
  clean = _run(Spy(), hparams)  # the epochs before the divergence are the clean run's
  assert result.val_top1_per_epoch == clean.val_top1_per_epoch[:epochs_run]


def test_learning_rate_1e6_still_diverges_in_epoch_one():
  result = _run(Spy(), HyperParams(lr=1e6, epochs=3, batch_size=16))
  assert result.diverged and result.val_top1_per_epoch == () and result.best_epoch == 0


def test_job_key_records_only_non_default_options():
  base = JobSpec("rgb4", "cnn_wide", HP, 0, 100, 40, "f" * 12)
  # The key of a default job is the one from before options existed (frozen: computed with
  # the sweep module as it was before `options`).
  assert base.job_key == "ab72d9d54dbc770d"
  assert "precision" not in base.fields() and "channels_last" not in base.fields()
  assert base.job_key == dataclasses.replace(base, options=TrainOptions()).job_key
  keys = {dataclasses.replace(base, options=o).job_key
          for o in (TrainOptions(), TrainOptions("bf16"), TrainOptions("fp32"),
                    TrainOptions(channels_last=True), TrainOptions(compile=True))}
  assert len(keys) == 5


def test_sweep_records_the_precision_in_the_jobs_log(tmp_path):
  data = {"rgb4": fixtures.datasets()["rgb4"]}
  grid = (HyperParams(lr=0.05, epochs=1, batch_size=16),)
  run_sweep(data, fixtures.MODELS[:1], fixtures.tiny_cnn, grid, tmp_path / "a", num_train=64,
            num_val=32, progress=False, device="cpu")
  run_sweep(data, fixtures.MODELS[:1], fixtures.tiny_cnn, grid, tmp_path / "b", num_train=64,
            num_val=32, progress=False, device="cpu",
            options=TrainOptions(precision="bf16", channels_last=True))
  (a,), (b,) = (JobsLog(tmp_path / d / "jobs.jsonl").read().values() for d in "ab")
  assert (a["precision"], a["channels_last"]) == ("fp32", False)
  assert (b["precision"], b["channels_last"]) == ("bf16", True)
  assert a["job_key"] != b["job_key"]
  # history.csv keeps its columns (the precision lives in jobs.jsonl).
  header = (tmp_path / "b" / "history.csv").read_text().splitlines()[0]
  assert "precision" not in header.split(",")
  with pytest.raises(ValueError, match="options"):
    run_sweep(data, fixtures.MODELS[:1], fixtures.tiny_cnn, grid, tmp_path / "c",
              num_train=64, num_val=32, progress=False, options="bf16")


@pytest.mark.parametrize("key, value, match", [
    ("precision", "fp16", "config.sweep.precision"), ("channels_last", "yes",
                                                       "config.sweep.channels_last"),
    ("compile", 1, "config.sweep.compile")])
def test_benchmark_config_checks_the_options(key, value, match):
  from configs import micro_zoo
  from guidedrec_jax.benchmark import plan
  config = micro_zoo.get_config("smoke").to_dict()
  plan.check_config(config)  # the defaults pass
  assert options_from_config(config["sweep"]) == TrainOptions()
  config["sweep"][key] = value
  with pytest.raises(ValueError, match=match):
    plan.check_config(config)
