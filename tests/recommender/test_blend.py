"""The blend: simplex least squares against brute force, the planted disaster a selection
falls into and the blend does not, shrinkage and the blend's own bookkeeping."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import blend, metrics, preprocess, protocols, registry
from tests.recommender import histories

CANDIDATES = ["cand_a", "cand_n0", "cand_n1", "cand_n2", "cand_n3"]


def _columns(names, **kwargs):
  return dict(type="blend", members=[dict(type="column", column=c) for c in names], **kwargs)


@pytest.mark.parametrize("seed", range(8))
def test_simplex_least_squares_is_the_brute_force_optimum(seed):
  rng = np.random.default_rng(seed)
  k = 2 + seed % 4  # 2..5 columns
  x = rng.normal(size=(30 + 5 * seed, k))
  if seed % 2:  # the optimum outside the simplex: on its boundary
    pull = np.zeros(k)
    pull[0], pull[1] = 2.0, -1.5
  else:  # inside
    pull = rng.dirichlet(np.ones(k))
  y = x @ pull + rng.normal(scale=0.1, size=len(x))
  got = blend.simplex_least_squares(x, y)
  want = blend.brute_force_simplex_least_squares(x, y)
  np.testing.assert_allclose(got, want, atol=1e-8)
  assert np.all(got >= 0) and got.sum() == pytest.approx(1.0, abs=1e-12)
  if seed % 2:
    assert got[1] == 0.0 and got[0] > 0.5  # the boundary case is exercised
  else:
    assert np.all(got > 0)
  # No simplex point does better (a random sample of them).
  others = rng.dirichlet(np.ones(k), 2000)
  assert ((x @ got - y) ** 2).sum() <= ((x @ others.T - y[:, None]) ** 2).sum(0).min()


@pytest.mark.parametrize("seed", range(3))
def test_penalized_weights_brute_force(seed):
  rng = np.random.default_rng(seed)
  k, rows, penalty = 3 + seed, 40, 0.05 * (seed + 1)
  x, y = rng.normal(size=(rows, k)), rng.normal(size=rows)
  y += 2 * x[:, 0]
  got = blend.penalized_weights(x, y, penalty)
  # The objective ||x w - y||^2 / rows + penalty ||w - 1/K||^2 over every support.

  def objective(w):
    return ((x @ w - y) ** 2).sum() / rows + penalty * ((w - 1 / k) ** 2).sum()

  augmented = np.vstack([x / np.sqrt(rows), np.sqrt(penalty) * np.eye(k)])
  target = np.concatenate([y / np.sqrt(rows), np.full(k, np.sqrt(penalty) / k)])
  want = blend.brute_force_simplex_least_squares(augmented, target)
  np.testing.assert_allclose(got, want, atol=1e-8)
  assert objective(got) <= objective(blend.simplex_least_squares(x, y)) + 1e-12
  assert objective(got) <= min(objective(w) for w in rng.dirichlet(np.ones(k), 500))
  np.testing.assert_allclose(blend.penalized_weights(x, y, 1e9), np.full(k, 1 / k), atol=1e-6)


def test_simplex_least_squares_degenerate_cases():
  rng = np.random.default_rng(0)
  np.testing.assert_array_equal(blend.simplex_least_squares(rng.normal(size=(5, 1)),
                                                            rng.normal(size=5)), [1.0])
  x = rng.normal(size=(20, 3))
  np.testing.assert_allclose(blend.simplex_least_squares(x, x[:, 2]), [0, 0, 1], atol=1e-10)
  np.testing.assert_allclose(blend.simplex_least_squares(x, -x[:, 2]),
                             blend.brute_force_simplex_least_squares(x, -x[:, 2]), atol=1e-8)


def test_zscore_within_groups():
  got = preprocess.zscore_within(np.array([1.0, 2, 3, 5, 5, np.nan]),
                            np.array(["a", "a", "a", "b", "b", "b"]))
  np.testing.assert_allclose(got, [-1.2247449, 0, 1.2247449, 0, 0, 0], rtol=1e-6)


class Select:
  """Picks the candidate with the best inner mean Pearson (the blend's inner folds) and
  predicts with it alone: the gamble the blend replaces."""

  def __init__(self, blocks):
    self.name, self.candidates, self.chosen = "select", [registry.build(b) for b in blocks], []

  def fit(self, train):
    train = train.reset_index(drop=True)
    folds = protocols.inner_folds(train)
    inner = [metrics.mean_over_datasets(metrics.per_dataset(
        train, protocols.out_of_fold(train, c, folds).score))["pearson"]
             for c in self.candidates]
    best = self.candidates[int(np.argmax(inner))]
    self.chosen.append(best.name)
    return best.fit(train)


def _pearson_on(history, predicted, dataset):
  at = (history["dataset"] == dataset).to_numpy()
  return float(np.corrcoef(predicted[at], history["top1"].to_numpy()[at])[0, 1])


def test_planted_disaster_selection_fails_and_the_blend_hedges():
  """`cand_a` is the truth except on d2 and d5, where it is the negated truth; the others
  are the truth plus noise (Pearson 0.65 everywhere). Holding d2 out, the inner folds see
  `cand_a` at 5/7 > 0.65: a selection picks it and scores -1 on d2. The blend has seen it fail
  on d5 and keeps the other members' votes."""
  history = histories.candidates(8, 12, flipped=("d2", "d5"), num_noisy=4, pearson=0.65)
  blocks = [dict(type="column", column=c) for c in CANDIDATES]
  selector = Select(blocks)
  picked = protocols.leave_one_dataset_out(history, selector, ["d2"]).score
  assert selector.chosen == ["cand_a"]
  assert _pearson_on(history, picked, "d2") == pytest.approx(-1.0)
  method = registry.build(_columns(CANDIDATES))
  blended = protocols.leave_one_dataset_out(history, method, ["d2"]).score
  assert _pearson_on(history, blended, "d2") > 0.5
  fitted = method.fit(history[history.dataset != "d2"])
  inner = fitted.info["inner_pearson"]
  assert max(inner, key=inner.get) == "cand_a"  # the blend's inner folds favour it too...
  assert inner["cand_a"] == pytest.approx(5 / 7)  # (6 - 1) / 7 over every inner fold ...
  assert fitted.weights[0] < 0.5  # ...but its weight is not a winner's
  # On the five datasets it got right, the blend ranks nearly as well as `cand_a`.
  good = history[~history.dataset.isin(["d2", "d5"])]
  assert metrics.mean_over_datasets(metrics.per_dataset(good, fitted.predict(good)))[
      "pearson"] > 0.9


def test_a_member_perfect_on_the_training_datasets_takes_every_fitted_weight():
  """Without a failure in the training datasets there is nothing to hedge against: unpenalised
  least-squares weights are exact, and only the shrinkage keeps the others' votes; the
  penalty toward equal weights moves some of the vote back."""
  history = histories.candidates(8, 12, flipped=("d2",), num_noisy=2)
  names = CANDIDATES[:3]
  train = history[history.dataset != "d2"]
  penalised = registry.build(_columns(names, shrink=0.0)).fit(train)
  assert 0.5 < penalised.fit_weights[0] < 1.0 and penalised.fit_weights[1] > 0.01
  fitted = registry.build(_columns(names, shrink=0.25, penalty=0.0)).fit(train)
  np.testing.assert_allclose(fitted.fit_weights, [1, 0, 0], atol=1e-9)
  np.testing.assert_allclose(fitted.weights, [0.75 + 0.25 / 3, 0.25 / 3, 0.25 / 3], atol=1e-9)
  assert fitted.weights.sum() == pytest.approx(1.0)
  # The prediction is the weighted sum of the members' within-dataset z-scores, standardised
  # (no similar-datasets member here: no gate).
  test = history[history.dataset == "d2"].reset_index(drop=True)
  parts = fitted.member_predictions(test)
  want = sum(w * preprocess.zscore_within(test[c].to_numpy(), test["dataset"].to_numpy())
             for w, c in zip(fitted.weights, names))
  np.testing.assert_allclose(fitted.predict(test),
                             preprocess.zscore_within(want, test["dataset"].to_numpy()), atol=1e-12)
  assert fitted.neighbor == -1 and not np.isfinite(fitted.gate.offset)
  assert list(parts) == names


def test_shrink_one_gives_equal_weights_and_the_blend_records_its_folds():
  history = histories.history(5, 8, seed=3)
  method = registry.build(dict(type="blend", shrink=1.0, max_inner_folds=3, members=[
      dict(type="model_mean"), dict(type="column", column="ms_logme")]))
  fitted = method.fit(history)
  np.testing.assert_allclose(fitted.weights, [0.5, 0.5])
  want = [f.held_out for f in protocols.dataset_folds(history, max_folds=3, seed=0)]
  assert fitted.info["inner_folds"] == want and len(want) == 3
  assert 0.0 <= fitted.rho <= 1.0 and fitted.rho > 0.5  # the planted truth is learnable
  with pytest.raises(ValueError, match="shrink must lie in"):
    blend.BlendMethod("b", method.members, method.names, shrink=1.5)
  with pytest.raises(ValueError, match="members must be non-empty"):
    blend.BlendMethod("b", [], [])


def test_blend_on_two_datasets_uses_folds_of_models():
  history = histories.history(2, 9, seed=4)
  fitted = registry.build(_columns(["ms_logme", "params_m"])).fit(history)
  assert fitted.info["inner_folds"] == ["models 0", "models 1", "models 2"]
  assert fitted.weights[0] > fitted.weights[1]  # the planted score beats the size


def test_blend_state_refuses_a_mismatch():
  fitted = registry.build(_columns(["ms_logme", "params_m"])).fit(histories.history(3, 6))
  arrays, meta = fitted.to_state()
  with pytest.raises(ValueError, match="version"):
    blend.BlendFitted.from_state(arrays, {**meta, "blend_state_version": 0})
  with pytest.raises(ValueError, match="must hold 2 members and weights"):
    blend.BlendFitted.from_state({**arrays, "weights": np.ones(3) / 3}, meta)
  pd.testing.assert_frame_equal(pd.DataFrame(fitted.info["weights"], index=[0]),
                                pd.DataFrame(dict(zip(fitted.names, fitted.weights)),
                                             index=[0]))
