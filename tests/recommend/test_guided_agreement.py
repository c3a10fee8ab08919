"""The guided loop's check of a ranking against what was measured: brute-force regret and
scipy's Spearman, for the table's order and each member's vote."""

import numpy as np
import pandas as pd
from scipy import stats

from guidedrec_jax.benchmark import guided_loop


def _table():
  rng = np.random.default_rng(0)
  models = [f"m{i}" for i in range(8)]
  return pd.DataFrame({"rank": np.arange(1, 9), "model": models,
                       "z: model mean": rng.normal(size=8), "z: ridge": rng.normal(size=8)})


def test_agreement_is_the_brute_force_regret_and_spearman():
  table = _table()
  measured = pd.Series([60.0, 70.0, 55.0, 65.0, 72.0, 50.0, np.nan, 40.0],
                       index=table["model"]).iloc[::-1]  # any order, one model unmeasured
  got = guided_loop.agreement(table, measured).set_index("ranking")
  assert list(got.index) == ["recommender", "model mean", "ridge"]
  assert (got["models"] == 7).all()
  rows = table[table["model"] != "m6"]
  true = measured.reindex(rows["model"]).to_numpy()
  # The table's order picks m0 (60) first; the best measured is m4 (72); the top three of
  # the order (m0, m1, m2) hold 70.
  assert got.loc["recommender", "regret1"] == 12.0 and got.loc["recommender", "regret3"] == 2.0
  for name in ("model mean", "ridge"):
    vote = rows[f"z: {name}"].to_numpy()
    order = np.argsort(-vote)
    assert got.loc[name, "regret1"] == true.max() - true[order[0]]
    assert got.loc[name, "regret3"] == true.max() - true[order[:3]].max()
    assert got.loc[name, "spearman"] == stats.spearmanr(vote, true)[0]
  assert got.loc["recommender", "spearman"] == stats.spearmanr(-rows["rank"], true)[0]


def test_agreement_on_one_model_and_on_none():
  table = _table()
  one = guided_loop.agreement(table, pd.Series({"m3": 50.0}))
  assert (one["regret1"] == 0).all() and one["spearman"].isna().all() and len(one) == 3
  assert one["regret3"].isna().all()  # any top three holds the one model: no check
  assert guided_loop.agreement(table, pd.Series({"other": 50.0})).empty
