"""Nested selection: inner folds never see the outer test rows; grids; the tree baseline."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import methods, protocols, selection


def _history(num_datasets=4, num_models=10, seed=0):
  rng = np.random.default_rng(seed)
  quality = rng.normal(size=num_models)
  rows = []
  for d in range(num_datasets):
    for m in range(num_models):
      rows.append({"dataset": f"d{d}", "model": f"m{m}",
                   "top1": 50 + 10 * d + 5 * quality[m] + rng.normal(scale=0.3),
                   "num_train": 1000 * (d + 1), "num_classes": 10 + d, "family": "f",
                   "input_size": 224, "params_m": 1.0 + m, "gmacs": 1.0,
                   "pretrain_domain": "in1k", "ms_x": quality[m] + rng.normal(scale=0.01)})
  return pd.DataFrame(rows)


class Spy:
  """A candidate that records the datasets it was fitted on; predicts a fixed column."""

  def __init__(self, name, column):
    self.name, self.column, self.seen = name, column, []

  def fit(self, train):
    self.seen.append(sorted(train["dataset"].unique()))
    ridge = methods.RidgeMethod(self.name, self.column, 1e-6, "dataset_z", "dataset_z")
    return ridge.fit(train)

  def fit_predict(self, train, test):
    return self.fit(train).predict(test)


def test_selection_picks_the_informative_candidate_without_seeing_the_test_dataset():
  history = _history()
  good, bad = Spy("good", "S_x"), Spy("bad", "params")
  chooser = selection.SelectedMethod("sel", [bad, good])
  results = protocols.setting3(history, [chooser])
  assert [c["chosen"] for c in chooser.choices] == ["good"] * 4
  for choice in chooser.choices:
    assert choice["inner"]["good"] > choice["inner"]["bad"]
  # Every fit (inner and final) of outer fold k excluded dataset k.
  for k, held_out in enumerate(sorted(history["dataset"].unique())):
    fits = good.seen[k * 4:(k + 1) * 4]  # 3 inner fits, then the refit on all 3
    assert all(held_out not in seen for seen in fits)
    assert len(fits[-1]) == 3 and all(len(seen) == 2 for seen in fits[:-1])
  assert results["pearson"].mean() > 0.99


def test_inner_folds_of_one_dataset_split_its_models():
  history = _history(num_datasets=1, num_models=12)
  splits = selection._inner_splits(history, 3, seed=0)
  assert len(splits) == 3
  assert sorted(np.concatenate([v for _, v in splits])) == list(range(12))
  for fit_rows, val_rows in splits:
    assert not set(fit_rows) & set(val_rows)


def test_grid_blocks_and_build_selected():
  blocks = selection.grid_blocks({"model": "fm", "train": {"rank": 4}},
                                 {"train": {"l2": (0.1, 1.0)}, "target": ("raw", "dataset_z")})
  assert len(blocks) == 4 and blocks[0]["train"] == {"rank": 4, "l2": 0.1}
  assert blocks[-1]["target"] == "dataset_z" and "l2=1.0" in blocks[-1]["name"]
  config = selection.default_selection_config()
  config.models = ("fm", "ridge")
  chosen = selection.build_selected(config, {"epochs": 2}, seed=3)
  assert [c.name for c in chosen] == ["FM (d,m) selected", "RIDGE (d,m) selected"]
  assert len(chosen[0].candidates) == 8 and chosen[0].candidates[0].config.seed == 3
  assert {c.l2 for c in chosen[1].candidates} == {0.1, 1.0, 10.0}
  config.with_linear = True
  linear = selection.build_selected(config, {"epochs": 2}, seed=3)[0].candidates[-2:]
  history = _history()
  mean = protocols.HistoryMeanBaseline().fit_predict(history[history.dataset != "d0"],
                                                     history[history.dataset == "d0"])
  ridge_mean = linear[0].fit_predict(history[history.dataset != "d0"],
                                     history[history.dataset == "d0"])
  np.testing.assert_allclose(ridge_mean, mean, atol=1e-3)  # the model mean, as a Fitted
  with pytest.raises(ValueError, match="metric"):
    selection.SelectedMethod("x", chosen[0].candidates, metric="r2")


def test_tree_baseline_ranks_a_planted_score():
  history = _history(num_models=30)
  train, test = history[history.dataset != "d0"], history[history.dataset == "d0"]
  predicted = selection.TreeMethod("trees", "m,S", max_iter=50).fit_predict(train, test)
  assert np.corrcoef(predicted, test["top1"])[0, 1] > 0.9
