"""The registry: every block type builds, fits, saves and reloads to identical predictions;
bad blocks are refused naming the key; labels; score directions; the trees' own predictor."""

import json

import ml_collections
import numpy as np
import pytest
from sklearn import ensemble

from guidedrec_jax import io
from guidedrec_jax.recommender import baselines, blend, methods, neighbors, registry, state
from guidedrec_jax.recommender import trees
from guidedrec_jax.recommender.preprocess import Preprocess
from guidedrec_jax.scores import registry as scores_registry
from tests.recommender import histories

TRAIN = dict(epochs=3, batch_size=16, rank=2, patience=0)
BLOCKS = {
    "model_mean": dict(type="model_mean"),
    "similar_datasets": dict(type="similar_datasets", tau=0.5),
    "column": dict(type="column", column="ms_logme"),
    "ridge": dict(type="ridge", fields="d,m,S", l2=0.5),
    "trees": dict(type="trees", fields="d,m,S", max_iter=20, min_samples_leaf=5),
    "lr": dict(type="lr", fields="d,m,S", train=TRAIN),
    "fm": dict(type="fm", fields="d,m,S", num_seeds=2, train=TRAIN),
    "ffm": dict(type="ffm", fields="d,m,S", train=TRAIN),
    "blend": dict(type="blend", members=[dict(type="model_mean"),
                                         dict(type="column", column="ms_logme"),
                                         dict(type="ridge", fields="d,m")]),
}
MEAN = dict(type="model_mean")
FITTED = {"model_mean": baselines.ModelMeanFitted, "similar_datasets": neighbors.NeighborFitted,
          "column": baselines.ColumnFitted, "trees": trees.TreeFitted,
          "blend": blend.BlendFitted}


def test_blocks_cover_every_type():
  assert set(BLOCKS) == set(registry.TYPES)


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_round_trip_through_files_predicts_identically(kind, tmp_path):
  history = histories.history(4, 10, seed=1)
  new = histories.new_dataset(10)
  fitted = registry.build(BLOCKS[kind]).fit(history)
  assert isinstance(fitted, FITTED.get(kind, methods.fitted.Fitted))
  arrays, meta = state.state_of(fitted)
  assert meta["state_type"] == fitted.STATE_TYPE
  io.save_arrays(tmp_path / f"{kind}.npz", arrays, json.loads(json.dumps(meta)))
  loaded = state.load_state(*io.load_arrays(tmp_path / f"{kind}.npz"))
  assert type(loaded) is type(fitted)
  before = fitted.predict(new)
  assert before.shape == (len(new),) and np.all(np.isfinite(before))
  np.testing.assert_array_equal(loaded.predict(new), before)
  for extra in ("predict_top1", "predict_interval"):
    if hasattr(fitted, extra):
      np.testing.assert_array_equal(getattr(loaded, extra)(new), getattr(fitted, extra)(new))


def test_load_state_refuses_unknown_types_and_versions():
  arrays, meta = state.state_of(registry.build(BLOCKS["model_mean"]).fit(histories.history()))
  with pytest.raises(ValueError, match="state_type must be one of.*'svm'"):
    state.load_state(arrays, {**meta, "state_type": "svm"})
  with pytest.raises(ValueError, match="version"):
    state.load_state(arrays, {**meta, "state_version": 0})
  with pytest.raises(ValueError, match="'column' baseline state"):
    state.load_state(arrays, {**meta, "state_type": "column"})
  assert state.unnest("a", state.nest("a", {"x": 1, "y": 2}) | {"b.x": 3}) == {"x": 1, "y": 2}


def test_bad_blocks_are_refused_naming_the_key():
  with pytest.raises(ValueError, match="type must be one of.*'svm'"):
    registry.build(dict(type="svm"))
  with pytest.raises(ValueError, match="type must be one of.*None"):
    registry.build(dict(fields="d,m"))
  with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
    registry.build(dict(type="ridge", colour="red"))
  with pytest.raises(ValueError, match="unknown keys \\['train'\\]"):
    registry.build(dict(type="ridge", train=dict(epochs=3)))  # ridge trains in closed form
  with pytest.raises(ValueError, match="train has unknown keys \\['rnak'\\]"):
    registry.build(dict(type="fm", train=dict(rnak=3)))
  with pytest.raises(ValueError, match="unknown keys \\['tua'\\]"):
    registry.build(dict(type="blend", members=[dict(type="similar_datasets", tua=1.0)]))
  with pytest.raises(ValueError, match="needs members"):
    registry.build(dict(type="blend"))
  with pytest.raises(ValueError, match="needs column"):
    registry.build(dict(type="column"))
  with pytest.raises(ValueError, match="must be a dict"):
    registry.build("fm")
  with pytest.raises(ValueError, match="member names must be distinct"):
    registry.build(dict(type="blend", members=[dict(type="model_mean")] * 2))


@pytest.mark.parametrize("block", [dict(type="fm", score_norm="minmax"),
                                   dict(type="ridge", target="log"),
                                   dict(type="trees", score_norm="minmax"),
                                   dict(type="similar_datasets", similarity="cosine"),
                                   dict(type="similar_datasets", tau=0.0),
                                   dict(type="blend", shrink=2.0, members=[MEAN]),
                                   dict(type="blend", penalty=-1.0, members=[MEAN])],
                         ids=lambda b: f"{b['type']}-{sorted(set(b) - {'type', 'members'})[0]}")
def test_bad_values_are_refused_at_build_before_any_fit(block):
  """`build` promises a ValueError for a bad block: a bad value must not wait for `fit`
  (a blend member would only fail after the members before it were fitted)."""
  key = next(k for k in ("score_norm", "target", "similarity", "tau", "shrink", "penalty")
             if k in block)
  with pytest.raises(ValueError, match=key):
    registry.build(block)


def test_build_applies_the_block_and_the_defaults():
  ridge = registry.build(dict(type="ridge", fields="d,m", l2=2.0))
  assert isinstance(ridge, methods.RidgeMethod) and ridge.l2 == 2.0
  fm = registry.build(ml_collections.ConfigDict(dict(type="fm", num_seeds=3,
                                                     train=dict(rank=5))), seed=7)
  assert isinstance(fm, methods.RecommenderMethod) and fm.name == "FM (d,m)"
  assert (fm.config.rank, fm.config.seed, fm.num_seeds, fm.config.model) == (5, 7, 3, "fm")
  assert fm.config.epochs == registry.DEFAULTS["fm"]["train"]["epochs"]
  assert fm.target == "dataset_z" and fm.score_norm == "dataset_z"
  tree = registry.build(dict(type="trees", seed=4))
  assert (tree.seed, tree.max_iter) == (4, 200)
  mixed = registry.build(dict(type="blend", shrink=0.5, members=[
      dict(type="model_mean"), dict(type="lr", fields="ids=dataset_id,model_id")]), seed=2)
  assert mixed.names == ["model mean", "LR (ids)"] and mixed.shrink == 0.5
  assert mixed.members[1].config.seed == 2 and mixed.members[1].fields == "dataset_id,model_id"
  declared = registry.build(dict(type="ridge", fields="d,m"), "depth=numeric:m:log")
  assert declared.extra_fields[0]["column"] == "depth"
  resolved = registry.resolve(dict(type="column", column="params_m"))
  assert resolved == dict(type="column", name="", seed=0, column="params_m", sign=0.0)


def test_labels():
  assert registry.label(dict(type="model_mean")) == "model mean"
  assert registry.label(dict(type="similar_datasets")) == "similar datasets (tau=1)"
  assert registry.label(dict(type="similar_datasets", tau=0.25)) == "similar datasets (tau=0.25)"
  assert registry.label(dict(type="column", column="ms_logme")) == "S_logme"
  assert registry.label(dict(type="column", column="params_m")) == "params_m"
  assert registry.label(dict(type="ridge")) == "ridge (d,m)"
  assert registry.label(dict(type="trees", fields="d,m,S")) == "trees (d,m,S)"
  assert registry.label(dict(type="ffm", fields="with S=d,m,S_logme")) == "FFM (with S)"
  assert registry.label(dict(type="fm", fields="d,m", name="mine")) == "mine"
  assert registry.label(BLOCKS["blend"]) == "blend (model mean, S_logme, ridge (d,m))"
  assert registry.build(BLOCKS["blend"]).name == registry.label(BLOCKS["blend"])


def test_column_signs_follow_the_registry_and_the_declaration():
  assert registry.column_sign("ms_ncti_vc") == scores_registry.sign("ncti_vc") == -1.0
  assert registry.column_sign("ms_logme") == scores_registry.sign("logme") == 1.0
  assert registry.column_sign("ms_logme", "logme=numeric:S:-") == -1.0
  assert registry.column_sign("params_m") == 1.0  # a meta column
  assert registry.column_sign("depth", "depth=numeric:S:-") == -1.0  # a declared S column
  with pytest.raises(ValueError, match="'otce' is not a registered score"):
    registry.column_sign("ms_otce")
  assert registry.build(dict(type="column", column="ms_ncti_vc")).sign == -1.0
  assert registry.build(dict(type="column", column="ms_ncti_vc", sign=1.0)).sign == 1.0
  with pytest.raises(ValueError, match="sign must be \\+1 or -1"):
    registry.build(dict(type="column", column="params_m", sign=2.0))


def test_score_columns_lists_every_score_and_declared_score_column():
  history = histories.history(2, 4, scores=("logme", "ncti_vc")).assign(depth=1.0)
  assert registry.score_columns(history) == [dict(type="column", column="ms_logme"),
                                             dict(type="column", column="ms_ncti_vc")]
  assert registry.score_columns(history, "depth=numeric:S:+")[-1] == dict(type="column",
                                                                          column="depth")


def _forest(x, y, **kwargs):
  model = ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0, **kwargs)
  return model.fit(x, y)


def test_forest_predict_is_sklearn_predict():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 5))
  y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + rng.normal(scale=0.1, size=300)
  model = _forest(x, y, min_samples_leaf=5)
  test = rng.normal(size=(200, 5))
  np.testing.assert_allclose(trees.forest_predict(trees.forest_arrays(model), test),
                             model.predict(test), rtol=1e-12)
  # Missing values in training: NaN goes the side each split learned.
  x[rng.random(x.shape) < 0.2] = np.nan
  test[rng.random(test.shape) < 0.2] = np.nan
  model = _forest(x, np.nan_to_num(y), min_samples_leaf=5)
  np.testing.assert_allclose(trees.forest_predict(trees.forest_arrays(model), test),
                             model.predict(test), rtol=1e-12)


def test_tree_fitted_predicts_what_sklearn_predicts_on_the_design_matrix():
  history = histories.history(4, 12, seed=2)
  method = trees.TreeMethod("trees", "d,m,S", max_iter=30, min_samples_leaf=5)
  fitted = method.fit(history)
  preprocess = Preprocess("dataset_z", "dataset_z")
  encoder, pairs = methods.encode("d,m,S", history, preprocess, "all")
  model = ensemble.HistGradientBoostingRegressor(max_iter=30, learning_rate=0.05,
                                                 min_samples_leaf=5, random_state=0)
  model.fit(methods.design_matrix(pairs), pairs.targets)
  new = histories.new_dataset(12)
  x = methods.design_matrix(encoder.transform(preprocess.features(new)))
  np.testing.assert_allclose(fitted.predict(new), model.predict(x), rtol=1e-12)
  np.testing.assert_allclose(trees.forest_predict(trees.forest_arrays(model), x),
                             model.predict(x), rtol=1e-12)


def test_trees_rank_a_planted_score_and_refuse_bad_states():
  history = histories.history(4, 30, score_noise=0.01, noise=0.3)
  train, test = history[history.dataset != "d0"], history[history.dataset == "d0"]
  method = registry.build(dict(type="trees", fields="m,S", max_iter=50))
  predicted = method.fit_predict(train, test)
  assert np.corrcoef(predicted, test["top1"])[0, 1] > 0.9
  arrays, meta = method.fit(train).to_state()
  with pytest.raises(ValueError, match="arrays must hold"):
    trees.TreeFitted.from_state({k: v for k, v in arrays.items() if k != "roots"}, meta)
  with pytest.raises(ValueError, match="version"):
    trees.TreeFitted.from_state(arrays, {**meta, "trees_state_version": 0})
