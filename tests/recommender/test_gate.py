"""The neighbour gate and the architecture-relative transfer similarity: planted data."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import gate, metrics, neighbors, rank, registry, state
from tests.recommender import histories


def _planted(seed, close_right=True, num_datasets=8, num_models=30):
  """Rows of `num_datasets` datasets: a blend moderately right everywhere; the neighbours
  right on the close half (closeness 1) and random on the far half (closeness 0), or random
  everywhere (`close_right=False`)."""
  rng = np.random.default_rng(seed)
  names = np.repeat([f"d{i}" for i in range(num_datasets)], num_models)
  target = rng.normal(size=names.size)
  close = np.repeat(np.arange(num_datasets) % 2 == 0, num_models)
  blend_z = target + rng.normal(scale=1.2, size=names.size)
  neighbor_z = np.where(close & close_right, target + rng.normal(scale=0.2, size=names.size),
                        rng.normal(size=names.size))
  z = lambda v: np.concatenate([(v[names == d] - v[names == d].mean()) / v[names == d].std()
                                for d in np.unique(names)])
  closeness = np.where(close, 1.0, 0.0)
  return z(blend_z), z(neighbor_z), z(target), names, closeness, np.full(names.size, "scores")


def _inner(parts, fitted):
  blend_z, neighbor_z, target_z, names, closeness, sources = parts
  score = gate.mix(blend_z, neighbor_z, fitted.share(closeness, sources))
  return metrics.mean_pearson(score, target_z, names)


def test_the_gate_opens_on_close_datasets_where_the_neighbours_are_right():
  parts = _planted(0)
  fitted = gate.fit_gate(*parts)
  share = fitted.share(np.array([1.0, 0.0]), np.array(["scores", "scores"]))
  assert fitted.slope > 0 and share[0] > 0.7 and share[1] < 0.3
  grid = np.linspace(-2, 3, 51)  # the closer, the larger the share (the README's promise)
  assert np.all(np.diff(fitted.share(grid, np.full(grid.size, "scores"))) >= 0)
  assert _inner(parts, fitted) > _inner(parts, gate.Gate()) + 0.1
  # Unknown closeness, or closeness of another similarity: the blend alone.
  np.testing.assert_array_equal(
      fitted.share(np.array([np.nan, 1.0]), np.array(["scores", "transfer"])), [0.0, 0.0])
  assert gate.Gate.from_meta(fitted.to_meta()) == fitted


def test_the_gate_stays_shut_when_the_neighbours_know_nothing():
  for seed in range(4):
    parts = _planted(seed, close_right=False, num_models=80)
    fitted = gate.fit_gate(*parts)
    assert fitted.share(np.array([0.0, 1.0]), np.array(["scores"] * 2)).max() < 0.1
    assert _inner(parts, fitted) >= _inner(parts, gate.Gate())  # the shut gate is a candidate
  assert not np.isfinite(gate.Gate.from_meta(gate.Gate().to_meta()).offset)
  # No closeness at all, or only one dataset with one: nothing to fit a gate on.
  blend_z, neighbor_z, target_z, names, closeness, sources = _planted(0)
  assert gate.fit_gate(blend_z, neighbor_z, target_z, names, np.full(names.size, np.nan),
                       sources) == gate.Gate()
  one = np.where(names == "d0", 1.0, np.nan)
  assert gate.fit_gate(blend_z, neighbor_z, target_z, names, one, sources) == gate.Gate()


def test_transfer_similarity_compares_a_source_with_its_own_architecture():
  """Source `t`'s models are of the architecture that is best everywhere: their raw z-scores
  make every dataset look alike. Against the same architecture's other sources, only `b`
  (where pre-training on `t` helps) resembles `t`."""
  #        models: big.t  big.s  big.u  small.t small.s   (rows: datasets a, b, c)
  z = np.array([[1.5, 1.5, 1.4, -1.0, -1.0],
                [1.9, 1.1, 1.1, -0.6, -1.4],
                [1.5, 1.5, 1.5, -1.0, -1.0]])
  sources = ("t", "s", "u", "t", "s")
  groups = ("big", "big", "big", "small", "small")
  got = neighbors._transfer(z, sources, groups, "t")  # pylint: disable=protected-access
  want = np.mean([z[:, 0] - z[:, :3].mean(1), z[:, 3] - z[:, 3:].mean(1)], 0)
  np.testing.assert_allclose(got, want, atol=1e-12)
  assert np.argmax(got) == 1 and got[1] > got[0] + 0.4
  plain = neighbors._transfer(z, sources, (), "t")  # pylint: disable=protected-access
  np.testing.assert_allclose(plain, z[:, [0, 3]].mean(1))  # no architectures: raw z-scores
  assert np.isnan(neighbors._transfer(z, sources, groups, "x")).all()  # no model of `x`


def test_the_blend_gates_its_similar_datasets_member_and_keeps_it_in_its_state():
  history = histories.two_families()
  block = dict(type="blend", members=[dict(type="model_mean"),
                                      dict(type="similar_datasets", tau=0.5),
                                      dict(type="ridge", fields="d,m,S")])
  fitted = registry.build(block).fit(history[history.dataset != "a1"])
  assert fitted.neighbor == 1 and state.state_of(fitted)[1]["meta"]["gate"] == fitted.gate.to_meta()
  test = history[history.dataset == "a1"].reset_index(drop=True)
  share = fitted.neighbor_share(test)
  assert share.shape == (len(test),) and np.all((share >= 0) & (share < 1))
  closeness, sources = fitted.members[1].closeness(test)
  assert np.all(np.isfinite(closeness)) and set(sources) == {"scores"}
  # Closeness: the largest raw similarity to a training dataset.
  sims, source = fitted.members[1].dataset_similarity("a1", test)
  assert source == "scores" and np.all(closeness == np.nanmax(sims))
  loaded = state.load_state(*state.state_of(fitted))
  assert loaded.gate == fitted.gate and loaded.neighbor == 1
  np.testing.assert_allclose(loaded.predict(test), fitted.predict(test), atol=1e-12)
  frame = pd.concat([test, test.assign(dataset="unseen")], ignore_index=True)
  assert fitted.predict(frame).shape == (len(frame),)


def test_a_blend_without_its_gate_keeps_the_weighted_sum():
  history = histories.two_families()
  block = dict(type="blend", gate=False, members=[dict(type="model_mean"),
                                                  dict(type="similar_datasets", tau=0.5)])
  fitted = registry.build(block).fit(history[history.dataset != "a1"])
  test = history[history.dataset == "a1"].reset_index(drop=True)
  assert not fitted.gate.is_open and not fitted.neighbor_share(test).any()
  # No gate, no share line in the report: the ranked table says None, not 0.
  assert fitted.rank_columns(test)[3] is None
  assert rank.rank(fitted, test.assign(family="f")).attrs["neighbor_share"] is None
  votes = np.stack(list(fitted.member_predictions(test).values()), 1) @ fitted.weights
  np.testing.assert_allclose(fitted.predict(test), (votes - votes.mean()) / votes.std(),
                             atol=1e-12)
  with pytest.raises(ValueError, match="gate must be true or false"):
    registry.build({**block, "gate": "no"})


def test_rank_columns_equal_the_separate_calls():
  history = histories.two_families()
  fitted = registry.build(dict(type="blend", members=[
      dict(type="model_mean"), dict(type="similar_datasets", tau=0.5),
      dict(type="ridge", fields="d,m,S")])).fit(history[history.dataset != "a1"])
  test = history[history.dataset == "a1"].reset_index(drop=True)
  score, interval, votes, share = fitted.rank_columns(test)
  assert fitted.gate.is_open  # this history opens it
  np.testing.assert_array_equal(share, fitted.neighbor_share(test))
  np.testing.assert_array_equal(score, fitted.predict(test))
  for got, want in zip(interval, fitted.predict_interval(test)):
    np.testing.assert_array_equal(got, want)
  for name, want in fitted.member_predictions(test).items():
    np.testing.assert_array_equal(votes[name], want)


def test_lift_first_places_the_rows_to_try_first_above_the_rest_in_their_order():
  score = np.array([0.5, 2.0, -1.0, 0.3, 1.0, 3.0])
  datasets = np.array(["a", "a", "a", "b", "b", "b"])
  first = np.array([True, False, True, False, False, False])
  got = neighbors.lift_first(score, first, datasets)
  top = 2.0 + neighbors.FIRST_MARGIN  # just above the rest, in their order, squeezed
  np.testing.assert_allclose(got[[0, 2]], [top + neighbors.FIRST_SPREAD * 1.5, top])
  np.testing.assert_array_equal(got[[1, 3, 4, 5]], score[[1, 3, 4, 5]])
  every = np.array([True, True, True, False, False, False])  # nothing left to go above
  np.testing.assert_array_equal(neighbors.lift_first(score, every, datasets), score)
