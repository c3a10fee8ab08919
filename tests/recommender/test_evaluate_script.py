"""scripts/evaluate.py end to end (smoke config), and the configs' keys against the library."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import evaluate, protocols
from tests import images

from configs import setting1_timm, setting2_timm, setting3, setting3_parc

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", [setting1_timm, setting2_timm, setting3_parc, setting3])
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
    if name.endswith(".png"):
      images.assert_drawn(workdir / name)
  summary = pd.read_csv(workdir / "summary.csv")
  assert list(summary["method"]) == [
      "recommender", "source_images", "params_m", "arch_imagenet_top1", "layers", "model mean",
      "ridge (d,m)", "ridge (d,m,src)", "FM (d,m)", "FM (d,m,src)"]  # smoke: FM only
  assert summary["mae_mean"].notna().tolist() == [True] + [False] * 4 + [True] + [False] * 4
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
  config.methods = (dict(type="ridge", fields="d,m"),
                    dict(type="ridge", fields="with S=d,m,S_logme"))
  summary = evaluate.evaluate(config, tmp_path / "run").set_index("method")
  assert list(summary.index) == ["recommender", "ridge (d,m)", "ridge (with S)", "S_logme"]
  assert summary.loc["S_logme", "pearson_mean"] == pytest.approx(1.0)  # the planted truth
  assert summary.loc["ridge (with S)", "pearson_mean"] > 0.95
  assert summary.loc["ridge (d,m)", "pearson_mean"] < 0.9
  config.history.source = "tfds"
  with pytest.raises(ValueError, match="history.source"):
    evaluate.evaluate(config, tmp_path / "bad")


def test_an_unregistered_score_is_refused_until_declared():
  rng = np.random.default_rng(2)
  quality = rng.normal(size=6)
  history = pd.DataFrame({"dataset": np.repeat(["a", "b", "c"], 6), "model": [f"m{i}" for i in
                                                                             range(6)] * 3,
                          "top1": 60 + 5 * np.tile(quality, 3), "ms_otce": -np.tile(quality, 3),
                          "ms_logme": np.tile(quality, 3)})
  config = evaluate.default_config()
  with pytest.raises(ValueError, match="'otce' is not a registered score.*otce=numeric:S:-"):
    evaluate.build_methods(config, history)
  config.history.fields = "otce=numeric:S:-"
  built = {m.name: m for m in evaluate.build_methods(config, history)}
  assert built["S_otce"].sign == -1.0 and built["S_logme"].sign == 1.0  # registered: no need


def test_declaring_a_joined_scores_direction_adds_no_column(tmp_path):
  """The refusal tells the user to declare `otce=numeric:S:-` for a score joined from
  `history.scores_path` (`generic.declared_signs`: "it also gives the direction of a score of
  that name joined from a scores table"): the declaration must load, add no `otce` row (the
  history has `ms_otce`, no `otce` column) and let the S fields train."""
  rng = np.random.default_rng(3)
  quality = rng.normal(size=6)
  history = pd.DataFrame({"dataset": np.repeat(["a", "b", "c"], 6),
                          "model": [f"m{i}" for i in range(6)] * 3,
                          "top1": 60 + 5 * np.tile(quality, 3)})
  history.to_csv(tmp_path / "h.csv", index=False)
  history[["dataset", "model"]].assign(otce=-history["top1"]).to_csv(tmp_path / "s.csv",
                                                                     index=False)
  config = evaluate.default_config()
  config.protocol = "setting3"
  config.history.update(dict(source="csv", path=str(tmp_path / "h.csv"),
                             scores_path=str(tmp_path / "s.csv"), fields="otce=numeric:S:-"))
  config.methods = (dict(type="ridge", fields="d,m,S"),)
  loaded = evaluate.load_configured_history(config.history)
  assert "ms_otce" in loaded.columns
  built = evaluate.build_methods(config, loaded)
  assert [m.name for m in built] == ["recommender", "ridge (d,m,S)", "S_otce"]
  summary = protocols.summarize(protocols.setting3(loaded, built)).set_index("method")
  assert summary.loc["S_otce", "pearson_mean"] == pytest.approx(1.0)


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


def test_setting3_on_any_csv_with_declared_fields_and_wide_scores(tmp_path):
  """configs/setting3.py as a user runs it: a minimal 0-1 CSV, one declared column, repeats."""
  rng = np.random.default_rng(1)
  quality = rng.normal(size=8)
  rows = [{"dataset": f"d{d}", "model": f"m{m}", "acc": 0.6 + 0.05 * quality[m] + 0.1 * d,
           "depth": 10 + m} for d in range(3) for m in range(8)]
  history = pd.DataFrame(rows + [dict(rows[0], acc=0.1)])  # a repeated, worse run
  history.to_csv(tmp_path / "h.csv", index=False)
  wide = history[["dataset", "model"]].assign(logme=[quality[int(m[1:])] for m in
                                                     history["model"]]).drop_duplicates()
  wide.to_csv(tmp_path / "s.csv", index=False)
  workdir = tmp_path / "run"
  common = [sys.executable, "scripts/evaluate.py", "--config=configs/setting3.py:smoke",
            f"--workdir={workdir}", f"--config.history.path={tmp_path / 'h.csv'}",
            "--config.history.top1_column=acc", "--config.history.fields=depth=numeric:m:log",
            f"--config.history.scores_path={tmp_path / 's.csv'}"]
  refused = subprocess.run(common, cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert refused.returncode != 0 and "top1_scale=1" in refused.stderr
  result = subprocess.run(common + ["--config.history.top1_scale=1",
                                    "--config.history.duplicates=max"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = pd.read_csv(workdir / "summary.csv").set_index("method")
  assert list(summary.index) == ["recommender", "model mean", "similar datasets (tau=1)",
                                 "ridge (d,m,S)", "trees (d,m,S)", "FM (d,m,S)", "S_logme"]
  assert summary.loc["S_logme", "pearson_mean"] > 0.99
  assert summary.loc["recommender", "pearson_mean"] > 0.9  # the blend follows the score
  assert summary["num_datasets"].eq(2).all()  # smoke: two datasets held out
  assert np.isfinite(summary.loc[["recommender", "model mean"], "mae_mean"]).all()
