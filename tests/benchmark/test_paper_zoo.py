"""configs/paper_zoo.py: the paper-scale config's shape, and its smoke variant end to end on
TFDS's generated mock data (catalogue tasks through the whole main job)."""

import json
import os
import pathlib
import subprocess
import sys

import pandas as pd

from configs import paper_zoo
from guidedrec_jax.benchmark import plan, quality
from guidedrec_jax.data import CATALOG

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_paper_scale_is_22_models_by_the_tfds_catalogue_on_a_gpu_cluster():
  config = paper_zoo.get_config()
  plan.check_config(config)
  assert len(plan.zoo_names(config)) == 22
  assert set(config.tasks) == {name for name, task in CATALOG.items() if task.tfds_name}
  assert len(CATALOG) == 40 and len(config.tasks) == 37
  assert config.ray_address == "auto" and config.device == ""
  assert 0 < config.resources.sweep.num_gpus < 1
  assert len(config.sweep.lrs) * len(config.sweep.weight_decays) == 8


def test_smoke_runs_end_to_end_on_tfds_mock_data(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env["GUIDEDREC_CACHE"] = str(tmp_path / "cache")  # TFDS label caches of the mock data
  workdir = tmp_path / "run"
  result = subprocess.run(
      [sys.executable, "scripts/run_benchmark.py", "--config=configs/paper_zoo.py:smoke",
       f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True, timeout=1200,
      env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  config = paper_zoo.get_config("smoke")
  names = plan.zoo_names(config)
  history = pd.read_csv(workdir / "sweep" / "history.csv")
  assert len(history) == len(names) * len(config.tasks)
  assert set(history["dataset"]) == set(config.tasks)
  scores = pd.read_csv(workdir / "scores.csv")
  assert len(scores) == len(names) * len(config.tasks) * len(config.scores)
  table2 = pd.read_csv(workdir / "table2.csv")
  assert quality.NOISE_METHOD in set(table2["method"])
  assert set(config.tasks) <= set(table2.columns)
  stages = json.loads((workdir / "torch_stages.json").read_text())
  assert stages["pretrain"]["executed"] == 0 and stages["noise_rerun"]["executed"] == len(names)
