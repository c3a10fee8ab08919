"""Protocols: splits never leak test rows into training; every caller sees the same folds;
methods are ranked as they should be; the top-1 error."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.benchmark import recommend, regret
from guidedrec_jax.recommender import baselines, blend, metrics, protocols, registry
from guidedrec_jax.recommender import train as train_lib
from tests.recommender import histories


def _history(num_datasets=3, num_models=20, seed=0):
  """Accuracy = dataset level + 5 log10(params) + family bonus + noise."""
  return histories.history(num_datasets, num_models, seed, truth="params", noise=0.1,
                           levels=[40 + 10 * d for d in range(num_datasets)])


class _Predictor:
  def __init__(self, calls, train, column):
    self.calls, self.train, self.column = calls, train, column

  def predict(self, frame):
    self.calls.append((self.train, frame.copy()))
    return frame[self.column].to_numpy(np.float64)


@dataclasses.dataclass
class Oracle:
  """Reads the truth of the rows it predicts; records what it was trained and tested on."""
  name: str = "oracle"
  column: str = "top1"
  calls: list = dataclasses.field(default_factory=list)

  def fit(self, train):
    return _Predictor(self.calls, train.copy(), self.column)


class Recorder:
  """Records the datasets of every training set it is fitted on; predicts a size column."""

  def __init__(self, name="recorder"):
    self.name, self.seen = name, []

  def fit(self, train):
    self.seen.append(sorted(train["dataset"].unique()))
    return Oracle(column="params_m").fit(train)


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
    assert _keys(test) == _keys(test2) and _keys(train) == _keys(train2)  # the same split
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
  assert len(oracle.calls) == 3
  for train, test in oracle.calls:
    assert set(test["dataset"]).isdisjoint(train["dataset"]) and len(set(test["dataset"])) == 1
    assert len(train) == 40 and len(test) == 20


def test_every_caller_sees_the_same_folds():
  """setting 3, regret@k, `recommend.py --task` and a blend's inner folds all fit on the
  training datasets `protocols.dataset_folds` gives."""
  history = histories.history(5, 6, seed=1)
  datasets = sorted(history["dataset"].unique())

  def folds(frame):
    return {f.held_out: sorted(frame["dataset"].iloc[f.train].unique())
            for f in protocols.dataset_folds(frame.reset_index(drop=True))}

  want = folds(history)
  assert want["d3"] == ["d0", "d1", "d2", "d4"] and list(want) == datasets
  recorder = Recorder()
  protocols.setting3(history, [recorder])
  assert dict(zip(datasets, recorder.seen)) == want
  recorder = Recorder()
  regret.leave_one_task_out(history, [recorder], (1, 3))
  assert dict(zip(datasets, recorder.seen)) == want
  recorder = Recorder()
  table = recommend.rank_task(history, "d3", recorder)
  assert recorder.seen == [want["d3"]] and set(table["model"]) == set(history["model"])
  # A blend member: fitted on each inner fold of the blend's training rows, then on all.
  recorder = Recorder()
  train = history[history["dataset"] != "d3"].reset_index(drop=True)
  method = blend.BlendMethod("b", [recorder, registry.build(dict(type="model_mean"))],
                             ["recorder", "mean"], max_inner_folds=100)
  method.fit(train)
  inner = folds(train)
  assert dict(zip(sorted(inner), recorder.seen[:-1])) == inner and len(recorder.seen) == 5
  assert recorder.seen[-1] == want["d3"]
  # ...and a blend inside setting 3: no fit of outer fold k ever sees dataset k.
  recorder = Recorder()
  method = blend.BlendMethod("b", [recorder], ["recorder"], max_inner_folds=100)
  protocols.setting3(history, [method])
  for k, held_out in enumerate(datasets):
    fits = recorder.seen[k * 5:(k + 1) * 5]  # 4 inner fits, then the refit on all 4
    assert all(held_out not in seen for seen in fits)
    assert fits[-1] == want[held_out] and all(len(seen) == 3 for seen in fits[:-1])


def test_fold_lists():
  history = _history(num_datasets=5, num_models=4)
  drawn = protocols.dataset_folds(history, max_folds=3, seed=1)
  assert len(drawn) == 3 and [f.held_out for f in drawn] == sorted(f.held_out for f in drawn)
  assert [f.held_out for f in drawn] == [
      f.held_out for f in protocols.dataset_folds(history, max_folds=3, seed=1)]
  draws = {tuple(f.held_out for f in protocols.dataset_folds(history, max_folds=3, seed=s))
           for s in range(4)}
  assert len(draws) > 1  # the seed draws the datasets
  for fold in drawn:
    assert set(history["dataset"].iloc[fold.test]) == {fold.held_out}
    assert fold.held_out not in set(history["dataset"].iloc[fold.train])
    assert len(fold.train) + len(fold.test) == len(history)
  one = _history(num_datasets=1, num_models=12)
  splits = protocols.inner_folds(one, num_model_folds=3)
  assert len(splits) == 3
  assert sorted(np.concatenate([f.test for f in splits])) == list(range(12))
  for fold in splits:
    assert not set(fold.train) & set(fold.test) and len(fold.train) + len(fold.test) == 12
  assert [f.held_out for f in protocols.inner_folds(history)] == [f"d{i}" for i in range(5)]
  with pytest.raises(ValueError, match="num_folds"):
    protocols.model_folds(one, 13)


def test_baselines_and_ridge_rank_as_expected():
  history = _history()
  methods = [registry.build(dict(type="column", column="params_m", name="params")),
             registry.build(dict(type="column", column="params_m", sign=-1.0, name="-params")),
             registry.build(dict(type="ridge", fields="d,m", l2=0.1)),
             registry.build(dict(type="ridge", fields="ids only=dataset_id,model_id", l2=0.1))]
  summary = protocols.summarize(protocols.setting1(history, "d0", methods, repeats=3))
  pearson = summary.set_index("method")["pearson_mean"]
  assert pearson["ridge (d,m)"] > 0.99  # the truth is linear in the encoded fields
  assert pearson["params"] == pytest.approx(-pearson["-params"]) and pearson["params"] > 0.3
  assert abs(pearson["ridge (ids only)"]) < 1e-6  # unseen model IDs: no information
  summary3 = protocols.summarize(protocols.setting3(history, methods[2:3]))
  assert summary3["pearson_mean"].item() > 0.99 and summary3["num_datasets"].item() == 3


def test_recommender_method_learns_and_keeps_its_last_fit():
  history = _history(num_models=30)
  method = registry.build(dict(type="fm", fields="d,m", target="raw", score_norm="global_z",
                               train=dict(rank=2, learning_rate=0.05, epochs=60,
                                          batch_size=32, patience=0)))
  assert method.config == train_lib.TrainConfig(
      model="fm", rank=2, learning_rate=0.05, epochs=60, batch_size=32, patience=0,
      **{k: v for k, v in registry.DEFAULTS["fm"]["train"].items()
         if k not in ("rank", "learning_rate", "epochs", "batch_size", "patience")})
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
    protocols.setting2(history, ["d0"], ["d1"],
                       [registry.build(dict(type="column", column="ms_x", sign=1.0))])
  with pytest.raises(ValueError, match="at least 2 datasets"):
    protocols.setting3(history[history.dataset == "d0"], [Oracle()])
  with pytest.raises(ValueError, match="summary|empty"):
    protocols.summarize(pd.DataFrame())


def test_model_mean_uses_standardised_training_accuracy():
  train = pd.DataFrame({"dataset": ["a", "a", "a", "b", "b", "b"],
                        "model": ["x", "y", "z", "x", "y", "z"],
                        "top1": [10.0, 20.0, 30.0, 90.0, 50.0, 70.0]})
  test = pd.DataFrame({"dataset": "c", "model": ["x", "y", "z", "new"], "top1": 0.0})
  fitted = registry.build(dict(type="model_mean")).fit(train)
  # z-scores: a -> (-1.22, 0, 1.22), b -> (1.22, -1.22, 0); means (0, -0.61, 0.61); new: median.
  np.testing.assert_allclose(fitted.predict(test), [0.0, -0.6124, 0.6124, 0.0], atol=1e-4)
  # Its top-1: the mean raw top-1 over the training datasets; a new model the median.
  np.testing.assert_allclose(fitted.predict_top1(test), [50.0, 35.0, 50.0, 50.0])
  with pytest.raises(ValueError, match="top1"):
    baselines.ModelMeanMethod().fit(train.drop(columns="top1"))


def test_setting3_mae_of_the_model_mean_is_its_mean_top1_error():
  history = histories.history(4, 6, seed=2)
  methods = [registry.build(dict(type="model_mean")),
             registry.build(dict(type="column", column="ms_logme"))]
  results = protocols.setting3(history, methods).set_index(["method", "dataset"])
  for dataset, rows in history.groupby("dataset"):
    others = history[history["dataset"] != dataset].groupby("model")["top1"].mean()
    want = np.mean(np.abs(others[rows["model"]].to_numpy() - rows["top1"].to_numpy()))
    assert results.loc[("model mean", dataset), "mae"] == pytest.approx(want, rel=1e-12)
    assert np.isnan(results.loc[("S_logme", dataset), "mae"])  # no top-1 prediction
  summary = protocols.summarize(results.reset_index()).set_index("method")
  assert summary.loc["model mean", "mae_mean"] == pytest.approx(
      results.loc["model mean", "mae"].mean())


def test_dataset_z_targets_weigh_datasets_equally():
  history = _history()
  z = pd.Series(baselines.dataset_z(history)).groupby(history["dataset"])
  np.testing.assert_allclose(z.mean(), 0.0, atol=1e-9)
  np.testing.assert_allclose(z.std(ddof=0), 1.0)
  ridge = registry.build(dict(type="ridge", fields="d,m", l2=0.1, target="dataset_z"))
  assert protocols.summarize(protocols.setting3(history, [ridge]))["pearson_mean"].item() > 0.99
  assert metrics.METRICS[-1] == "mae"
  with pytest.raises(ValueError, match="target"):
    registry.build(dict(type="ridge", target="rank")).fit(history)
