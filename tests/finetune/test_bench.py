"""The fine-tuning / extraction benchmark: both loops do the same work; its rows are table rows."""

import json
import os
import pathlib
import subprocess
import sys

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
  results, targets = bench.run_bench(config, tmp_path)
  assert targets == [] and not (tmp_path / "targets.csv").exists()  # smoke sets none
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["event"] for r in records] == ["run", "bench", "bench"]
  assert records[0]["torch"] == torch.__version__ and records[0]["commit"]
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


def _result(model, stage, precision, ratio, speedup):
  return {"model": model, "stage": stage, "precision": precision, "ratio": ratio,
          "speedup_vs_fp32": speedup}


def test_targets_hold_each_row_to_the_ratio_and_the_named_models_to_the_speedup():
  config = bench_finetune.get_config()  # the GPU targets: 0.9x the reference, bf16 1.7x
  results = [_result("resnet50", "finetune", "fp32", 0.95, 1.0),
             _result("resnet50", "finetune", "bf16", 0.89, 1.69),
             _result("resnet50", "extract", "bf16", 1.2, 1.1),   # no speed-up target
             _result("convnext_tiny", "finetune", "bf16", 0.9, 1.2)]  # not a speedup model
  targets = bench.check_targets(config, results)
  assert [(t["target"], t["model"], t["stage"], t["precision"], t["value"], t["met"])
          for t in targets] == [
      ("ratio >= 0.9", "resnet50", "finetune", "fp32", 0.95, True),
      ("ratio >= 0.9", "resnet50", "finetune", "bf16", 0.89, False),
      ("speedup_vs_fp32 >= 1.7", "resnet50", "finetune", "bf16", 1.69, False),
      ("ratio >= 0.9", "resnet50", "extract", "bf16", 1.2, True),
      ("ratio >= 0.9", "convnext_tiny", "finetune", "bf16", 0.9, True)]
  cpu = bench_finetune.get_config("cpu")  # CPU: the ratio only
  assert {t["target"] for t in bench.check_targets(cpu, results)} == {"ratio >= 0.9"}


def test_a_speedup_target_needs_both_precisions(tmp_path):
  config = bench_finetune.get_config("smoke")
  config.unlock()
  config.min_bf16_speedup, config.speedup_models = 1.7, ("resnet10t",)
  with pytest.raises(ValueError, match="config.min_bf16_speedup > 0 needs both"):
    bench.run_bench(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


def test_table_gmacs_are_counted_as_the_zoo_meta():
  # Headless and through the non-fused attention path, as `registry.model_meta` counts.
  from guidedrec_jax.zoo import registry
  for name in ("resnet10t", "vit_tiny_patch8_32"):
    assert bench.forward_gmacs(name, 32) == registry.model_meta(name).gmacs


@pytest.mark.parametrize("key,value", [
    ("precisions", ("fp16",)), ("min_ratio", -0.1), ("min_bf16_speedup", float("nan")),
    ("speedup_models", ("resnet50",))])  # not among the smoke config's models
def test_bad_config_fails_before_any_work(tmp_path, key, value):
  config = bench_finetune.get_config("smoke")
  config.unlock()
  config[key] = value
  with pytest.raises(ValueError, match=f"config.{key}"):
    bench.run_bench(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


def test_the_gpu_script_runs_the_bench_and_prints_its_targets(tmp_path):
  # scripts/bench_finetune_gpu.sh as the `device` tool runs it, on the CPU smoke variant; the
  # extra argument reaches the binary (a target it meets), and everything lands under $OUT.
  env = dict(os.environ, PYTHON=sys.executable, CONFIG_ARG=":smoke", OUT=str(tmp_path))
  script = pathlib.Path(__file__).parents[2] / "scripts" / "bench_finetune_gpu.sh"
  done = subprocess.run(["bash", str(script), "--config.min_ratio=0.001"], env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr + done.stdout
  log = (tmp_path / "bench.log").read_text()
  assert log == done.stdout and "cuda False" in log
  assert [line.split()[1:4] + line.split()[-1:] for line in log.splitlines()
          if line.startswith("target")] == [["ratio", ">=", "0.001", "met"]] * 2
  assert sorted(p.name for p in (tmp_path / "bench").iterdir()) == [
      "bench.csv", "bench.md", "config.json", "metrics.jsonl", "targets.csv", "targets.md",
      "throughput.csv"]


def test_measured_rows_append_to_the_table_and_win_over_its_estimates(tmp_path):
  # docs/cluster.md: `--config.table=` appends the measured rows in place, and a lookup
  # prefers a measured row over an estimate of the same key.
  table = tmp_path / "throughput.csv"
  estimate = throughput.Row("finetune", "resnet10t", "cpu", "fp32", 32, 8, 0.1, 1.0,
                            "estimate: test")
  throughput.write_table(table, [estimate])
  config = bench_finetune.get_config("smoke")
  config.unlock()
  config.table = str(table)
  results, _ = bench.run_bench(config, tmp_path / "run")
  rows = throughput.read_table(table)
  assert rows[0] == estimate and [r.measured for r in rows] == [False, True, True]
  found = throughput.lookup(rows, "finetune", "resnet10t", "cpu", "fp32", 32)
  assert found.measured and found.per_second == results[0]["project_per_s"] != 1.0
