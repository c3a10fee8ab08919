"""Training: planted solutions, sparse vs dense optimizers, retracing, early stopping, I/O."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from guidedrec_jax.recommender import models, sparse_update, steps, train
from guidedrec_jax.recommender.pairs import EncodedPairs

FAST = train.TrainConfig(epochs=40, batch_size=64, learning_rate=0.03, patience=0, rank=4)


def _categorical(num_rows=600, cardinalities=(8, 8, 6), seed=0, rank=3, noise=0.0):
  """One-hot fields with targets from a planted FM; groups = the first field's category."""
  rng = np.random.default_rng(seed)
  offsets = np.cumsum((0,) + cardinalities[:-1])
  ids = (rng.integers(0, cardinalities, (num_rows, len(cardinalities))) + offsets).astype(np.int32)
  values = np.ones(ids.shape, np.float32)
  planted = models.init_params("fm", sum(cardinalities), len(cardinalities), rank,
                               jax.random.key(seed + 100), init_scale=1.0)
  targets = np.asarray(models.apply("fm", planted, ids, values)) + noise * rng.normal(size=num_rows)
  return EncodedPairs(ids, values, targets.astype(np.float32), ids[:, 0].copy(),
                      tuple(f"f{j}" for j in range(len(cardinalities))), sum(cardinalities))


def _rmse(config, train_pairs, test_pairs):
  result = train.fit(train_pairs, config)
  return np.sqrt(np.mean(np.square(train.predict(config.model, result.params, test_pairs)
                                   - test_pairs.targets)))


def test_lr_recovers_planted_coefficients():
  rng = np.random.default_rng(0)
  values = rng.normal(size=(500, 3)).astype(np.float32)
  ids = np.tile(np.arange(3, dtype=np.int32), (500, 1))       # three numeric fields
  targets = 1.5 + values @ np.array([2.0, -1.0, 0.5]) + 0.01 * rng.normal(size=500)
  pairs = EncodedPairs(ids, values, targets.astype(np.float32), np.zeros(500, np.int32),
                       ("a", "b", "c"), 3)
  result = train.fit(pairs, FAST._replace(model="lr"))
  np.testing.assert_allclose(result.params["w"], [2.0, -1.0, 0.5], atol=0.03)
  np.testing.assert_allclose(result.params["bias"], 1.5, atol=0.03)


def test_fm_and_ffm_beat_lr_on_planted_interactions():
  pairs = _categorical(num_rows=700, noise=0.05)
  fit_rows, test_rows = pairs.take(np.arange(600)), pairs.take(np.arange(600, 700))
  rmse = {model: _rmse(FAST._replace(model=model), fit_rows, test_rows) for model in models.MODELS}
  assert rmse["fm"] < 0.5 * rmse["lr"] and rmse["ffm"] < 0.7 * rmse["lr"], rmse


def _mean_group_spearman(scores, pairs):
  masks = [pairs.groups == g for g in np.unique(pairs.groups)]
  return np.mean([scipy.stats.spearmanr(scores[m], pairs.targets[m])[0] for m in masks])


def test_pairwise_loss_learns_within_group_ranking():
  pairs = _categorical()
  # Large per-group offsets: only the order within a group carries signal for ranking.
  pairs = pairs._replace(targets=pairs.targets + 100.0 * pairs.groups)
  trained = train.fit(pairs, FAST._replace(loss="pairwise", epochs=30))
  untrained = models.init_params("fm", pairs.num_features, pairs.num_fields, 4, jax.random.key(0))
  before = _mean_group_spearman(train.predict("fm", models.to_dict(untrained), pairs), pairs)
  after = _mean_group_spearman(train.predict("fm", trained.params, pairs), pairs)
  assert after > 0.8 and after > before + 0.5, (before, after)


def test_listwise_loss_learns_within_group_ranking():
  pairs = _categorical()
  offsets = 100.0 * pairs.groups
  per_group = [pairs.targets[pairs.groups == g] for g in pairs.groups]
  z = np.array([(t - p.mean()) / p.std() for t, p in zip(pairs.targets, per_group)])
  pairs = pairs._replace(targets=(z + offsets).astype(np.float32))  # offsets cancel in softmax
  trained = train.fit(pairs, FAST._replace(loss="listwise", epochs=30))
  after = _mean_group_spearman(train.predict("fm", trained.params, pairs), pairs)
  assert after > 0.8, after


def test_listwise_loss_matches_brute_force():
  rng = np.random.default_rng(0)
  scores, targets = rng.normal(size=7), rng.normal(size=7)
  groups = np.array([0, 0, 0, 1, 1, 2, 0])
  weights = np.array([1, 1, 1, 1, 1, 1, 0.0])  # the last row is padding
  total, count = steps._loss_sum("listwise", scores, targets, weights, groups)
  want = 0.0
  for g in (0, 1, 2):
    m = (groups == g) & (weights > 0)
    p = np.exp(targets[m]) / np.exp(targets[m]).sum()
    want -= np.sum(p * (scores[m] - np.log(np.exp(scores[m]).sum())))
  np.testing.assert_allclose([total, count], [want, 3.0], rtol=1e-5)
  grads = jax.grad(lambda s: steps._loss_sum("listwise", s, targets, weights, groups)[0])(
      scores.astype(np.float32))
  assert np.all(np.isfinite(grads)) and grads[-1] == 0.0


def test_logistic_loss_classifies_planted_labels():
  pairs = _categorical()
  labels = (pairs.targets > np.median(pairs.targets)).astype(np.float32)
  result = train.fit(pairs._replace(targets=labels), FAST._replace(loss="logistic"))
  logits = train.predict("fm", result.params, pairs)
  assert np.mean((logits > 0) == (labels > 0.5)) > 0.9


@pytest.mark.parametrize("model, optimizer, batch_size, l2, agree", [
    ("fm", "sgd", 64, 0.0, True),       # minibatches miss rows: untouched rows get zero update
    ("ffm", "adagrad", 64, 0.0, True),
    ("fm", "adagrad", 1024, 0.01, True),  # one batch touches every row: L2 reaches them all
    ("ffm", "adam", 1024, 0.01, True),
    ("fm", "adam", 64, 0.0, False),     # dense Adam moves missed rows by momentum, lazy Adam not
])
def test_sparse_and_dense_paths(model, optimizer, batch_size, l2, agree):
  pairs = _categorical(num_rows=300, cardinalities=(30, 30), seed=1)
  config = FAST._replace(model=model, optimizer=optimizer, batch_size=batch_size, l2=l2,
                         epochs=3, learning_rate=0.05)
  sparse = train.fit(pairs, config._replace(row_sparse=True)).params
  dense = train.fit(pairs, config._replace(row_sparse=False)).params
  close = all(np.allclose(sparse[k], dense[k], rtol=2e-4, atol=2e-5) for k in sparse)
  assert close == agree


def test_dedupe_lists_each_id_once_and_inverts():
  rng = np.random.default_rng(0)
  feature_ids = rng.integers(0, 6, (5, 3)).astype(np.int32)
  feature_ids[4] = 9                                   # a padding row: sentinel id n = 9
  ids, inverse = jax.jit(sparse_update._dedupe, static_argnums=1)(feature_ids, 9)
  ids, inverse = np.asarray(ids), np.asarray(inverse)
  real = ids[ids < 9]
  assert sorted(real) == sorted(set(feature_ids[:4].ravel())) and len(real) == len(set(real))
  np.testing.assert_array_equal(ids[inverse], feature_ids)


def test_sparse_path_leaves_untouched_rows_alone():
  pairs = _categorical(num_rows=600)
  pairs = pairs._replace(num_features=pairs.num_features + 3)  # 3 ids no row uses
  config = FAST._replace(epochs=3, l2=0.1, optimizer="adagrad")
  result = train.fit(pairs, config)
  init = models.init_params("fm", pairs.num_features, pairs.num_fields, 4,
                            jax.random.key(config.seed), config.init_scale)
  np.testing.assert_allclose(result.params["v"][-3:],
                             np.asarray(init.tables["v"][-3:]) * np.sqrt(result.target_std),
                             rtol=1e-6)
  np.testing.assert_array_equal(result.params["w"][-3:], 0.0)
  dense = train.fit(pairs, config._replace(row_sparse=False))  # L2 shrinks every row
  assert np.all(np.abs(dense.params["v"][-3:]) < np.abs(result.params["v"][-3:]))


def test_epoch_traces_once_and_fit_is_deterministic():
  pairs = _categorical(num_rows=333, seed=2)  # a shape no other test compiles
  steps.TRACES.clear()
  config = FAST._replace(epochs=6, patience=10)
  first = train.fit(pairs, config)
  assert steps.TRACES["train_epoch"] == 1 and steps.TRACES["eval_loss"] == 1
  assert len(first.history) == 6
  again = train.fit(pairs, config)
  assert steps.TRACES["train_epoch"] == 1  # same shapes and spec: the cache is reused
  # Bit for bit on CPU; a GPU's scatter-add sums touched rows in no fixed order.
  rtol = 0 if jax.default_backend() == "cpu" else 1e-5
  for name in first.params:
    np.testing.assert_allclose(first.params[name], again.params[name], rtol=rtol, atol=0)
  other = train.fit(pairs, config._replace(seed=1))
  assert not np.array_equal(first.params["v"], other.params["v"])


def test_target_scale_is_folded_into_params():
  pairs = _categorical(num_rows=600, seed=3)  # the shapes of other tests: compiled once
  config = FAST._replace(epochs=5)
  base = train.fit(pairs, config)
  scaled = train.fit(pairs._replace(targets=1000.0 * pairs.targets + 5.0), config)
  np.testing.assert_allclose(train.predict("fm", scaled.params, pairs),
                             1000.0 * train.predict("fm", base.params, pairs) + 5.0,
                             rtol=1e-3, atol=0.05 * np.std(1000.0 * pairs.targets))
  assert scaled.target_std == pytest.approx(1000.0 * base.target_std, rel=1e-4)


def test_early_stopping_keeps_best_epoch():
  pairs = _categorical(num_rows=120, seed=4, noise=1.0)  # small and noisy: overfits fast
  result = train.fit(pairs, FAST._replace(rank=8, learning_rate=0.1, epochs=200, patience=3))
  val = [h["val_loss"] for h in result.history]
  assert len(val) < 200 and result.best_epoch == 1 + int(np.argmin(val))
  assert len(val) == result.best_epoch + 3


def test_save_load_round_trip(tmp_path):
  pairs = _categorical(num_rows=600, seed=3)
  result = train.fit(pairs, FAST._replace(epochs=2, model="ffm"))
  path = tmp_path / "model.npz"
  train.save_params(path, result.params, {"model": "ffm", "rank": 4})
  loaded, meta = train.load_params(path)
  assert meta["model"] == "ffm" and set(loaded) == set(result.params)
  np.testing.assert_array_equal(train.predict("ffm", loaded, pairs),
                                train.predict("ffm", result.params, pairs))


@pytest.mark.parametrize("key, bad", [
    ("model", "svm"), ("optimizer", "rmsprop"), ("loss", "hinge"), ("rank", 0),
    ("learning_rate", -0.1), ("epochs", 0), ("batch_size", 0), ("l2", -1.0),
    ("patience", -1), ("holdout_fraction", 1.0), ("init_scale", float("nan"))])
def test_bad_config_raises_naming_the_key(key, bad):
  with pytest.raises(ValueError, match=key):
    train.fit(_categorical(num_rows=10), FAST._replace(**{key: bad}))


def test_bad_pairs_raise():
  pairs = _categorical(num_rows=20)
  with pytest.raises(ValueError, match="train: feature_ids"):
    train.fit(pairs._replace(num_features=3), FAST)
  with pytest.raises(ValueError, match="val must share"):
    train.fit(pairs, FAST, val=pairs._replace(num_features=99))
  with pytest.raises(ValueError, match="logistic"):
    train.fit(pairs, FAST._replace(loss="logistic"))
  params = models.init_params("ffm", 5, 2, 2, jax.random.key(0))  # 2 fields, pairs have 3
  with pytest.raises(ValueError, match="feature_ids"):
    train.predict("ffm", models.to_dict(params), pairs)
  with pytest.raises(ValueError, match="fields"):
    train.predict("ffm", {**models.to_dict(params), "w": np.zeros(pairs.num_features)}, pairs)
  with pytest.raises(ValueError, match="must hold"):
    train.predict("lr", {**models.to_dict(params), "w": np.zeros(pairs.num_features)},
                  pairs)  # FFM params given as LR: an extra table "v"



@pytest.mark.parametrize("optimizer", sparse_update.OPTIMIZERS)
def test_one_sparse_step_is_the_dense_optax_step_on_touched_rows(optimizer):
  """Two steps from a fresh state (Adam's moments of the touched rows are all fresh too)."""
  rng = np.random.default_rng(0)
  num_features, fields = 12, 3
  params = models.init_params("fm", num_features, fields, 2, jax.random.key(0), 0.5)
  tx = sparse_update.transform(optimizer)
  sparse_state, dense_state = sparse_update.init_state(optimizer, params), tx.init(params)
  sparse, dense = params, params
  ids = rng.integers(0, 8, (4, fields)).astype(np.int32)  # ids 8..11 never touched
  values = rng.normal(size=(4, fields)).astype(np.float32)
  targets = rng.normal(size=4).astype(np.float32)

  def loss_of_rows(bias, rows):
    scores = models.apply_rows("fm", bias, rows, values)
    return jnp.mean(jnp.square(scores - targets)), None

  for step in range(2):
    sparse, sparse_state, _ = sparse_update.sparse_step(
        optimizer, sparse, sparse_state, ids, loss_of_rows, 0.1, 0.0)
    grads = jax.grad(lambda p: loss_of_rows(p.bias, models.gather_rows(p, ids))[0])(dense)
    updates, dense_state = tx.update(grads, dense_state, dense)
    dense = jax.tree.map(lambda p, u: p - 0.1 * u, dense, updates)
  touched = np.unique(ids)
  for name in ("w", "v"):
    np.testing.assert_allclose(np.asarray(sparse.tables[name])[touched],
                               np.asarray(dense.tables[name])[touched], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(sparse.tables[name])[8:],
                                  np.asarray(params.tables[name])[8:])
  np.testing.assert_allclose(sparse.bias, dense.bias, rtol=1e-6)
