"""Regret@k leave one task out: planted rankings, brute force, and the written outputs."""

import numpy as np
import pytest

from guidedrec_jax.benchmark import regret
from guidedrec_jax.recommender import metrics
from tests import images
from tests.recommender import histories


class _Column:
  """Predicts `sign * column` of the rows it ranks (the truth itself for `top1`)."""

  def __init__(self, name, column, sign=1.0):
    self.name, self.column, self.sign = name, column, sign

  def fit(self, train):
    del train
    return self

  def predict(self, frame):
    return self.sign * frame[self.column].to_numpy(np.float64)


def test_planted_rankings_against_brute_force():
  frame = histories.history(3, 6)
  methods = [_Column("oracle", "top1"), _Column("reverse", "top1", -1.0)]
  per_task = regret.leave_one_task_out(frame, methods, (1, 3, 6))
  assert len(per_task) == 2 * 3 * 3
  assert (per_task[per_task["method"] == "oracle"]["regret"] == 0).all()
  for task, rows in frame.groupby("dataset"):
    top = np.sort(rows["top1"].to_numpy())
    for k in (1, 3):
      got = per_task.query("method == 'reverse' and task == @task and k == @k")["regret"].item()
      assert got == pytest.approx(top[-1] - max(top[:k]))  # the k worst models chosen
      assert got > 0
  summary = regret.summarize(per_task)
  assert list(summary.columns) == ["method", "regret@1", "regret@3", "regret@6"]
  assert summary.set_index("method").loc["reverse", "regret@6"] == 0.0


def test_method_table_and_outputs(tmp_path):
  frame = histories.history(3, 5, scores=("logme", "ncti_vc"))
  block = dict(type="blend", members=[dict(type="model_mean"),
                                      dict(type="column", column="ms_logme")])
  table = regret.method_table(frame, block)
  assert [m.name for m in table] == ["recommender", "model mean", "similar datasets (tau=1)",
                                     "S_logme", "S_ncti_vc"]
  assert table[-1].sign == -1.0  # ncti_vc: lower is better (the scores registry)
  per_task = regret.leave_one_task_out(frame, table)
  assert len(per_task) == 3 * 5 * len(regret.KS)
  # The raw-score rows against brute force: each task ranked by its signed score alone.
  for name, column, sign in (("S_logme", "ms_logme", 1.0), ("S_ncti_vc", "ms_ncti_vc", -1.0)):
    for task, rows in frame.groupby("dataset"):
      for k in regret.KS:
        want = metrics.topk_regret(sign * rows[column].to_numpy(), rows["top1"].to_numpy(), k)
        got = per_task.query("method == @name and task == @task and k == @k")["regret"].item()
        assert got == pytest.approx(want, abs=1e-12)
  # The model mean against brute force: the mean z-scored top-1 on the other tasks.
  for task, rows in frame.groupby("dataset"):
    others = frame[frame["dataset"] != task]
    z = others.groupby("dataset")["top1"].transform(lambda s: (s - s.mean()) / s.std(ddof=0))
    mean = z.groupby(others["model"]).mean()[rows["model"]].to_numpy()
    want = metrics.topk_regret(mean, rows["top1"].to_numpy(), 1)
    got = per_task.query("method == 'model mean' and task == @task and k == 1")["regret"]
    assert got.item() == pytest.approx(want, abs=1e-12)
  summary = regret.summarize(per_task)
  assert summary.set_index("method").loc["S_logme", "regret@5"] == 0.0  # 5 models, k = 5
  regret.plot_regret(summary, tmp_path / "r.png", "t")
  images.assert_drawn(tmp_path / "r.png")


def test_method_table_refuses_an_undeclared_score():
  frame = histories.history(3, 5, scores=("otce",))
  with pytest.raises(ValueError, match="otce=numeric:S:-"):
    regret.method_table(frame, dict(type="model_mean"))
  table = regret.method_table(frame, dict(type="model_mean"), "otce=numeric:S:-")
  assert table[3].name == "S_otce" and table[3].sign == -1.0
  # The declaration gives a direction; it adds no `otce` row (the history has no such column).
  assert [m.name for m in table] == ["recommender", "model mean", "similar datasets (tau=1)",
                                     "S_otce"]


def test_rejects_a_single_task_and_bad_ks():
  with pytest.raises(ValueError, match=">= 2 tasks"):
    regret.leave_one_task_out(histories.history(1, 4), [])
  with pytest.raises(ValueError, match="ks must be positive"):
    regret.leave_one_task_out(histories.history(2, 4), [_Column("o", "top1")], (0, 1))
