"""The fitted recommender: fit/predict split, state round trip, new datasets, config builder."""

import json

import ml_collections
import numpy as np
import pandas as pd
import pytest

from guidedrec_jax import io
from guidedrec_jax.recommender import fitted, methods, preprocess
from guidedrec_jax.recommender import train as train_lib


def _history(num_datasets=4, num_models=12, seed=0):
  rng = np.random.default_rng(seed)
  quality = rng.normal(size=num_models)
  rows = []
  for d in range(num_datasets):
    level = rng.uniform(40, 90)
    for m in range(num_models):
      rows.append({"dataset": f"d{d}", "model": f"m{m}",
                   "top1": level + 5 * quality[m] + rng.normal(scale=0.5),
                   "num_train": 1000 * (d + 1), "num_classes": 10 + d,
                   "family": "resnet" if m % 2 else "vit", "input_size": 224,
                   "params_m": 1.0 + m, "gmacs": 0.5 + m, "pretrain_domain": "in1k",
                   # A score with a per-dataset level and the right within-dataset order.
                   "ms_hscore": 100 * d + quality[m] + rng.normal(scale=0.1)})
  return pd.DataFrame(rows)


def _new_dataset(num_models=12):
  """All zoo models on an unseen dataset, plus one model with no history at all."""
  frame = _history(num_datasets=1, num_models=num_models, seed=5).drop(columns="top1")
  extra = frame.iloc[:1].assign(model="brand_new", family="convnext", params_m=7.5)
  return pd.concat([frame, extra], ignore_index=True).assign(dataset="unseen",
                                                             num_train=777, num_classes=33)


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


def test_method_from_config_builds_each_kind():
  block = methods.default_method_config()
  block.update(dict(model="ridge", fields="d,m", ridge_l2=2.0))
  ridge = methods.method_from_config(block)
  assert isinstance(ridge, methods.RidgeMethod) and ridge.l2 == 2.0
  fm = methods.method_from_config({"model": "fm", "num_seeds": 3, "train": {"rank": 5}}, seed=7)
  assert isinstance(fm, methods.RecommenderMethod) and fm.name == "FM (d,m)"
  assert (fm.config.rank, fm.config.seed, fm.num_seeds) == (5, 7, 3)
  assert fm.target == "dataset_z" and fm.score_norm == "dataset_z"
  assert isinstance(methods.method_from_config(ml_collections.ConfigDict({"model": "lr"})),
                    methods.RecommenderMethod)
  with pytest.raises(ValueError, match="unknown keys.*'modle'"):
    methods.method_from_config({"modle": "fm"})
  with pytest.raises(ValueError, match="train has unknown keys.*'rnak'"):
    methods.method_from_config({"train": {"rnak": 3}})
  with pytest.raises(ValueError, match="model must be one of"):
    methods.method_from_config({"model": "svm"})
  with pytest.raises(ValueError, match="score_norm"):
    methods.method_from_config({"score_norm": "minmax"})


def test_preprocess_targets_and_score_signs():
  frame = pd.DataFrame({"dataset": ["a"] * 3 + ["b"] * 3, "top1": [1.0, 2, 4, 10, 10, 10],
                        "ms_ncti_vc": [3.0, 2, 1, 5, 6, np.nan], "ms_mine": [1.0, 2, 3, 4, 5, 6]})
  z = preprocess.Preprocess("dataset_z", "dataset_z").training_rows(frame)
  a = np.array([1.0, 2, 4])
  np.testing.assert_allclose(z["top1"][:3], (a - a.mean()) / a.std())
  np.testing.assert_array_equal(z["top1"][3:], 0.0)  # a constant dataset
  # ncti_vc is lower-is-better in the registry: signed, then z-scored within each dataset.
  np.testing.assert_allclose(z["ms_ncti_vc"][:3], [-1.2247449, 0, 1.2247449], rtol=1e-6)
  assert np.isnan(z["ms_ncti_vc"][5])
  rank = preprocess.Preprocess("dataset_rank", "dataset_rank").training_rows(frame)
  np.testing.assert_allclose(rank["top1"][:3], [-1.2247449, 0, 1.2247449], rtol=1e-6)
  raw = preprocess.Preprocess().training_rows(frame)
  np.testing.assert_array_equal(raw["ms_ncti_vc"], -frame["ms_ncti_vc"])
  np.testing.assert_array_equal(raw["ms_mine"], frame["ms_mine"])  # unknown: higher is better
  assert preprocess.score_sign("ncti_vc") == -1.0 and preprocess.score_sign("logme") == 1.0
  with pytest.raises(ValueError, match="target must be one of"):
    preprocess.Preprocess("log")
