"""Regret@k leave one task out: planted rankings, brute force, and the written outputs."""

import itertools

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.benchmark import regret
from tests.recommend.test_saved import BLOCK, history


def test_planted_rankings_against_brute_force():
  frame = history(num_datasets=3, num_models=6)
  oracle = lambda train, test: test["top1"].to_numpy()
  reverse = lambda train, test: -test["top1"].to_numpy()
  per_task = regret.leave_one_task_out(frame, {"oracle": oracle, "reverse": reverse}, (1, 3, 6))
  assert (per_task[per_task["method"] == "oracle"]["regret"] == 0).all()
  for task, rows in frame.groupby("dataset"):
    top = np.sort(rows["top1"].to_numpy())
    for k in (1, 3):
      got = per_task.query("method == 'reverse' and task == @task and k == @k")["regret"].item()
      assert got == pytest.approx(top[-1] - max(top[:k]))  # the k worst models chosen
  summary = regret.summarize(per_task)
  assert list(summary.columns) == ["method", "regret@1", "regret@3", "regret@6"]
  assert summary.set_index("method").loc["reverse", "regret@6"] == 0.0


def test_method_table_and_outputs(tmp_path):
  import ml_collections
  frame = history(num_datasets=3, num_models=5)
  recommender = ml_collections.ConfigDict(dict(method=BLOCK, seeds=(0, 1)))
  table = regret.method_table(frame, recommender)
  assert list(table) == ["FM (d,m,S_logme), 2 seeds", "model mean (train)",
                         "similar datasets (tau=1)", "S_logme"]
  per_task = regret.leave_one_task_out(frame, table)
  assert len(per_task) == 3 * 4 * len(regret.KS) and (per_task["regret"] >= 0).all()
  summary = regret.summarize(per_task)
  regret.plot_regret(summary, tmp_path / "r.png", "t")
  assert (tmp_path / "r.png").stat().st_size > 0


def test_rejects_a_single_task():
  with pytest.raises(ValueError, match=">= 2 tasks"):
    regret.leave_one_task_out(history(num_datasets=1), {})
