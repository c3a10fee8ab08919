"""Damaged caches of a finished run are recomputed, logged, and give a clean run's outputs.

One smoke run (the main job), then: two of its feature files damaged (one truncated, one
with a flipped byte the zip format does not notice) and its `scores.csv` truncated; the
main job again. Then `recommend.py --dataset` on the same run (its library call), once
clean, then again after truncating one of the user dataset's feature files and its scores.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from configs import micro_zoo
from guidedrec_jax import io
from guidedrec_jax.benchmark import layout, recommend_dataset
from guidedrec_jax.contracts import feature_cache
from tests.benchmark.driver import DRIVER, ROOT
from tests.recommend.folders import write_folder

OUTPUTS = ("scores.csv", "table2.csv", "history_quality.csv", "recommendation_digits.csv",
           "evaluation/per_dataset.csv")


def _run_driver(workdir: pathlib.Path) -> tuple[dict, str]:
  """The main job in a fresh process (as test_pipeline runs it): (its report, its stderr)."""
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  code = DRIVER.format(overrides={}, workdir=str(workdir))
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def _arrays(path: pathlib.Path) -> dict[str, np.ndarray]:
  with np.load(path, allow_pickle=False) as data:
    return {name: data[name] for name in data.files}


def _flip(path: pathlib.Path, offset: int) -> None:
  data = bytearray(path.read_bytes())
  data[offset] ^= 0xFF
  path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def healed(tmp_path_factory):
  """(workdir, clean outputs, damaged feature files, the healing run's report and stderr)."""
  workdir = tmp_path_factory.mktemp("heal")
  _run_driver(workdir)
  clean = {name: (workdir / name).read_bytes() for name in OUTPUTS}
  config = micro_zoo.get_config("smoke")
  files = feature_cache.task_files(workdir / "cache", config.tasks[0])
  truncated, flipped = list(files.values())[:2]
  clean_features = {p: _arrays(p) for p in (truncated, flipped)}
  truncated.write_bytes(truncated.read_bytes()[:200])
  _flip(flipped, 10)  # the local header's time stamp: the zip still opens
  assert _arrays(flipped).keys() == clean_features[flipped].keys()
  scores = workdir / "scores.csv"
  scores.write_bytes(scores.read_bytes()[: len(clean["scores.csv"]) // 2])
  report, stderr = _run_driver(workdir)
  return workdir, clean, clean_features, report, stderr


def test_main_job_recomputes_and_logs_damaged_caches(healed):
  workdir, _, clean_features, report, stderr = healed
  extract = report["torch_stages"]["extract"]
  assert extract["computed"] == 2 and report["scores_computed"]
  # The same scores as before the damage: the evaluation's stamp still holds.
  assert not report["evaluation_ran"]
  warnings = [line for line in stderr.splitlines() if line.startswith("W")]
  for path in clean_features:
    assert any(str(path) in line and "damaged" in line for line in warnings), stderr[-4000:]
  assert any(str(workdir / "scores.csv") in line and "damaged" in line for line in warnings)


def test_main_job_outputs_equal_the_clean_run(healed):
  workdir, clean, clean_features, _, _ = healed
  for path, arrays in clean_features.items():
    io.load_arrays(path)  # intact again
    got = _arrays(path)
    assert got.keys() == arrays.keys()
    for name in arrays:
      np.testing.assert_array_equal(got[name], arrays[name])
  for name, data in clean.items():
    assert (workdir / name).read_bytes() == data, name


def test_dataset_recommendation_recomputes_damaged_caches(healed, tmp_path_factory, caplog):
  workdir = healed[0]
  config = micro_zoo.get_config("smoke")
  spec = f"folder:{write_folder(tmp_path_factory.mktemp('images'))}"
  overrides = {"dataset": spec, "finetune_top": 0}
  first = recommend_dataset.run(config, workdir, overrides)
  folder = layout.user_dir(workdir, first["user"].name)
  clean_scores = (folder / "scores.csv").read_bytes()
  damaged = pathlib.Path(first["extract"]["caches"][first["table"]["model"].iloc[0]])
  clean_features = _arrays(damaged)
  damaged.write_bytes(damaged.read_bytes()[:200])
  (folder / "scores.csv").write_bytes(clean_scores[:len(clean_scores) // 2])
  second = recommend_dataset.run(config, workdir, overrides)
  assert second["extract"]["computed"] == 1 and second["extract"]["child"]
  assert second["extract"]["reused"] == len(first["extract"]["caches"]) - 1
  assert second["scores_computed"]
  assert f"{damaged} is damaged" in caplog.text and "scores.csv is damaged" in caplog.text
  for name, value in clean_features.items():
    np.testing.assert_array_equal(_arrays(damaged)[name], value)
  assert (folder / "scores.csv").read_bytes() == clean_scores
  pd.testing.assert_frame_equal(second["table"], first["table"])


def test_damaged_pretrained_checkpoint_is_trained_again(tmp_path, caplog):
  from guidedrec_jax.benchmark import torch_stages  # the torch half: imports torch
  job = torch_stages.PretrainJob("lcnet_050", "procedural/shape", str(tmp_path / "m.pth"))
  cfg = {"num_val": 8, "epochs": 1, "lr": 0.1, "weight_decay": 0.0, "batch_size": 8, "seed": 0}
  checkpoint = pathlib.Path(job.checkpoint)
  checkpoint.write_bytes(bytes(range(256)) * 4)
  record = {"job": torch_stages._pretrain_description(job, cfg, 32), "num_classes": 3,
            "sha256": io.file_sha256(checkpoint)}
  io.write_json_atomic(checkpoint.with_suffix(".json"), record)
  assert torch_stages.cached_pretrain(job, cfg, 32) == record
  assert torch_stages.cached_pretrain(job, cfg, 31) is None  # another job
  _flip(checkpoint, 100)
  assert torch_stages.cached_pretrain(job, cfg, 32) is None
  assert f"checkpoint {checkpoint} is damaged" in caplog.text
  record.pop("sha256")  # a record from before checkpoints were hashed
  io.write_json_atomic(checkpoint.with_suffix(".json"), record)
  assert torch_stages.cached_pretrain(job, cfg, 32) is None
  checkpoint.with_suffix(".json").write_text("{")  # a damaged sidecar: trained again
  assert torch_stages.cached_pretrain(job, cfg, 32) is None
