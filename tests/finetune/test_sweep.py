"""Tests of the resumable sweep (`guidedrec_jax.finetune.sweep`, `history_writer`)."""

import dataclasses
import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.finetune import (HISTORY_COLUMNS, InputSpec, JobSpec, JobsLog,
                                    ProcessExecutor, SweepContext, history_from_log, hpo_grid,
                                    run_job, split_train_val, zoo_model_info)
from guidedrec_jax.finetune.sweep import data_fingerprint
from tests.finetune import fixtures


def test_end_to_end_history_is_best_job_per_pair(tmp_path):
  summary = fixtures.sweep(tmp_path)
  assert (summary.planned, summary.skipped, summary.executed, summary.rows) == (8, 0, 8, 4)
  rows = fixtures.history(tmp_path)
  assert list(rows[0]) == list(HISTORY_COLUMNS) and len(rows) == 4
  records = JobsLog(tmp_path / "jobs.jsonl").read()
  assert len(records) == 8
  for row in rows:
    pair = (row["dataset"], row["model"])
    jobs = [r for r in records.values() if (r["dataset"], r["model"]) == pair]
    assert len(jobs) == 2
    assert float(row["top1"]) == max(r["top1"] for r in jobs)
    assert row["job_key"] in {r["job_key"] for r in jobs}
    assert int(row["num_train"]) == 100 and row["family"] == "tinycnn"
  assert {int(r["num_classes"]) for r in rows} == {3, 4}
  assert max(float(r["top1"]) for r in rows) > 60.0  # the tiny tasks are learnable
  from guidedrec_jax.history import schema  # the JAX half's reader of the same table
  assert len(schema.load_history(tmp_path / "history.csv")) == 4


def test_resume_skips_finished_jobs_and_runs_only_new_grid_points(tmp_path):
  fixtures.sweep(tmp_path)
  before = (tmp_path / "history.csv").read_text()
  counting = fixtures.CountingFactory()
  summary = fixtures.sweep(tmp_path, factory=counting)
  assert (summary.skipped, summary.executed, counting.calls) == (8, 0, [])
  assert (tmp_path / "history.csv").read_text() == before
  wider = hpo_grid(lrs=(0.02, 0.2, 0.05), epochs=2, batch_size=16)
  summary = fixtures.sweep(tmp_path, factory=counting, grid=wider)
  assert (summary.planned, summary.skipped, summary.executed) == (12, 8, 4)
  assert len(counting.calls) == 4 and len(fixtures.log_lines(tmp_path)) == 12


def test_job_key_is_deterministic_and_covers_every_field():
  train, val = split_train_val(fixtures.datasets()["rgb4"], 100, 40, seed=0)
  again = split_train_val(fixtures.datasets()["rgb4"], 100, 40, seed=0)
  fingerprint = data_fingerprint(train, val)
  assert fingerprint == data_fingerprint(*again)
  assert fingerprint != data_fingerprint(*split_train_val(fixtures.datasets()["rgb4"], 100, 40, 1))
  grid = fixtures.GRID
  base = JobSpec("rgb4", "cnn_wide", grid[0], 0, 100, 40, fingerprint)
  assert base.job_key == JobSpec("rgb4", "cnn_wide", grid[0], 0, 100, 40, fingerprint).job_key
  variants = [JobSpec("grey3", "cnn_wide", fixtures.GRID[0], 0, 100, 40, fingerprint),
              JobSpec("rgb4", "cnn_narrow", fixtures.GRID[0], 0, 100, 40, fingerprint),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[1], 0, 100, 40, fingerprint),
              JobSpec("rgb4", "cnn_wide", hpo_grid((0.02,), epochs=3, batch_size=16)[0], 0, 100,
                      40, fingerprint),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[0], 1, 100, 40, fingerprint),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[0], 0, 90, 40, fingerprint),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[0], 0, 100, 30, fingerprint),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[0], 0, 100, 40, "0" * 12),
              JobSpec("rgb4", "cnn_wide", fixtures.GRID[0], 0, 100, 40, fingerprint,
                      pretrained=False)]
  assert len({base.job_key} | {v.job_key for v in variants}) == 1 + len(variants)


def test_sigkill_mid_sweep_then_rerun_loses_and_duplicates_nothing(tmp_path):
  # Run from the repository root, whose `tests` package `-c` finds there (no path edits).
  child = ("from tests.finetune import fixtures\n"
           f"fixtures.sweep(__import__('pathlib').Path({str(tmp_path)!r}), "
           "factory=fixtures.slow_tiny_cnn)\n")
  env = {**os.environ, "OMP_NUM_THREADS": "1"}
  log, stderr = tmp_path / "jobs.jsonl", tmp_path / "child.stderr"
  with open(stderr, "w") as err:
    process = subprocess.Popen([sys.executable, "-c", child], cwd=fixtures.REPO, env=env,
                               stderr=err)
  deadline = time.time() + 120  # a loaded 2-core box can take long to import torch
  while not (log.exists() and log.read_text().count("\n") >= 1):
    assert process.poll() is None, f"child exited {process.returncode}: {stderr.read_text()}"
    assert time.time() < deadline, "the child logged no job within 120 s"
    time.sleep(0.01)
  process.send_signal(signal.SIGKILL)
  assert process.wait() == -signal.SIGKILL
  finished = len(fixtures.log_lines(tmp_path))
  assert 1 <= finished < 8  # killed mid-way
  counting = fixtures.CountingFactory()
  summary = fixtures.sweep(tmp_path, factory=counting)
  assert (summary.skipped, summary.executed, len(counting.calls)) == (finished, 8 - finished,
                                                                      8 - finished)
  keys = [json.loads(line)["job_key"] for line in fixtures.log_lines(tmp_path)]
  assert len(keys) == len(set(keys)) == 8
  history = pd.read_csv(tmp_path / "history.csv")
  assert len(history) == 4 and not history.duplicated(["dataset", "model"]).any()


def test_half_written_last_line_is_ignored_with_a_warning_and_rerun(tmp_path):
  fixtures.sweep(tmp_path)
  log = tmp_path / "jobs.jsonl"
  lines = log.read_bytes().splitlines(keepends=True)
  lost_key = json.loads(lines[-1])["job_key"]
  log.write_bytes(b"".join(lines[:-1]) + lines[-1][:len(lines[-1]) // 2])
  with pytest.warns(RuntimeWarning, match="half-written"):
    assert lost_key not in JobsLog(log).read()
  counting = fixtures.CountingFactory()
  with pytest.warns(RuntimeWarning, match="half-written"):
    summary = fixtures.sweep(tmp_path, factory=counting)
  assert (summary.skipped, summary.executed, summary.rows) == (7, 1, 4)
  keys = [json.loads(line)["job_key"] for line in fixtures.log_lines(tmp_path)]  # every line whole
  assert len(keys) == len(set(keys)) == 8 and lost_key in keys


def test_record_without_its_newline_counts(tmp_path):
  fixtures.sweep(tmp_path)
  log = tmp_path / "jobs.jsonl"
  log.write_bytes(log.read_bytes().rstrip(b"\n"))
  assert len(JobsLog(log).read()) == 8
  assert fixtures.sweep(tmp_path).executed == 0
  assert len(fixtures.log_lines(tmp_path)) == 8 and log.read_bytes().endswith(b"\n")


def test_duplicates_dedupe_and_conflicts_raise(tmp_path):
  fixtures.sweep(tmp_path)
  log = JobsLog(tmp_path / "jobs.jsonl")
  record = json.loads(fixtures.log_lines(tmp_path)[0])
  log.append({**record, "wall_s": record["wall_s"] + 5.0, "device": "cuda:0"})  # same result
  assert len(log.read()) == 8
  assert fixtures.sweep(tmp_path).executed == 0 and len(fixtures.history(tmp_path)) == 4
  log.append({**record, "top1": record["top1"] / 2 + 1.0})
  with pytest.raises(ValueError, match="different results"):
    log.read()
  with pytest.raises(ValueError, match="different results"):
    fixtures.sweep(tmp_path)


def test_corrupt_line_inside_the_log_raises(tmp_path):
  fixtures.sweep(tmp_path)
  log = tmp_path / "jobs.jsonl"
  lines = log.read_text().splitlines(keepends=True)
  log.write_text(lines[0][:20] + "\n" + "".join(lines[1:]))
  with pytest.raises(ValueError, match=r"jobs.jsonl:1"):
    fixtures.sweep(tmp_path)


@pytest.mark.parametrize("call, match", [
    (lambda: hpo_grid(lrs=()), "lrs"),
    (lambda: hpo_grid(lrs=(0.1,), weight_decays=()), "weight_decays"),
    (lambda: hpo_grid(lrs=(0.1, 0.1)), "repeated"),
    (lambda: hpo_grid(lrs=(0.0,)), "lr"),
    (lambda: hpo_grid(lrs=(-0.1,)), "lr"),
    (lambda: hpo_grid(lrs=(0.1,), optimizer="lion"), "optimizer"),
])
def test_bad_grid(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_bad_sweep_arguments_fail_before_any_job(tmp_path):
  counting = fixtures.CountingFactory()
  with pytest.raises(ValueError, match="grid"):
    fixtures.sweep(tmp_path, factory=counting, grid=())
  with pytest.raises(ValueError, match="HyperParams"):
    fixtures.sweep(tmp_path, factory=counting, grid=({"lr": 0.1},))
  with pytest.raises(ValueError, match="pairs"):
    fixtures.sweep(tmp_path, factory=counting, pairs=[("rgb4", "resnet50")])
  with pytest.raises(ValueError, match="pairs"):
    fixtures.sweep(tmp_path, factory=counting, pairs=[("rgb4", "cnn_wide")] * 2)
  with pytest.raises(ValueError, match="num_train"):
    fixtures.sweep(tmp_path, factory=counting, num_train=1000)
  assert counting.calls == [] and not (tmp_path / "jobs.jsonl").exists()


def test_jobs_and_context_pickle_for_remote_workers(tmp_path):
  train, val = split_train_val(fixtures.datasets()["rgb4"], 100, 40, seed=0)
  context = SweepContext({"rgb4": (train, val)}, {m.name: m for m in fixtures.MODELS},
                         fixtures.tiny_cnn, device="cpu")
  job = JobSpec("rgb4", "cnn_narrow", fixtures.GRID[1], 0, 100, 40, data_fingerprint(train, val))
  shipped_job, shipped_context = pickle.loads(pickle.dumps((job, context)))
  assert shipped_job.job_key == job.job_key
  remote = pickle.loads(pickle.dumps(run_job(shipped_job, shipped_context)))
  local = run_job(job, context)
  # Same result here or there (CPU runs are deterministic); only the timing differs.
  assert remote == dataclasses.replace(local, wall_s=remote.wall_s)


def test_history_can_be_rebuilt_from_the_log_alone(tmp_path):
  fixtures.sweep(tmp_path)
  rows = history_from_log(tmp_path / "jobs.jsonl", tmp_path / "rebuilt.csv")
  assert len(rows) == 4
  assert (tmp_path / "rebuilt.csv").read_text() == (tmp_path / "history.csv").read_text()


def test_zoo_model_info():
  info = zoo_model_info("resnet10t")
  assert (info.name, info.family, info.input_size) == ("resnet10t", "resnet", 32)
  assert info.params_m > 0 and info.gmacs > 0
  assert info.input == InputSpec(32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_process_executor_gives_the_sequential_history(tmp_path):
  fixtures.sweep(tmp_path / "sequential")
  summary = fixtures.sweep(tmp_path / "processes", executor=ProcessExecutor(2))
  assert (summary.executed, summary.rows) == (8, 4)
  sequential, processes = (pd.read_csv(tmp_path / d / "history.csv").drop(columns="wall_s")
                           for d in ("sequential", "processes"))
  pd.testing.assert_frame_equal(sequential, processes)
  with pytest.raises(ValueError, match="num_workers"):
    ProcessExecutor(0)


def test_split_is_disjoint_stratified_and_seeded():
  data = fixtures.datasets()["rgb4"]
  train, val = split_train_val(data, 100, 40, seed=0)
  assert (len(train), len(val), train.split, val.split) == (100, 40, "train", "val")
  rows = {image.tobytes() for image in train.images}
  assert not rows & {image.tobytes() for image in val.images}
  share = np.bincount(data.labels, minlength=4) / len(data)
  assert np.abs(np.bincount(val.labels, minlength=4) - 40 * share).max() <= 1
  assert val.meta["finetune_cut"] == {"seed": 0, "num_train": 100, "num_val": 40}
  assert not np.array_equal(val.labels, split_train_val(data, 100, 40, seed=1)[1].labels)
