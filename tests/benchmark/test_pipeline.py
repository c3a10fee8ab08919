"""The micro benchmark end to end (smoke config): outputs, caching, process separation."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from configs import micro_zoo
from guidedrec_jax.benchmark import plan, quality, recommend, recommender_run
from tests import images
from tests.benchmark.driver import DRIVER, ROOT


def _run_driver(workdir: pathlib.Path, overrides: dict | None = None,
                home: pathlib.Path | None = None) -> dict:
  # A plain run: not the two emulated host devices that conftest sets up for sharding tests.
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  if home is not None:  # a Ray run: no settings of another Ray, and a home of its own
    env = {k: v for k, v in env.items() if not k.startswith("RAY_")} | {"HOME": str(home)}
  code = DRIVER.format(overrides=overrides or {}, workdir=str(workdir))
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  """Two smoke runs in one workdir: (workdir, first run's report, second run's report)."""
  workdir = tmp_path_factory.mktemp("micro_zoo_smoke")
  first = _run_driver(workdir)
  jobs_after_first = (workdir / "sweep" / "jobs.jsonl").read_text()
  second = _run_driver(workdir)
  return workdir, first, second, jobs_after_first


@pytest.fixture(scope="module")
def smoke_on_ray(tmp_path_factory):
  """The smoke job with `ray_address="local"`: (workdir, report)."""
  workdir = tmp_path_factory.mktemp("micro_zoo_smoke_ray")
  report = _run_driver(workdir, {"ray_address": "local"}, home=tmp_path_factory.mktemp("home"))
  return workdir, report


def test_smoke_writes_tables_plots_and_recommendation(smoke):
  workdir, first, _, _ = smoke
  print(f"smoke run: {first['seconds']:.1f} s")
  for name in ("config.json", "metrics.jsonl", "table2.csv", "table2.md", "scores.csv",
               "zoo_manifest.json", "sweep/history.csv", "sweep/jobs.jsonl",
               "recommendation_digits.csv", "recommendation_digits.md",
               "evaluation/per_dataset_pearson.png", "evaluation/per_dataset_regret.png",
               "evaluation/summary.csv"):
    assert (workdir / name).stat().st_size > 0, name
    if name.endswith(".png"):
      images.assert_drawn(workdir / name)
  config = micro_zoo.get_config("smoke")
  # The README: the main job saves the recommender `recommend.py --dataset` ranks by.
  saved = recommender_run.load_for_config(config, workdir)
  assert set(saved.meta["datasets"]) == set(config.tasks)
  names = plan.zoo_names(config)
  history = pd.read_csv(workdir / "sweep" / "history.csv")
  assert len(history) == len(names) * len(config.tasks)
  assert set(history["model"]) == set(names)
  assert (history["input_size"] == 32).all()  # the ImageNet model ran at 32 px
  domains = dict(zip(history["model"], history["pretrain_domain"]))
  assert domains["mobilenetv2_100@32"] == "in1k"
  assert domains["lcnet_050.procedural-shape"] == "procedural/shape"
  assert domains["lcnet_050"] == "random"
  scores = pd.read_csv(workdir / "scores.csv")
  assert list(scores.columns) == ["dataset", "model", "score", "value"]
  assert len(scores) == len(names) * len(config.tasks) * len(config.scores)
  table2 = pd.read_csv(workdir / "table2.csv")
  assert {"recommender", "S_logme", "S_lfc", "model mean", "ridge (d,m,S)",
          "FM (d,m,S_logme)"} <= set(table2["method"])
  assert {*config.tasks, "mean_pearson", "mean_regret"} <= set(table2.columns)
  assert table2["mean_pearson"].between(-1, 1).all()
  # The noise ceiling (the smoke re-runs digits with seed 1) sits beside the methods.
  ceiling = table2.set_index("method").loc[quality.NOISE_METHOD]
  assert -1 <= ceiling["digits"] <= 1 and pd.isna(ceiling["procedural/counting"])
  rerun = pd.read_csv(workdir / "noise_ceiling" / "history.csv")
  assert sorted(rerun["model"]) == sorted(names) and set(rerun["dataset"]) == {"digits"}
  assert set(rerun["seed"]) == {1} and set(history["seed"]) == {0}
  history_quality = pd.read_csv(workdir / "history_quality.csv")
  assert list(history_quality["task"]) == [*sorted(config.tasks), "all tasks"]
  assert (history_quality["chance"].iloc[:-1].astype(float)
          == [100 / 10, 100 / 6, 100 / 6]).all()  # digits: 10 classes; counting, texture: 6
  markdown = (workdir / "table2.md").read_text()
  assert "History per task" in markdown and "noise_ceiling_pearson" in markdown
  ranking = pd.read_csv(workdir / "recommendation_digits.csv")
  assert sorted(ranking["model"]) == sorted(names)
  assert ranking["score"].is_monotonic_decreasing
  assert ranking["predicted_top1"].is_monotonic_decreasing
  assert ranking["predicted_top1"].between(100 / 10, 100).all()  # digits: 10 classes


def test_driver_never_imports_torch(smoke):
  _, first, second, _ = smoke
  assert not first["torch_imported"] and not second["torch_imported"]


def test_rerun_fine_tunes_and_extracts_nothing(smoke):
  workdir, first, second, jobs_after_first = smoke
  assert first["torch_stages"]["sweep"]["executed"] > 0
  assert first["torch_stages"]["extract"]["computed"] > 0
  rerun = second["torch_stages"]
  assert rerun["pretrain"]["executed"] == 0
  assert rerun["sweep"]["executed"] == 0 and rerun["sweep"]["skipped"] == rerun["sweep"]["planned"]
  assert rerun["extract"]["computed"] == 0
  assert not second["scores_computed"] and not second["evaluation_ran"]
  assert (workdir / "sweep" / "jobs.jsonl").read_text() == jobs_after_first
  events = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  # Each run writes its run record first (provenance.run_record, read by results.py).
  runs = [k for k, e in enumerate(events) if e["event"] == "run"]
  assert runs[0] == 0 and len(runs) == 2
  assert [e["event"] for e in events[runs[1] - 2:runs[1]]] == ["run_end", "done"]
  torch_events = [e for e in events if e["event"] == "torch_stages"]
  assert len(torch_events) == 2 and torch_events[-1]["sweep"]["executed"] == 0
  assert rerun["noise_rerun"]["executed"] == 0 < first["torch_stages"]["noise_rerun"]["executed"]


def test_recommend_applies_constraints(smoke):
  workdir = smoke[0]
  config = micro_zoo.get_config("smoke")
  table, path = recommend.recommend(config, workdir, task="procedural/counting",
                                    max_params=1.0)
  assert path.name == "recommendation_procedural-counting.md" and path.exists()
  assert len(table) >= 1 and (table["params_m"] <= 1.0).all()
  assert list(table["rank"]) == list(range(1, len(table) + 1))
  with pytest.raises(ValueError, match="recommend.task"):
    recommend.recommend(config, workdir, task="cifar10")
  with pytest.raises(ValueError, match="max_gmacs"):
    recommend.recommend(config, workdir, max_gmacs=-1.0)
  # The --task table and a rank of the same fold by hand agree (one ranker, one fold list).
  whole, _ = recommend.recommend(config, workdir, task="procedural/counting")
  assert whole["predicted_top1"].is_monotonic_decreasing
  assert table["model"].tolist() == [m for m in whole["model"] if m in set(table["model"])]


# When and where a job ran; everything else in the history is what the job computed.
TIMING_COLUMNS = ("wall_s",)


def test_local_ray_run_gives_the_in_process_history_and_scores(smoke, smoke_on_ray):
  workdir, first, _, _ = smoke
  ray_workdir, report = smoke_on_ray
  print(f"smoke run: {first['seconds']:.1f} s in process, {report['seconds']:.1f} s on Ray")
  assert not report["torch_imported"]
  assert json.loads((ray_workdir / "config.json").read_text())["ray_address"] == "local"
  stages = report["torch_stages"]
  assert stages["sweep"]["executed"] == stages["sweep"]["planned"] > 0
  assert stages["pretrain"]["executed"] > 0 and stages["extract"]["computed"] > 0
  history = pd.read_csv(workdir / "sweep" / "history.csv").drop(columns=list(TIMING_COLUMNS))
  on_ray = pd.read_csv(ray_workdir / "sweep" / "history.csv").drop(columns=list(TIMING_COLUMNS))
  pd.testing.assert_frame_equal(history, on_ray, check_exact=True)
  scores = pd.read_csv(workdir / "scores.csv")
  ray_scores = pd.read_csv(ray_workdir / "scores.csv")
  pd.testing.assert_frame_equal(scores.drop(columns="value"), ray_scores.drop(columns="value"))
  # Same features, same float64 scores; only the process differs (XLA may thread
  # reductions differently), hence a tolerance far below any score's meaning.
  np.testing.assert_allclose(ray_scores["value"], scores["value"], rtol=1e-9, atol=1e-12)
