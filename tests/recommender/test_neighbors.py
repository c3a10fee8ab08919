"""The similarity-weighted model mean and the model-prior field: brute force and planted data."""

import json

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import baselines, blend, field_encoding, neighbors, preprocess, priors
from guidedrec_jax.recommender import registry
from tests.recommender import histories


_zoo = histories.two_families


def _loo(history, method):
  out = []
  for held in sorted(history["dataset"].unique()):
    train = history[history["dataset"] != held].reset_index(drop=True)
    test = history[history["dataset"] == held].reset_index(drop=True)
    out.append(np.corrcoef(method.fit_predict(train, test), test["top1"])[0, 1])
  return np.array(out)


def test_uniform_similarity_is_the_model_mean():
  history = _zoo().drop(columns=["ms_logme", "source_data"])
  train, test = history[history.dataset != "a0"], history[history.dataset == "a0"]
  got = neighbors.NeighborMethod("nb", similarity="uniform").fit_predict(train, test)
  want = baselines.ModelMeanMethod().fit_predict(train, test)
  np.testing.assert_allclose(got, want, atol=1e-12)


def test_weights_are_a_softmax_of_standardised_similarities_brute_force():
  history = _zoo()
  fitted = neighbors.NeighborMethod("nb", tau=0.5).fit(history[history.dataset != "a1"])
  sims = np.array([0.3, -1.0, 2.0, np.nan, 0.5])
  finite = sims[np.isfinite(sims)]
  scaled = np.nan_to_num((sims - finite.mean()) / finite.std(), nan=0.0) / 0.5
  want = np.exp(scaled) / np.exp(scaled).sum()
  np.testing.assert_allclose(fitted.weights(sims), want, rtol=1e-12)
  # The prediction is the weighted mean of the training z-scores, model by model.
  test = history[history.dataset == "a1"].reset_index(drop=True)
  sim, source = fitted.dataset_similarity("a1", test)
  assert source == "scores"  # a1 is no model's source: its MS scores say whom it resembles
  w = fitted.weights(sim)
  z = fitted.z
  want = (w[:, None] * z).sum(0) / w.sum()
  got = fitted.predict(test.assign(source_data="imagenet"))  # no matched rows
  order = [fitted.models.index(m) for m in test["model"]]
  np.testing.assert_allclose(got, want[order], atol=1e-12)


def test_transfer_similarity_finds_the_planted_dataset_family():
  history = _zoo().drop(columns=["ms_logme"])
  pearson_nb = _loo(history, neighbors.NeighborMethod("nb", tau=0.5))
  pearson_mean = _loo(history, baselines.ModelMeanMethod())
  # A and B rank the models oppositely: the model mean is useless, the similar datasets are not.
  held = sorted(history["dataset"].unique())
  for i, d in enumerate(held):
    if d in ("a0", "b0"):  # the datasets some models were pre-trained on
      assert pearson_nb[i] > 0.9 > pearson_mean[i] + 0.5
  fitted = neighbors.NeighborMethod("nb").fit(history[history.dataset != "a0"])
  sim, source = fitted.dataset_similarity("a0", history[history.dataset == "a0"])
  assert source == "transfer"
  assert sim[list(fitted.datasets).index("a1")] > sim[list(fitted.datasets).index("b1")]


def test_score_similarity_finds_the_planted_dataset_family():
  history = _zoo().drop(columns=["source_data"])
  assert _loo(history, neighbors.NeighborMethod("nb", tau=0.5)).min() > 0.9


def test_models_pretrained_on_the_target_go_first_when_history_says_so():
  history = _zoo()
  history.loc[history.model == "m11", "source_data"] = history.loc[history.model == "m11",
                                                                   "dataset"]
  history.loc[history.model == "m11", "top1"] = 99.0  # pre-trained on each target: the best
  train = history[history.dataset != "b2"].reset_index(drop=True)
  test = history[history.dataset == "b2"].reset_index(drop=True)
  fitted = neighbors.NeighborMethod("nb").fit(train)
  assert fitted.match_first
  predicted = fitted.predict(test)
  assert test["model"][int(np.argmax(predicted))] == "m11"


def test_state_round_trip_and_bad_input():
  history = _zoo()
  train, test = history[history.dataset != "b1"], history[history.dataset == "b1"]
  fitted = neighbors.NeighborMethod("nb", tau=2.0).fit(train)
  arrays, meta = fitted.to_state()
  again = neighbors.NeighborFitted.from_state(arrays, json.loads(json.dumps(meta)))
  np.testing.assert_array_equal(again.predict(test), fitted.predict(test))
  with pytest.raises(ValueError, match="tau"):
    neighbors.NeighborMethod("nb", tau=0.0)
  with pytest.raises(ValueError, match="similarity"):
    neighbors.NeighborMethod("nb", similarity="cosine")
  with pytest.raises(ValueError, match="top1"):
    neighbors.NeighborMethod("nb").fit(train.drop(columns=["top1"]))
  with pytest.raises(ValueError, match="version"):
    neighbors.NeighborFitted.from_state(arrays, {**meta, "neighbors_state_version": 0})


def test_unseen_model_gets_the_median():
  history = _zoo()
  train = history[(history.dataset != "a2") & (history.model != "m3")]
  test = history[history.dataset == "a2"].reset_index(drop=True)
  predicted = neighbors.NeighborMethod("nb").fit_predict(train, test)
  others = np.delete(predicted, int(np.flatnonzero(test.model == "m3")[0]))
  assert predicted[test.model == "m3"][0] == pytest.approx(np.median(others))


def test_prior_table_leaves_the_own_dataset_out_brute_force():
  history = _zoo()
  rows = preprocess.Preprocess("dataset_z", "dataset_z").training_rows(history)
  table = priors.PriorTable.fit(rows["dataset"], rows["model"], rows["top1"])
  got = table.values(rows["dataset"], rows["model"])
  for i in [0, 17, 40, 71]:
    d, m = rows["dataset"][i], rows["model"][i]
    others = rows[(rows.model == m) & (rows.dataset != d)]["top1"]
    assert got[i] == pytest.approx(others.mean(), abs=1e-12)
  new = pd.Series(["new"] * 2), pd.Series(["m0", "unseen"])
  full = rows[rows.model == "m0"]["top1"].mean()
  np.testing.assert_allclose(table.values(*new), [full, np.nan])


def test_model_prior_field_encodes_standardised_and_survives_the_state():
  history = _zoo()
  rows = preprocess.Preprocess("dataset_z", "dataset_z").training_rows(
      history[history.dataset != "a0"])
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields("model_id,model_prior",
                                                            rows.columns))
  pairs = encoder.fit_transform(rows)
  prior = pairs.values[:, 1]
  assert abs(prior.mean()) < 1e-5 and prior.std() == pytest.approx(1.0, abs=1e-5)
  test = history[history.dataset == "a0"]
  again = field_encoding.FeatureEncoder.from_state(json.loads(json.dumps(encoder.get_state())))
  np.testing.assert_array_equal(again.transform(test).values, encoder.transform(test).values)
  with pytest.raises(ValueError, match="prior fields"):
    field_encoding.FeatureEncoder(encoder.fields).fit(rows.drop(columns=["top1"]))


def test_evaluation_config_adds_the_row_and_the_blend_member():
  from configs import setting3  # pylint: disable=import-outside-toplevel
  from guidedrec_jax.recommender import evaluate  # pylint: disable=import-outside-toplevel
  config = setting3.get_config("smoke")
  history = _zoo()
  built = evaluate.build_methods(config, history)
  rows = [m for m in built if isinstance(m, neighbors.NeighborMethod)]
  assert [m.name for m in rows] == ["similar datasets (tau=1)"]
  recommender = built[0]
  assert recommender.name == "recommender" and isinstance(recommender, blend.BlendMethod)
  assert any(isinstance(m, neighbors.NeighborMethod) for m in recommender.members)
  # A blend of it and the model mean weighs the one that ranks the held-out family right.
  method = registry.build(dict(type="blend", penalty=0.0, shrink=0.0, members=[
      dict(type="similar_datasets", tau=0.5), dict(type="model_mean")]))
  fitted = method.fit(history[history.dataset != "a0"])
  assert fitted.weights[0] > 0.9


def test_score_similarity_signs_a_declared_score():
  """An unregistered score needs a declared direction; declared, it finds the family as a
  registered one does (the negated score declared lower-is-better)."""
  history = _zoo().drop(columns=["source_data"])
  flipped = history.assign(ms_otce=-history["ms_logme"]).drop(columns="ms_logme")
  with pytest.raises(ValueError, match="otce"):
    neighbors.NeighborMethod("nb").fit(flipped)
  method = registry.build(dict(type="similar_datasets", tau=0.5), "otce=numeric:S:-")
  assert method.signs == (("otce", -1.0),)
  train, test = flipped[flipped.dataset != "a1"], flipped[flipped.dataset == "a1"]
  fitted = method.fit(train)
  want = neighbors.NeighborMethod("nb", tau=0.5).fit(history[history.dataset != "a1"])
  np.testing.assert_allclose(fitted.predict(test),
                             want.predict(history[history.dataset == "a1"]), atol=1e-12)
  again = neighbors.NeighborFitted.from_state(*fitted.to_state())
  assert again.signs == (("otce", -1.0),)
  np.testing.assert_array_equal(again.predict(test), fitted.predict(test))


def _sourced(seed=0):
  """4 datasets x 9 models of three sources (3 each). On d0 and d1 the `shape` models' source
  head fits the data (LEEP far above the others) and one of them is the best model; on d2
  and d3 no source leads. A new dataset where the `fashion` heads lead."""
  rng = np.random.default_rng(seed)
  sources = ["shape"] * 3 + ["fashion"] * 3 + ["in1k"] * 3
  models = [f"{s}_{i}" for i, s in enumerate(sources)]
  quality = rng.normal(size=9)
  rows = []
  for d in range(4):
    top1 = 50 + 5 * quality + rng.normal(0, 0.5, 9)
    leep = rng.normal(-2.0, 0.05, 9)
    if d < 2:
      leep[:3] = -0.5
      top1[0] = top1.max() + 5
    rows.append(pd.DataFrame({"dataset": f"d{d}", "model": models, "top1": top1,
                              "pretrain_domain": sources, "ms_leep": leep}))
  new_leep = rng.normal(-2.0, 0.05, 9)
  new_leep[3:6] = -0.6
  new = pd.DataFrame({"dataset": "user", "model": models, "pretrain_domain": sources,
                      "ms_leep": new_leep})
  return pd.concat(rows, ignore_index=True), new


def test_source_head_scores_find_models_pretrained_on_data_like_the_target():
  history, new = _sourced()
  matched = neighbors._matched(history)  # pylint: disable=protected-access
  assert set(history[matched]["dataset"]) == {"d0", "d1"}
  assert set(history[matched]["model"]) == {"shape_0", "shape_1", "shape_2"}
  fitted = neighbors.NeighborMethod("similar").fit(history)
  assert fitted.match_first  # a matched model was the best on both datasets that had one
  first = fitted.first_rows(new)
  assert list(new["model"][first]) == ["fashion_3", "fashion_4", "fashion_5"]
  # The blend follows the member's rule: the fashion models rank first, whatever the votes.
  method = registry.build(dict(type="blend", members=[dict(type="model_mean"),
                                                       dict(type="similar_datasets")]))
  order = new["model"].to_numpy()[np.argsort(-method.fit(history).predict(new))]
  assert set(order[:3]) == {"fashion_3", "fashion_4", "fashion_5"}
  # Without a leading source nothing is matched, and no history rule, no lift.
  flat = new.assign(ms_leep=-2.0 + 0.01 * np.tile([0, 1, 2], 3))  # every source alike
  assert not fitted.first_rows(flat).any()
  no_rule = neighbors.NeighborMethod("similar").fit(history[history.dataset.isin(["d2", "d3"])])
  assert no_rule.match_value is None and not no_rule.first_rows(new).any()
