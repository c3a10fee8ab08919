"""The fine-tuning / extraction benchmark: both loops do the same work; its rows are table rows."""

import numpy as np
import pytest
import torch

from configs import bench_finetune
from guidedrec_jax.cost import throughput
from guidedrec_jax.finetune import TrainOptions, bench

torch.set_num_threads(1)
CPU = torch.device("cpu")


def test_project_and_reference_loops_compute_the_same_losses():
  # resnet10t has no dropout: same init, same batches -> the same float32 steps.
  loops = bench.finetune_loops("resnet10t", CPU, TrainOptions("fp32"), 8, 32, 10, seed=0)
  project, reference = loops["project"](6), loops["reference"](6)
  assert torch.isfinite(project) and project.item() == reference.item()


def test_project_and_reference_extraction_agree():
  loops = bench.extract_loops("lcnet_050", CPU, TrainOptions("fp32"), 8, 32, 20, seed=0)
  project, reference = loops["project"](), loops["reference"]()
  assert project.shape == (20, 1280) and project.dtype == np.float32
  np.testing.assert_allclose(project, reference, rtol=0, atol=1e-5)


def test_bf16_reaches_both_loops():
  loops = bench.finetune_loops("resnet10t", CPU, TrainOptions("bf16"), 8, 32, 10, seed=0)
  fp32 = bench.finetune_loops("resnet10t", CPU, TrainOptions("fp32"), 8, 32, 10, seed=0)
  bf16_loss, fp32_loss = loops["project"](2).item(), fp32["project"](2).item()
  assert bf16_loss != fp32_loss and abs(bf16_loss - fp32_loss) < 0.1
  assert loops["reference"](2).item() != fp32["reference"](2).item()


def test_smoke_run_writes_measured_table_rows(tmp_path):
  config = bench_finetune.get_config("smoke")
  results = bench.run_bench(config, tmp_path)
  assert [(r["model"], r["stage"], r["precision"]) for r in results] == [
      ("resnet10t", "finetune", "fp32"), ("resnet10t", "extract", "fp32")]
  for row in results:
    assert row["project_per_s"] > 0 and row["reference_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["project_per_s"] / row["reference_per_s"],
                                         rel=1e-2)
    assert row["speedup_vs_fp32"] == 1.0
  rows = throughput.read_table(tmp_path / "throughput.csv")
  assert [(r.stage, r.model, r.device, r.precision, r.input_size) for r in rows] == [
      ("finetune", "resnet10t", "cpu", "fp32", 32), ("extract", "resnet10t", "cpu", "fp32", 32)]
  assert all(r.measured and r.gmacs > 0 for r in rows)
  assert rows[0].per_second == results[0]["project_per_s"]


def test_table_gmacs_are_counted_as_the_zoo_meta():
  # Headless and through the non-fused attention path, as `registry.model_meta` counts.
  from guidedrec_jax.zoo import registry
  for name in ("resnet10t", "vit_tiny_patch8_32"):
    assert bench.forward_gmacs(name, 32) == registry.model_meta(name).gmacs


def test_bad_config_fails_before_any_work(tmp_path):
  config = bench_finetune.get_config("smoke")
  config.unlock()
  config.precisions = ("fp16",)
  with pytest.raises(ValueError, match="config.precisions"):
    bench.run_bench(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()
