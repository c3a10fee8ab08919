"""The fitted recommender: fit/predict split, state round trip, new datasets, preprocessing."""

import json

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax import io
from guidedrec_jax.recommender import fitted, methods, preprocess
from guidedrec_jax.recommender import train as train_lib
from tests.recommender import histories


def _history():
  # A score with a per-dataset level (H-score-like) and the right within-dataset order.
  return histories.history(4, 12, scores=("hscore",), score_level=100.0)


def _new_dataset():
  return histories.new_dataset(12, scores=("hscore",), score_level=100.0)


TRAIN = train_lib.TrainConfig(rank=2, epochs=3, batch_size=16, patience=0)


@pytest.mark.parametrize("method", [
    methods.RidgeMethod("ridge", "d,m,S", 1.0, "dataset_z", "dataset_z"),
    methods.RecommenderMethod("lr", "d,m,S", TRAIN._replace(model="lr"), "dataset_rank"),
    methods.RecommenderMethod("fm", "d,m,S", TRAIN._replace(model="fm"), "dataset_z",
                              "dataset_rank", num_seeds=2, d_interactions="id_only"),
    methods.RecommenderMethod("ffm", "d,m,S", TRAIN._replace(model="ffm"), "raw"),
], ids=lambda m: m.name)
def test_state_round_trip_predicts_bitwise_identically(method, tmp_path):
  fit = method.fit(_history())
  new = _new_dataset()
  before = fit.predict(new)
  assert before.shape == (len(new),) and np.all(np.isfinite(before))
  arrays, meta = fit.to_state()
  json.dumps(meta)  # plain JSON data
  io.save_arrays(tmp_path / "rec.npz", arrays, meta)
  loaded = fitted.Fitted.from_state(*io.load_arrays(tmp_path / "rec.npz"))
  np.testing.assert_array_equal(loaded.predict(new), before)
  assert loaded.kind == fit.kind and loaded.preprocess == fit.preprocess


def test_fit_predict_is_fit_then_predict_and_ensemble_is_member_mean():
  history = _history()
  train, test = history[history.dataset != "d0"], history[history.dataset == "d0"]
  method = methods.RecommenderMethod("fm", "d,m", TRAIN, num_seeds=2)
  fit = method.fit(train)
  np.testing.assert_array_equal(method.fit_predict(train, test), fit.predict(test))
  assert fit.num_members == 2
  singles = [methods.RecommenderMethod("fm", "d,m", TRAIN._replace(seed=s)).fit(train)
             for s in (0, 1)]
  np.testing.assert_allclose(fit.predict(test), np.mean([f.predict(test) for f in singles], 0),
                             rtol=1e-6)


def test_predict_normalises_scores_within_the_frame_datasets():
  """A new dataset's score level (H-score-like) does not move its predictions."""
  fit = methods.RidgeMethod("ridge", "S", 1.0, "dataset_z", "dataset_z").fit(_history())
  new = _new_dataset()
  shifted = new.assign(ms_hscore=new["ms_hscore"] + 1e4)
  np.testing.assert_allclose(fit.predict(shifted), fit.predict(new), atol=1e-9)
  # Predicting the dataset alone or beside another gives the same values.
  both = pd.concat([new, shifted.assign(dataset="other")], ignore_index=True)
  np.testing.assert_allclose(fit.predict(both)[:len(new)], fit.predict(new), atol=1e-9)
  # ...and the learned score ranks the models like the planted quality.
  quality = new["ms_hscore"].to_numpy()
  assert np.corrcoef(fit.predict(new), quality)[0, 1] > 0.99


def test_from_state_refuses_mismatches():
  arrays, meta = methods.RecommenderMethod("fm", "d,m", TRAIN).fit(_history()).to_state()
  with pytest.raises(ValueError, match="version"):
    fitted.Fitted.from_state(arrays, {**meta, "fitted_state_version": 99})
  with pytest.raises(ValueError, match="param_v"):
    fitted.Fitted.from_state({k: v for k, v in arrays.items() if k != "param_v"}, meta)
  with pytest.raises(ValueError, match="kind"):
    fitted.Fitted.from_state(arrays, {**meta, "kind": "svm"})
  with pytest.raises(ValueError, match="w"):
    fitted.Fitted.from_state({**arrays, "param_w": arrays["param_w"][:, :-1]}, meta)
  with pytest.raises(ValueError, match="shape"):
    fitted.Fitted.from_state(arrays, {**meta, "kind": "ffm"})
  with pytest.raises(ValueError, match="members"):
    fitted.Fitted.from_state(arrays, {**meta, "num_members": 3})
  with pytest.raises(ValueError, match="target"):
    fitted.Fitted.from_state(arrays, {**meta, "preprocess": {"target": "log",
                                                             "score_norm": "global_z"}})
  with pytest.raises(ValueError, match="FeatureEncoder state"):
    fitted.Fitted.from_state(arrays, {**meta, "encoder": {}})


def test_ridge_checks_its_penalty_and_seeds():
  with pytest.raises(ValueError, match="l2 must be > 0"):
    methods.RidgeMethod("r", "d,m", l2=0.0).fit(_history())
  with pytest.raises(ValueError, match="num_seeds must be >= 1"):
    methods.RecommenderMethod("fm", "d,m", TRAIN, num_seeds=0).fit(_history())


def test_preprocess_targets_and_score_signs():
  frame = pd.DataFrame({"dataset": ["a"] * 3 + ["b"] * 3, "top1": [1.0, 2, 4, 10, 10, 10],
                        "ms_ncti_vc": [3.0, 2, 1, 5, 6, np.nan], "ms_mine": [1.0, 2, 3, 4, 5, 6]})
  declared = (("mine", -1.0),)
  z = preprocess.Preprocess("dataset_z", "dataset_z", declared).training_rows(frame)
  a = np.array([1.0, 2, 4])
  np.testing.assert_allclose(z["top1"][:3], (a - a.mean()) / a.std())
  np.testing.assert_array_equal(z["top1"][3:], 0.0)  # a constant dataset
  # ncti_vc is lower-is-better in the registry: signed, then z-scored within each dataset.
  np.testing.assert_allclose(z["ms_ncti_vc"][:3], [-1.2247449, 0, 1.2247449], rtol=1e-6)
  assert np.isnan(z["ms_ncti_vc"][5])
  rank = preprocess.Preprocess("dataset_rank", "dataset_rank", declared).training_rows(frame)
  np.testing.assert_allclose(rank["top1"][:3], [-1.2247449, 0, 1.2247449], rtol=1e-6)
  raw = preprocess.Preprocess(signs=declared).training_rows(frame)
  np.testing.assert_array_equal(raw["ms_ncti_vc"], -frame["ms_ncti_vc"])
  np.testing.assert_array_equal(raw["ms_mine"], -frame["ms_mine"])  # declared lower-is-better
  assert preprocess.score_sign("ncti_vc") == -1.0 and preprocess.score_sign("logme") == 1.0
  # A declaration overrides the registry; an undeclared unregistered score is refused.
  assert preprocess.score_sign("logme", {"logme": -1.0}) == -1.0
  with pytest.raises(ValueError, match="'mine' is not a registered score.*mine=numeric:S:-"):
    preprocess.Preprocess().training_rows(frame)
  with pytest.raises(ValueError, match="target must be one of"):
    preprocess.Preprocess("log")
  with pytest.raises(ValueError, match="signs must map"):
    preprocess.Preprocess(signs=(("mine", 2.0),))


def test_preprocess_json_round_trip():
  choice = preprocess.Preprocess("dataset_rank", "global_z", (("otce", -1.0),))
  assert preprocess.Preprocess.from_json(json.loads(json.dumps(choice.to_json()))) == choice
  with pytest.raises(ValueError, match="not a Preprocess state"):
    preprocess.Preprocess.from_json({"target": "raw"})
