"""Protocols: splits never leak test rows into training; methods are ranked as they should be."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import protocols
from guidedrec_jax.recommender import train as train_lib


def _history(num_datasets=3, num_models=20, seed=0):
  """Synthetic history: accuracy = dataset level + 5·log10(params) + family bonus + noise."""
  rng = np.random.default_rng(seed)
  params = 10 ** rng.uniform(0, 3, num_models)
  family = np.where(np.arange(num_models) % 2 == 0, "resnet", "vit")
  rows = []
  for d in range(num_datasets):
    top1 = 40 + 10 * d + 5 * np.log10(params) + 3 * (family == "vit") + rng.normal(0, 0.1,
                                                                                  num_models)
    rows.append(pd.DataFrame({
        "dataset": f"d{d}", "model": [f"m{i}" for i in range(num_models)], "top1": top1,
        "num_train": 1000 * (d + 1), "num_classes": 10 * (d + 1), "family": family,
        "input_size": 224, "params_m": params, "gmacs": params / 10, "pretrain_domain": "in1k"}))
  return pd.concat(rows, ignore_index=True)


@dataclasses.dataclass
class Oracle:
  """Reads the truth of the test rows; records what it was trained and tested on."""
  name: str = "oracle"
  calls: list = dataclasses.field(default_factory=list)

  def fit_predict(self, train, test):
    self.calls.append((train.copy(), test.copy()))
    return test["top1"].to_numpy()


def _keys(frame):
  return set(zip(frame["dataset"], frame["model"]))


def test_setting1_splits_are_disjoint_seeded_and_shared():
  history = _history(num_datasets=2)
  first, second = Oracle(), Oracle("oracle2")
  results = protocols.setting1(history, "d1", [first, second], repeats=4, seed=7)
  assert len(results) == 8 and np.allclose(results["pearson"], 1.0)
  tests = []
  for (train, test), (train2, test2) in zip(first.calls, second.calls):
    assert not _keys(train) & _keys(test) and set(train["dataset"]) == {"d1"}
    assert len(test) == 4 and len(train) == 16
    assert _keys(test) == _keys(test2)  # every method sees the same split
    tests.append(frozenset(_keys(test)))
  assert len(set(tests)) == 4  # different splits per repeat
  again = Oracle()
  protocols.setting1(history, "d1", [again], repeats=1, seed=7)
  assert _keys(again.calls[0][1]) == set(tests[0])


def test_setting2_and_setting3_hold_datasets_out():
  history = _history()
  oracle = Oracle()
  results = protocols.setting2(history, ["d0"], ["d1", "d2"], [oracle])
  assert set(oracle.calls[0][0]["dataset"]) == {"d0"}
  assert set(results["dataset"]) == {"d1", "d2"}
  with pytest.raises(ValueError, match="overlap"):
    protocols.setting2(history, ["d0", "d1"], ["d1"], [oracle])
  oracle = Oracle()
  results = protocols.setting3(history, [oracle])
  assert list(results["dataset"]) == ["d0", "d1", "d2"]
  for train, test in oracle.calls:
    assert set(test["dataset"]).isdisjoint(train["dataset"]) and len(set(test["dataset"])) == 1


def test_baselines_and_ridge_rank_as_expected():
  history = _history()
  methods = [protocols.ColumnBaseline("params", "params_m"),
             protocols.ColumnBaseline("-params", "params_m", sign=-1.0),
             protocols.RidgeMethod("ridge", "d,m", l2=0.1),
             protocols.RidgeMethod("ridge ids only", "dataset_id,model_id", l2=0.1)]
  summary = protocols.summarize(protocols.setting1(history, "d0", methods, repeats=3))
  pearson = summary.set_index("method")["pearson_mean"]
  assert pearson["ridge"] > 0.99  # the truth is linear in the encoded fields
  assert pearson["params"] == pytest.approx(-pearson["-params"])
  assert abs(pearson["ridge ids only"]) < 1e-6  # unseen model IDs: no information
  summary3 = protocols.summarize(protocols.setting3(history, methods[2:3]))
  assert summary3["pearson_mean"].item() > 0.99 and summary3["num_datasets"].item() == 3


def test_recommender_method_learns_and_keeps_its_last_fit():
  history = _history(num_models=30)
  config = train_lib.TrainConfig(model="fm", rank=2, learning_rate=0.05, epochs=60,
                                 batch_size=32, patience=0)
  method = protocols.RecommenderMethod("fm", "d,m", config)
  summary = protocols.summarize(protocols.setting3(history, [method], datasets=["d2"]))
  assert summary["pearson_mean"].item() > 0.9
  encoder, fit = method.last_fit
  assert fit.params["v"].shape == (encoder.num_features, 2)


def test_bad_arguments_raise():
  history = _history()
  with pytest.raises(ValueError, match="dataset"):
    protocols.setting1(history, "nope", [Oracle()])
  with pytest.raises(ValueError, match="distinct"):
    protocols.setting3(history, [Oracle(), Oracle()])
  with pytest.raises(ValueError, match="methods"):
    protocols.setting3(history, [])
  with pytest.raises(ValueError, match="too few"):
    protocols.setting1(history.iloc[:2], "d0", [Oracle()])
  with pytest.raises(ValueError, match="column 'ms_x'"):
    protocols.setting2(history, ["d0"], ["d1"], [protocols.ColumnBaseline("x", "ms_x")])


def test_history_mean_baseline_uses_standardised_training_accuracy():
  train = pd.DataFrame({"dataset": ["a", "a", "a", "b", "b", "b"],
                        "model": ["x", "y", "z", "x", "y", "z"],
                        "top1": [10.0, 20.0, 30.0, 90.0, 50.0, 70.0]})
  test = pd.DataFrame({"dataset": "c", "model": ["x", "y", "z", "new"], "top1": 0.0})
  predicted = protocols.HistoryMeanBaseline().fit_predict(train, test)
  # z-scores: a -> (-1.22, 0, 1.22), b -> (1.22, -1.22, 0); means (0, -0.61, 0.61); new: median.
  np.testing.assert_allclose(predicted, [0.0, -0.6124, 0.6124, 0.0], atol=1e-4)


def test_dataset_z_targets_weigh_datasets_equally():
  history = _history()
  z = protocols.standardize_within_datasets(history)
  per_dataset = z.groupby("dataset")["top1"]
  np.testing.assert_allclose(per_dataset.mean(), 0.0, atol=1e-9)
  np.testing.assert_allclose(per_dataset.std(ddof=0), 1.0)
  ridge = protocols.RidgeMethod("ridge z", "d,m", l2=0.1, target="dataset_z")
  assert protocols.summarize(protocols.setting3(history, [ridge]))["pearson_mean"].item() > 0.99
  with pytest.raises(ValueError, match="target"):
    protocols.RidgeMethod("r", "d,m", target="rank").fit_predict(history, history)
