"""The user's scale: the level regression and spread against brute force, the chance mapping,
and the ranked table's [chance, 100] predictions agreeing with its order."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import rank, registry, scale
from tests.recommender import histories

CLASSES = [5, 10, 20, 50, 100, 200]
TRAIN = [3000, 500, 8000, 1200, 20000, 700]


def _planted():
  """Levels linear in log(classes): more classes, a lower chance-free level."""
  levels = [0.9 - 0.1 * np.log(c) for c in CLASSES]
  return histories.leveled(CLASSES, TRAIN, levels, spread=0.05), np.array(levels)


def test_fit_scale_against_brute_force():
  history, levels = _planted()
  fitted = scale.fit_scale(history)
  assert fitted.names == ("num_train", "num_classes")
  x = np.log(np.column_stack([TRAIN, CLASSES]).astype(float))
  centre, width = x.mean(0), x.std(0)
  xs = (x - centre) / width
  coef = np.linalg.solve(xs.T @ xs + scale.PENALTY_PER_DATASET * 6 * np.eye(2),
                         xs.T @ (levels - levels.mean()))
  np.testing.assert_allclose(fitted.centre, centre, rtol=1e-12)
  np.testing.assert_allclose(fitted.width, width, rtol=1e-12)
  np.testing.assert_allclose(fitted.coef, coef, rtol=1e-9, atol=1e-12)
  assert fitted.mean_level == pytest.approx(levels.mean(), rel=1e-12)
  assert fitted.spread == pytest.approx(0.05, rel=1e-9)
  residual = np.sqrt(np.mean((levels - levels.mean() - xs @ coef) ** 2))
  assert fitted.level_residual == pytest.approx(residual, rel=1e-9)
  # The direction: more classes, a lower level.
  assert fitted.coef[1] < 0
  rows = pd.DataFrame({"num_train": [2000, 2000], "num_classes": [3, 1000]})
  few, many = fitted.level(rows)
  assert few > many
  # Never extrapolated: beyond the training range counts as its nearest end.
  ends = fitted.level(pd.DataFrame({"num_train": [2000, 2000], "num_classes": [5, 200]}))
  np.testing.assert_array_equal([few, many], ends)


def test_chance_mapping_of_one_row_by_hand():
  history, _ = _planted()
  fitted = scale.fit_scale(history)
  row = pd.DataFrame({"num_train": [1500], "num_classes": [4], "dataset": ["new"]})
  z, residual = 0.7, 0.3
  # 4 classes lie below the history's 5: the descriptor is clipped to the training range.
  x = (np.log([1500.0, 5.0]) - fitted.centre) / fitted.width
  level = fitted.mean_level + x @ fitted.coef
  half = np.sqrt((fitted.spread * residual) ** 2 + fitted.level_residual ** 2)
  want = [25.0 + 75.0 * np.clip(a, 0, 1) for a in (level + fitted.spread * z,
                                                     level + fitted.spread * z - half,
                                                     level + fitted.spread * z + half)]
  got = fitted.top1(row, np.array([z]), residual)
  np.testing.assert_allclose(np.ravel(got), want, rtol=1e-12)
  # Far beyond the history: clipped to chance and to 100.
  low, high = fitted.top1(row, np.array([-1e3]), 0.0)[0], fitted.top1(row, np.array([1e3]), 0.0)[0]
  assert low.item() == 25.0 and high.item() == 100.0
  np.testing.assert_array_equal(
      scale.chance(pd.DataFrame({"num_classes": [2, 1, np.nan, 50]})), [50.0, 0, 0, 2.0])
  assert not scale.chance(pd.DataFrame({"x": [1]})).any()


def test_scale_state_round_trip_and_refusal():
  fitted = scale.fit_scale(_planted()[0])
  again = scale.ScaleFitted.from_state(*fitted.to_state())
  rows = pd.DataFrame({"num_train": [10, 1e5], "num_classes": [2, 300]})
  np.testing.assert_array_equal(again.level(rows), fitted.level(rows))
  arrays, meta = fitted.to_state()
  with pytest.raises(ValueError, match="shape"):
    scale.ScaleFitted.from_state({**arrays, "coef": np.zeros(3)}, meta)
  with pytest.raises(ValueError, match="version"):
    scale.ScaleFitted.from_state(arrays, {**meta, "scale_state_version": 0})


BLEND = dict(type="blend", members=[dict(type="model_mean"),
                                    dict(type="column", column="ms_logme"),
                                    dict(type="ridge", fields="d,m")])


@pytest.mark.parametrize("num_classes", [2, 37, 1000])
def test_ranked_predictions_lie_in_chance_100_and_follow_the_order(num_classes):
  """Wide spreads: the worst models' intervals reach chance and the best ones' 100 (the
  clips); 2 classes lie far below every training dataset's class count, 1000 far above
  (the level is taken at the nearest end of the history's range)."""
  levels = [0.95 - 0.15 * np.log(c) for c in CLASSES]
  history = histories.leveled(CLASSES, TRAIN, levels, num_models=15, spread=0.3, seed=3)
  fitted = registry.build(BLEND).fit(history)
  assert fitted.rho > 0.9  # the planted ranking is learnt
  rows = history[history.dataset == "d0"].assign(dataset="new", num_classes=num_classes,
                                                num_train=900).drop(columns="top1")
  table = rank.rank(fitted, rows)
  chance = 100.0 / num_classes
  top1, low, high = (table[c].to_numpy() for c in ("predicted_top1", "predicted_low",
                                                   "predicted_high"))
  assert np.all((chance <= low) & (low <= top1) & (top1 <= high) & (high <= 100.0))
  assert np.all(np.diff(table["score"]) <= 0) and np.all(np.diff(top1) <= 0)
  assert list(table["rank"]) == list(range(1, len(table) + 1))
  assert low[-1] == chance and high[0] == 100.0  # the clips engaged
  assert top1[0] - top1[-1] > 25  # a real spread of predictions, not a constant
  assert {f"z: {name}" for name in fitted.names} <= set(table.columns)
  # Filters keep rows, never change a prediction.
  kept = rank.rank(fitted, rows, {"max_params": 8.0})
  assert set(kept["model"]) == set(rows.loc[rows["params_m"] <= 8.0, "model"])
  merged = kept.merge(table, on="model", suffixes=("", "_all"))
  np.testing.assert_array_equal(merged["predicted_top1"], merged["predicted_top1_all"])
  np.testing.assert_array_equal(merged["score"], merged["score_all"])


def test_rank_checks_its_input():
  history = histories.history(3, 5)
  fitted = registry.build(dict(type="column", column="ms_logme")).fit(history)
  rows = history[history.dataset == "d0"]
  table = rank.rank(fitted, rows)
  assert table["predicted_top1"].isna().all()  # a column has no scale
  np.testing.assert_array_equal(table["measured_top1"],
                                rows.set_index("model").loc[table["model"], "top1"])
  with pytest.raises(ValueError, match="one dataset's zoo"):
    rank.rank(fitted, history)
  with pytest.raises(ValueError, match="unknown filters \\['max_size'\\]"):
    rank.rank(fitted, rows, {"max_size": 3})
  with pytest.raises(ValueError, match="max_params must be a number >= 0"):
    rank.check_filters({"max_params": -1})
  with pytest.raises(ValueError, match="the string 'vit'"):
    rank.check_filters({"families": "vit"})
  with pytest.raises(ValueError, match="models \\['m9'\\] are not in the zoo"):
    rank.keep_mask(rows, {"models": ["m9"]})
  with pytest.raises(ValueError, match="leave no zoo model"):
    rank.keep_mask(rows, {"max_params": 0.5})
  np.testing.assert_array_equal(rank.keep_mask(rows, {"families": ["vit"]}),
                                rows["family"].to_numpy() == "vit")
