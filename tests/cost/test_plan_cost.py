"""The priced plan (`cost.plan`) against a hand count, and the throughput table's rows."""

import math
import subprocess
import sys

import pytest

from configs import paper_zoo
from guidedrec_jax.cost import plan, rules, throughput

# Hand-picked rates (per second) of the smoke zoo on "cpu" at 32 px: finetune, extract.
RATES = {"mobilenetv2_100": (16, 64), "lcnet_050": (32, 128), "regnetx_002": (8, 32),
         "resnet10t": (64, 256)}


def _table(tmp_path, gpu_rows=()):
  rows = [throughput.Row(stage, model, "cpu", "fp32", 32, 16, 0.1, rate, "measured: test")
          for model, (ft, ex) in RATES.items()
          for stage, rate in (("finetune", ft), ("extract", ex))]
  rows += [throughput.Row("score", "logme", "cpu", "fp32", 48, 0, 0.0, 4, "estimate: test"),
           throughput.Row("score", "lfc", "cpu", "fp32", 48, 0, 0.0, 8, "estimate: test")]
  rows += list(gpu_rows)
  path = tmp_path / "table.csv"
  throughput.write_table(path, rows)
  return path


def _smoke():
  return paper_zoo.get_config("smoke").to_dict()


def test_smoke_plan_equals_the_hand_count(tmp_path):
  config = _smoke()
  # 3 tasks x 4 models (mobilenetv2_100@32 + 3 random), grid 1 x 1, 1 epoch of 32 images
  # (batch 16), 16 validation images; noise ceiling on 1 task; probe <= 48; 2 scores; CPU.
  assert (len(config["tasks"]), len(plan.zoo_architectures(config))) == (3, 4)
  stages, totals = plan.plan_cost(config, throughput.read_table(_table(tmp_path)), "h100", 2)
  by_name = {s.stage: s for s in stages}
  assert list(by_name) == ["sweep", "noise_ceiling", "extract", "scores"]  # no pre-training
  sweep = by_name["sweep"]
  assert (sweep.device, sweep.jobs, sweep.epochs, sweep.images, sweep.eval_images) == (
      "cpu", 12, 12, 384, 192)
  # per model 3 jobs x (32 / finetune + 16 / extract):
  # 3 x (2 + .25) + 3 x (1 + .125) + 3 x (4 + .5) + 3 x (.5 + .0625) = 25.3125 s
  assert sweep.seconds == pytest.approx(25.3125, rel=1e-12)
  noise = by_name["noise_ceiling"]
  assert (noise.jobs, noise.images, noise.eval_images) == (4, 128, 64)
  assert noise.seconds == pytest.approx(25.3125 / 3, rel=1e-12)
  extract = by_name["extract"]
  # 3 tasks x 48 images: 144/64 + 144/128 + 144/32 + 144/256 = 8.4375 s
  assert (extract.jobs, extract.images, extract.seconds) == (12, 576, pytest.approx(8.4375))
  scores = by_name["scores"]
  assert (scores.jobs, scores.seconds) == (24, pytest.approx(12 / 4 + 12 / 8))
  assert totals["gpu_hours"] == 0 and totals["wall_hours_gpu"] == 0
  assert totals["cpu_hours"] == pytest.approx((25.3125 + 8.4375 + 8.4375 + 4.5) / 3600)


def test_gpu_stages_use_the_gpu_rows_in_bf16_and_divide_by_k(tmp_path):
  config = _smoke()
  config["resources"]["sweep"]["num_gpus"] = 0.25
  config["noise_ceiling"]["tasks"] = []
  gpu = [throughput.Row(stage, model, "x100", "bf16", 32, 64, 0.1, 10 * ft if stage ==
                        "finetune" else 10 * ex, "estimate: test")
         for model, (ft, ex) in RATES.items() for stage in ("finetune", "extract")]
  stages, totals = plan.plan_cost(config, throughput.read_table(_table(tmp_path, gpu)),
                                  "x100", 4)
  sweep = next(s for s in stages if s.stage == "sweep")
  assert sweep.device == "x100" and sweep.seconds == pytest.approx(2.53125)
  assert totals["gpu_hours"] == pytest.approx(2.53125 / 3600)
  assert totals["wall_hours_gpu"] == pytest.approx(2.53125 / 3600 / 4)


def test_train_images_per_epoch_drops_a_last_batch_of_one():
  assert [plan.train_images_per_epoch(n, 16) for n in (32, 33, 17, 31, 1, 800)] == [
      32, 32, 16, 31, 1, 800]
  # The same rule as the training loop's step count (`rules.steps_per_epoch`).
  assert [rules.steps_per_epoch(n, 16) for n in (32, 33, 17, 31, 1, 800)] == [
      2, 2, 1, 2, 1, 50]


def test_pretraining_is_priced_in_the_default_precision(tmp_path):
  # Pre-training passes no options, so it runs "auto" (bf16 on a GPU) whatever the sweep asks.
  config = _smoke()
  config["pretrain"]["models"] = [("resnet10t", "procedural/shape")]
  config["resources"]["pretrain"]["num_gpus"] = 1
  config["sweep"]["precision"] = "fp32"
  gpu = [throughput.Row(stage, "resnet10t", "x100", "bf16", 32, 64, 0.1, 100, "estimate: test")
         for stage in ("finetune", "extract")]
  stages, _ = plan.plan_cost(config, throughput.read_table(_table(tmp_path, gpu)), "x100")
  pretrain = next(s for s in stages if s.stage == "pretrain")
  assert (pretrain.device, pretrain.jobs) == ("x100", 1)
  # 3 epochs x (1600 / 100 + 400 / 100) seconds.
  assert pretrain.seconds == pytest.approx(3 * (16 + 4))
  assert plan.train_images_per_epoch(1600, 64) == 1600


def test_missing_rows_and_bad_k_are_named(tmp_path):
  rows = throughput.read_table(_table(tmp_path))
  with pytest.raises(ValueError, match="num_gpus"):
    plan.plan_cost(_smoke(), rows, "h100", 0)
  config = _smoke()
  config["scores"] = ["logme", "parc"]
  with pytest.raises(ValueError, match="model='parc'"):
    plan.plan_cost(config, rows)


def test_estimate_rows_follow_the_stated_formula():
  rows = throughput.read_table()  # the project's table
  estimates = [r for r in rows if not r.measured and r.stage != "score"]
  assert estimates
  for row in estimates:
    flops = throughput.ASSUMED_FLOPS[row.device][row.precision]
    want = flops * throughput.utilisation(row.model) / (
        throughput.PASSES[row.stage] * 2 * row.gmacs * 1e9)
    assert row.per_second == pytest.approx(want, rel=1e-3), row
  # resnet50 at 224: 4.089 GMACs; bf16 training = 130e12 / (3 * 2 * 4.089e9) images/s.
  r50 = throughput.lookup(rows, "finetune", "resnet50", "h100", "bf16", 224)
  assert r50.per_second == pytest.approx(130e12 / (6 * 4.089e9), rel=1e-3)


def test_paper_plan_script_prices_every_stage(tmp_path):
  result = subprocess.run(
      [sys.executable, "scripts/plan_cost.py", "--config=configs/paper_zoo.py", "--gpu=h100",
       "--num_gpus=8"], capture_output=True, text=True, check=True)
  lines = result.stdout.splitlines()
  sweep = next(line for line in lines if line.startswith("sweep"))
  # 37 tasks x 22 models x 8 grid points = 6,512 jobs of 20 epochs x 800 images.
  assert sweep.split()[1:5] == ["h100", "6,512", "130,240", "104,192,000"]
  assert any(line.startswith("GPU-hours (h100)") and "on 8 GPU(s)" in line for line in lines)
