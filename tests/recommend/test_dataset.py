"""`recommend.py --dataset` end to end on a folder of generated PNGs, and its bad inputs.

The run is the smoke config's zoo without pre-training (mobilenetv2_100@32, lcnet_050,
regnetx_002) with a smoke-shaped history written here (3 tasks; planted accuracies and
scores in the files a benchmark run writes: the benchmark itself is tested in
tests/benchmark, and running it here would double this file's time); the test trains the
saved recommender on it, then recommends for a folder nobody fine-tuned on, with real
feature extraction, scoring and fine-tuning in the torch child.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from configs import micro_zoo
from guidedrec_jax import io
from guidedrec_jax.recommender import rank
from guidedrec_jax.benchmark import (guided, layout, recommend_dataset, recommender_run,
                                     user_dataset)
from tests import images
from tests.recommend.folders import write_folder


def small_config():
  config = micro_zoo.get_config("smoke")
  config.pretrain.models = ()  # the zoo: mobilenetv2_100@32, lcnet_050, regnetx_002
  return config


ZOO = {"mobilenetv2_100@32": ("mobilenet", "in1k", 2.2, 0.006),
       "lcnet_050": ("lcnet", "random", 0.6, 0.001),
       "regnetx_002": ("regnet", "random", 2.3, 0.004)}


def write_run(config, workdir: pathlib.Path) -> None:
  """The files of a finished smoke run that --dataset reads: manifest, history, scores."""
  io.write_json_atomic(workdir / layout.MANIFEST, [dict(
      name="mobilenetv2_100@32", architecture="mobilenetv2_100", family="mobilenet",
      pretrain_domain="in1k", weights="timm", input_size=32, num_source_classes=1000,
      timm_kwargs={})])
  rng = np.random.default_rng(0)
  history, scores = [], []
  for t, task in enumerate(config.tasks):
    for m, (model, (family, domain, params, gmacs)) in enumerate(ZOO.items()):
      quality = 1.0 - m / len(ZOO)
      history.append(dict(dataset=task, model=model, top1=20 + 10 * t + 30 * quality
                          + rng.normal(), num_train=96, num_classes=10 - 2 * t,
                          family=family, input_size=32, params_m=params, gmacs=gmacs,
                          pretrain_domain=domain))
      scores += [dict(dataset=task, model=model, score="logme", value=quality - t),
                 dict(dataset=task, model=model, score="lfc", value=rng.random())]
  io.write_config(workdir, config)
  (workdir / "sweep").mkdir(parents=True)
  pd.DataFrame(history).to_csv(workdir / "sweep" / "history.csv", index=False)
  pd.DataFrame(scores).to_csv(workdir / "scores.csv", index=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """(config, workdir): a smoke-shaped finished run with its saved recommender."""
  workdir = tmp_path_factory.mktemp("run")
  config = small_config()
  write_run(config, workdir)
  recommender_run.train_for_run(config, workdir)
  return config, workdir


@pytest.fixture(scope="module")
def first_and_second(run, tmp_path_factory):
  config, workdir = run
  folder = write_folder(tmp_path_factory.mktemp("images"), broken=2)
  spec = f"folder:{folder}"
  first = recommend_dataset.run(config, workdir, {"dataset": spec})
  second = recommend_dataset.run(config, workdir, {"dataset": spec})
  return first, second


def test_one_row_per_zoo_model_with_finite_predictions(run, first_and_second):
  config, _ = run
  first, _ = first_and_second
  table = first["table"]
  assert sorted(table["model"]) == sorted(first["zoo_names"])
  assert len(first["zoo_names"]) == 3
  assert np.isfinite(table["predicted_top1"]).all()
  assert table["score"].is_monotonic_decreasing and list(table["rank"]) == [1, 2, 3]
  assert {f"ms_{s}" for s in config.scores} <= set(table.columns)
  assert pd.read_csv(first["paths"][0])["model"].tolist() == table["model"].tolist()
  # The dataset's own features: what fine-tuning would train on, classes, difficulty (the
  # configured score of the configured fixed model on this probe set).
  scores = pd.read_csv(layout.user_dir(run[1], first["user"].name) / "scores.csv")
  logme = scores.query("model == 'mobilenetv2_100@32' and score == 'logme'")["value"].item()
  assert first["features"] == {"num_train": 23.0, "num_classes": 3.0,
                               "difficulty": pytest.approx(logme)}


def test_order_prediction_interval_and_plot_agree(run, first_and_second):
  """One ranking: the table's order, its predicted_top1 (in [chance, 100], inside its
  interval) and the plot's bars (top to bottom) are the same."""
  first, _ = first_and_second
  table = first["table"]
  chance = 100 / 3
  assert table["predicted_top1"].is_monotonic_decreasing
  for column in ("predicted_low", "predicted_top1", "predicted_high"):
    assert table[column].between(chance, 100).all(), column
  assert (table["predicted_low"] <= table["predicted_top1"]).all()
  assert (table["predicted_top1"] <= table["predicted_high"]).all()
  assert (table["predicted_high"] > table["predicted_low"]).any()
  images.assert_drawn(first["paths"][2])


def test_saved_blend_weights_and_similar_datasets_in_the_report(run, first_and_second):
  config, workdir = run
  first, _ = first_and_second
  saved = recommender_run.load_for_config(config, workdir)
  names = list(saved.fitted.names)
  assert list(first["weights"]) == names
  assert sum(first["weights"].values()) == pytest.approx(1.0)
  assert ("blend weights: " + ", ".join(f"{n} {w:.2f}" for n, w in first["weights"].items())
          in first["report"])
  # Each member's vote is a column; the score is their weighted sum, standardised, mixed with
  # the similar datasets' vote by the gate's share for this dataset.
  votes = np.stack([first["table"][f"z: {n}"] for n in names], 1)
  weighted = votes @ saved.fitted.weights
  share = first["neighbor_share"]
  assert saved.fitted.neighbor == names.index("similar datasets (tau=1)") and 0 <= share < 1
  want = ((1 - share) * (weighted - weighted.mean()) / weighted.std()
          + share * votes[:, saved.fitted.neighbor])
  np.testing.assert_allclose(want, first["table"]["score"], atol=1e-9)
  assert f"similar datasets' share of this ranking (gate on closeness): {share:.2f}" \
      in first["report"]
  weights, source = first["similar"]
  assert sorted(weights.index) == sorted(config.tasks) and source == "scores"
  assert weights.sum() == pytest.approx(1.0) and weights.is_monotonic_decreasing
  assert "resembles (scores similarity; weights of the history's datasets): " in first["report"]


def test_ranking_never_retrains(run, first_and_second, monkeypatch):
  """A second call ranks with the saved recommender: no method is fitted."""
  config, workdir = run
  from guidedrec_jax.recommender import blend  # pylint: disable=import-outside-toplevel
  def refuse(*args, **kwargs):
    raise AssertionError("recommend.py --dataset fitted a method")
  monkeypatch.setattr(blend.BlendMethod, "fit", refuse)
  spec = first_and_second[0]["user"].spec
  result = recommend_dataset.run(config, workdir, {"dataset": spec})
  assert result["extract"]["computed"] == 0  # features cached by the fixture's calls
  assert result["table"]["model"].tolist() == first_and_second[0]["table"]["model"].tolist()


def test_unreadable_images_are_skipped_and_counted(first_and_second):
  first, _ = first_and_second
  assert len(first["skipped"]) == 2 and all("broken_" in p for p in first["skipped"])
  assert len(first["user"].dataset) == 30
  assert "unreadable image files skipped: 2" in first["report"]


def test_second_call_extracts_nothing(first_and_second):
  first, second = first_and_second
  assert first["extract"]["computed"] == 3 and first["scores_computed"]
  assert second["extract"]["computed"] == 0 and not second["extract"]["child"]
  assert not second["scores_computed"]
  pd.testing.assert_frame_equal(first["table"], second["table"])


def test_filters(run, first_and_second):
  config, workdir = run
  spec = first_and_second[0]["user"].spec
  result = recommend_dataset.run(config, workdir, {"dataset": spec, "max_params": 1.0})
  assert result["table"]["model"].tolist() == ["lcnet_050"]
  result = recommend_dataset.run(config, workdir, {"dataset": spec, "families": ("regnet",)})
  assert result["table"]["model"].tolist() == ["regnetx_002"]
  assert result["extract"]["computed"] == 0
  result = recommend_dataset.run(config, workdir, {"dataset": spec, "max_input_size": 32,
                                                   "models": ("lcnet_050", "regnetx_002")})
  assert sorted(result["table"]["model"]) == ["lcnet_050", "regnetx_002"]
  with pytest.raises(ValueError, match="max_input_size.*leave no zoo model"):
    recommend_dataset.run(config, workdir, {"dataset": spec, "max_input_size": 16})


def test_train_recommender_on_the_run_and_a_csv(run, tmp_path):
  from configs import train_recommender
  _, workdir = run
  config = train_recommender.get_config("smoke")
  config.run_workdir = str(workdir)
  extra = pd.read_csv(workdir / "sweep" / "history.csv")
  extra = extra[extra["dataset"] == extra["dataset"].iloc[0]].assign(dataset="other")
  extra.to_csv(tmp_path / "other.csv", index=False)
  config.histories = (f"csv:{tmp_path / 'other.csv'}",)
  model = recommender_run.train_recommender(config, tmp_path / "out")
  assert model.meta["block"]["type"] == "blend" and model.name.startswith("blend (")
  assert "other" in model.meta["datasets"] and len(model.meta["datasets"]) == 4
  rows = pd.read_csv(tmp_path / "out" / "train_recommender" / "training_rows.csv")
  assert rows["rows"].sum() == model.meta["num_rows"] == 4 * len(ZOO)
  assert (tmp_path / "out" / "recommender" / "recommender.json").exists()
  with pytest.raises(ValueError, match="histories entries"):
    config.histories = ("parquet:/x",)
    recommender_run.train_recommender(config, tmp_path / "bad")


@pytest.fixture()
def no_extraction(monkeypatch):
  """Any extraction or fine-tuning child fails the test: errors must come before them."""
  def forbidden(request, folder):
    if request["mode"] != "meta":
      raise AssertionError(f"a {request['mode']} child started before the error")
    return original(request, folder)
  original = guided.run_child
  monkeypatch.setattr(guided, "run_child", forbidden)


@pytest.mark.parametrize("make, overrides, match", [
    (lambda root: root, {}, "is empty"),
    (lambda root: write_folder(root, per_class=(5,)), {}, "1 class"),
    (lambda root: write_folder(root, per_class=(5, 1)), {}, "at least 2 readable.*'class_1' \\(1\\)"),
    (lambda root: write_folder(root, per_class=(5, 3), broken=4) and
     [p.unlink() for p in (root / "class_0").glob("[0-9]*.png")] and root, {},
     "'class_0' \\(0\\)"),
    (lambda root: write_folder(root), {"models": ("resnet_9000",)}, "not in the zoo"),
    (lambda root: write_folder(root), {"families": ("transformer",)}, "families"),
    (lambda root: write_folder(root), {"max_params": 1e-6}, "leave no zoo model"),
    (lambda root: write_folder(root), {"max_gmacs": -1.0}, "max_gmacs must be"),
    (lambda root: write_folder(root), {"families": "mobilenet"}, "families must be a sequence"),
])
def test_bad_input_fails_before_extraction(run, tmp_path, no_extraction, make, overrides, match):
  config, workdir = run
  root = tmp_path / "data"
  root.mkdir()
  make(root)
  with pytest.raises(ValueError, match=match):
    recommend_dataset.run(config, workdir, {"dataset": f"folder:{root}", **overrides})


def test_missing_folder_and_bad_finetune_top(run, tmp_path, no_extraction):
  config, workdir = run
  with pytest.raises(ValueError, match="does not exist"):
    recommend_dataset.run(config, workdir, {"dataset": f"folder:{tmp_path / 'nope'}"})
  with pytest.raises(ValueError, match="finetune_top"):
    recommend_dataset.run(config, workdir, {"dataset": f"folder:{tmp_path}",
                                            "finetune_top": -1})


def test_refuses_a_recommender_of_another_block_or_code_version(run, tmp_path, no_extraction):
  config, workdir = run
  folder = write_folder(tmp_path / "data")
  other = small_config()
  other.recommender.shrink = 0.5
  with pytest.raises(ValueError, match=r"another method block \(keys \['shrink'\]"):
    recommend_dataset.run(other, workdir, {"dataset": f"folder:{folder}"})
  copy = tmp_path / "recommender"
  shutil.copytree(workdir / layout.RECOMMENDER, copy)
  manifest = json.loads((copy / "recommender.json").read_text())
  (copy / "recommender.json").write_text(json.dumps({**manifest, "code_version": "0.0.1"}))
  with pytest.raises(ValueError, match="code version '0.0.1'"):
    recommend_dataset.run(config, workdir, {"dataset": f"folder:{folder}"}, copy)


def test_dataset_key_is_stable_and_separate_from_tasks(tmp_path):
  a = user_dataset.dataset_key(f"folder:{tmp_path}")
  assert a == user_dataset.dataset_key(f"folder:{tmp_path}/")
  assert a.startswith("user/") and a != user_dataset.dataset_key(f"folder:{tmp_path}/x")
  assert user_dataset.dataset_key("digits") == "user/digits"


def test_finetune_top_one_appends_one_row_and_retrains(run, first_and_second):
  config, workdir = run
  spec = first_and_second[0]["user"].spec
  before = recommender_run.load_for_config(config, workdir).meta["fingerprint"]
  first = recommend_dataset.run(config, workdir, {"dataset": spec, "finetune_top": 1})
  folder = layout.user_dir(workdir, first["user"].name) / "sweep"
  history = pd.read_csv(folder / "history.csv")
  top = first["table"]["model"].iloc[0]
  assert history["model"].tolist() == [top] and history["dataset"].tolist() == [
      first["user"].name]
  assert first["guided"]["executed"] == 1 and first["retrained"]
  measured = first["guided"]["measured"]
  assert measured["model"].tolist() == [top] and np.isfinite(measured["measured_top1"]).all()
  assert "measured_top1" in first["report"]
  checked = first["guided"]["agreement"]
  votes = [c[len(rank.VOTE_PREFIX):] for c in first["table"].columns
           if c.startswith(rank.VOTE_PREFIX)]
  assert votes and checked["ranking"].tolist() == ["recommender", *votes]
  assert checked["models"].eq(1).all() and checked["regret1"].eq(0).all()
  assert "the ranking against the measured top-1" in first["report"]
  after = recommender_run.load_for_config(config, workdir).meta
  assert after["fingerprint"] != before and first["user"].name in after["datasets"]
  # The retrained recommender may rank another model first: ask for the same one again.
  again = recommend_dataset.run(config, workdir, {"dataset": spec, "finetune_top": 1,
                                                  "models": (top,)})
  assert again["guided"]["executed"] == 0 and not again["retrained"]
  assert len(pd.read_csv(folder / "history.csv")) == 1
  assert len((folder / "jobs.jsonl").read_text().splitlines()) == 1


def test_killed_guided_sweep_resumes_without_duplicates(run, first_and_second, tmp_path):
  """The torch child killed after its first logged job; a rerun completes the rest once."""
  config, workdir = run
  user = first_and_second[0]["user"]
  sweep_dir = tmp_path / "sweep"
  request = {"mode": "finetune", "dataset": user_dataset.to_plan(user, config.seed),
             "models": list(first_and_second[0]["table"]["model"]),
             "manifest": str(guided.manifest_path(workdir)), "sweep": config.sweep.to_dict(),
             "sweep_dir": str(sweep_dir), "num_train": 20, "num_val": 8, "seed": 0,
             "config": {**config.to_dict(), "num_workers": 1},  # one job at a time
             "result": str(tmp_path / "result.json")}
  (tmp_path / "request.json").write_text(json.dumps(request))
  # The package is installed (editable): the child imports it as `-m` without any path edit.
  child = subprocess.Popen([sys.executable, "-m", guided.CHILD, str(tmp_path / "request.json")],
                           start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
  jobs = sweep_dir / "jobs.jsonl"
  deadline = time.monotonic() + 240
  while child.poll() is None and time.monotonic() < deadline:
    if jobs.exists() and jobs.read_text().count("\n") >= 1:
      os.killpg(child.pid, signal.SIGKILL)
      break
    time.sleep(0.02)
  child.wait()
  logged = jobs.read_text().count("\n")
  assert 1 <= logged < 3, "the child was not killed mid-way"
  guided.run_child({k: v for k, v in request.items() if k != "result"}, tmp_path)
  result = json.loads((tmp_path / "finetune_result.json").read_text())
  assert result["executed"] == 3 - logged and result["skipped"] == logged
  keys = [json.loads(line)["job_key"] for line in jobs.read_text().splitlines()]
  assert len(keys) == 3 == len(set(keys))
  history = pd.read_csv(sweep_dir / "history.csv")
  assert sorted(history["model"]) == sorted(request["models"])


def test_a_concurrent_call_on_the_same_dataset_waits_and_reuses(run, first_and_second):
  """Another process holds the dataset's lock (as a running `recommend.py` would): this call
  waits for it, then reuses the caches instead of extracting again."""
  config, workdir = run
  user = first_and_second[0]["user"]
  folder = layout.user_dir(workdir, user.name)
  marker = folder / "held"
  holder = subprocess.Popen(
      [sys.executable, "-c",
       "import pathlib, sys, time\n"
       "from guidedrec_jax.benchmark import guided\n"
       "folder = pathlib.Path(sys.argv[1])\n"
       "with guided.dataset_lock(folder):\n"
       "  (folder / 'held').write_text('1')\n"
       "  time.sleep(3)\n", str(folder)])
  try:
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
      time.sleep(0.05)
    assert marker.exists(), "the lock holder never started"
    start = time.monotonic()
    result = recommend_dataset.run(config, workdir, {"dataset": user.spec})
    waited = time.monotonic() - start
  finally:
    holder.wait(timeout=60)
    marker.unlink(missing_ok=True)
  assert waited >= 2.0  # blocked until the holder let go
  assert result["extract"]["computed"] == 0 and not result["scores_computed"]
