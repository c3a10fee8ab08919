"""scripts/evaluate.py end to end (smoke config), and the configs' keys against the library."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import evaluate

from configs import setting1_timm, setting2_timm, setting3_parc

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", [setting1_timm, setting2_timm, setting3_parc])
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_configs_declare_what_evaluate_reads(module, arg):
  config = module.get_config(arg)
  assert set(evaluate.default_config().keys()) == set(config.keys())
  assert config.protocol in evaluate.PROTOCOLS
  with pytest.raises(ValueError, match="unknown config argument"):
    module.get_config("smok")


def test_script_writes_tables_plots_and_metrics(shared_dir, tmp_path):
  workdir = tmp_path / "run"
  result = subprocess.run(
      [sys.executable, "scripts/evaluate.py", "--config=configs/setting3_parc.py:smoke",
       f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  for name in ("config.json", "metrics.jsonl", "summary.csv", "summary.md", "per_dataset.csv",
               "per_dataset_pearson.png", "per_dataset_regret.png", "latent_covariance.png"):
    assert (workdir / name).stat().st_size > 0, name
  summary = pd.read_csv(workdir / "summary.csv")
  assert "source_images" in set(summary["method"]) and "FM (d,m)" in set(summary["method"])
  assert len(summary) == 4 + 1 + 2 + 2  # heuristics, model mean, ridge, FM (smoke: FM only)
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert records[-1]["event"] == "done"
  assert json.loads((workdir / "config.json").read_text())["protocol"] == "setting3"


def test_csv_history_with_scores_adds_score_baselines_and_fields(tmp_path):
  rng = np.random.default_rng(0)
  models = [f"m{i}" for i in range(12)]
  history = pd.DataFrame({
      "dataset": np.repeat(["a", "b"], 12), "model": models * 2,
      "top1": rng.uniform(50, 90, 24), "num_train": 100, "num_classes": 10, "family": "resnet",
      "input_size": 224, "params_m": rng.uniform(1, 100, 24), "gmacs": 1.0,
      "pretrain_domain": "in1k"})
  history.to_csv(tmp_path / "history.csv", index=False)
  scores = history[["dataset", "model"]].assign(score="logme", value=history["top1"])
  scores.to_csv(tmp_path / "scores.csv", index=False)
  config = evaluate.default_config()
  config.protocol = "setting3"
  config.history.source = "csv"
  config.history.path = str(tmp_path / "history.csv")
  config.history.scores_path = str(tmp_path / "scores.csv")
  config.models = ()
  config.ridge_field_sets = ("d,m", "with S=d,m,S_logme")
  summary = evaluate.evaluate(config, tmp_path / "run").set_index("method")
  assert summary.loc["S_logme", "pearson_mean"] == pytest.approx(1.0)  # the planted truth
  assert summary.loc["ridge (with S)", "pearson_mean"] > 0.95
  assert summary.loc["ridge (d,m)", "pearson_mean"] < 0.9
  config.history.source = "tfds"
  with pytest.raises(ValueError, match="history.source"):
    evaluate.evaluate(config, tmp_path / "bad")


def test_difficulty_comes_from_a_fixed_models_score(tmp_path):
  history = pd.DataFrame({
      "dataset": ["a", "a", "b", "b"], "model": ["m0", "m1"] * 2, "top1": [1.0, 2.0, 3.0, 4.0],
      "num_train": 1, "num_classes": 2, "family": "f", "input_size": 1, "params_m": 1.0,
      "gmacs": 1.0, "pretrain_domain": "in1k"})
  history.to_csv(tmp_path / "history.csv", index=False)
  scores = history[["dataset", "model"]].assign(score="leep", value=[-1.0, 5.0, -2.0, 6.0])
  scores.to_csv(tmp_path / "scores.csv", index=False)
  cfg = evaluate.default_config().history
  cfg.update(dict(source="csv", path=str(tmp_path / "history.csv"), difficulty_score="leep",
                  difficulty_model="m0"))
  with pytest.raises(ValueError, match="scores_path"):
    evaluate.load_configured_history(cfg)
  cfg.scores_path = str(tmp_path / "scores.csv")
  loaded = evaluate.load_configured_history(cfg)
  np.testing.assert_array_equal(loaded["difficulty"], [-1.0, -1.0, -2.0, -2.0])
  assert "ms_leep" in loaded.columns
