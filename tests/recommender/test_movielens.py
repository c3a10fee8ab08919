"""MovieLens-100k from the recbole wheel: encoding, the seeded split, a tiny training run."""

import importlib.util
import json
import sys
import time

import numpy as np
import pytest

from configs import bench_fm as bench_config
from guidedrec_jax.recommender import fm_benchmark, movielens, train
from tests import shared_data



@pytest.fixture(autouse=True)
def _recbole_installed():
  shared_data.require(importlib.util.find_spec("recbole") is not None,
                      "recbole (which ships MovieLens-100k)")


@pytest.fixture(scope="module")
def ratings():
  return movielens.load_movielens_100k(movielens.SIDE_FIELDS)


def test_encoding(ratings):
  assert ratings.feature_ids.shape == (100_000, 6)
  assert ratings.field_names == ("user", "item", "age", "gender", "occupation", "decade")
  sizes = [len(np.unique(ratings.feature_ids[:, j])) for j in range(6)]
  assert sizes[:4] == [943, 1682, 7, 2]
  # Each field owns a contiguous, disjoint id range, and together they cover 0..n-1.
  lows, highs = ratings.feature_ids.min(axis=0), ratings.feature_ids.max(axis=0)
  np.testing.assert_array_equal(lows[1:], highs[:-1] + 1)
  assert lows[0] == 0 and highs[-1] == ratings.num_features - 1
  assert set(np.unique(ratings.targets)) == {1.0, 2.0, 3.0, 4.0, 5.0}
  assert np.all(ratings.values == 1) and len(np.unique(ratings.groups)) == 943
  # A user's side features are the same on all of that user's rows.
  users = ratings.feature_ids[:, 0]
  for j in (2, 3, 4):
    per_user = {(u, a) for u, a in zip(users, ratings.feature_ids[:, j])}
    assert len(per_user) == 943


def test_base_fields_only():
  pairs = movielens.load_movielens_100k()
  assert pairs.field_names == ("user", "item") and pairs.num_features == 943 + 1682


def test_split_is_seeded_disjoint_and_90_10(ratings):
  small = ratings._replace(feature_ids=np.arange(100_000, dtype=np.int32)[:, None])  # row ids
  train_a, test_a = movielens.split_pairs(small, 0.1, seed=0)
  train_b, test_b = movielens.split_pairs(small, 0.1, seed=0)
  _, test_c = movielens.split_pairs(small, 0.1, seed=1)
  assert len(test_a.targets) == 10_000 and len(train_a.targets) == 90_000
  np.testing.assert_array_equal(test_a.feature_ids, test_b.feature_ids)
  assert not np.array_equal(test_a.feature_ids, test_c.feature_ids)
  assert not set(train_a.feature_ids[:, 0]) & set(test_a.feature_ids[:, 0])


@pytest.mark.parametrize("kwargs, name", [(dict(test_fraction=1.0), "test_fraction"),
                                          (dict(num_rows=1), "num_rows")])
def test_bad_split_arguments(ratings, kwargs, name):
  with pytest.raises(ValueError, match=name):
    movielens.split_pairs(ratings, **kwargs)


def test_unknown_side_field():
  with pytest.raises(ValueError, match="side_fields"):
    movielens.load_movielens_100k(("zip_code",))


def test_tiny_subset_trains_in_seconds():
  pairs = movielens.load_movielens_100k()
  train_rows, test_rows = movielens.split_pairs(pairs, 0.1, seed=0, num_rows=5000)
  start = time.perf_counter()
  result = train.fit(train_rows, train.TrainConfig(learning_rate=0.01, l2=1e-3, epochs=10))
  assert time.perf_counter() - start < 30
  rmse = np.sqrt(np.mean(np.square(train.predict("fm", result.params, test_rows)
                                   - test_rows.targets)))
  baseline = np.sqrt(np.mean(np.square(train_rows.targets.mean() - test_rows.targets)))
  assert rmse < baseline, (rmse, baseline)


def test_benchmark_smoke_writes_tables(tmp_path):
  config = bench_config.get_config("smoke")
  rows = fm_benchmark.run_benchmark(config, tmp_path)
  assert len(rows) == 1 and 0.5 < rows[0]["test_rmse"] < 1.5
  assert {p.name for p in tmp_path.iterdir()} >= {"config.json", "metrics.jsonl",
                                                  "fm_benchmark.csv", "fm_benchmark.md"}
  assert json.loads((tmp_path / "config.json").read_text())["model"] == "fm"


def test_libsvm_lines(tmp_path, ratings):
  path = tmp_path / "rows.txt"
  fm_benchmark.write_libsvm(path, ratings.take(np.arange(2)))
  first = path.read_text().splitlines()[0].split()
  assert float(first[0]) == ratings.targets[0]
  assert [int(t.split(":")[0]) for t in first[1:]] == list(ratings.feature_ids[0])


_FAKE_XLEARN = '''
class _FM:
  def setTrain(self, path): pass
  def setQuiet(self): pass
  def disableNorm(self): pass
  def setTest(self, path): self.test = path
  def fit(self, params, path):
    with open(path, "w") as f:
      f.write(str(params["epoch"]))
  def predict(self, model_path, out_path):
    # Planted: the error of every prediction is 0.01 * |epochs - 10|, so 10 epochs is best.
    epoch = int(open(model_path).read())
    targets = [float(line.split()[0]) for line in open(self.test)]
    with open(out_path, "w") as f:
      f.write("\\n".join(str(t + 0.01 * abs(epoch - 10)) for t in targets) + "\\n")
def create_fm():
  return _FM()
'''


def test_xlearn_best_epoch_is_chosen_on_the_holdout(tmp_path, ratings):
  """A stand-in `xlearn` module (the real one is never a dependency) with a planted best."""
  (tmp_path / "xlearn.py").write_text(_FAKE_XLEARN)
  # `python -c` imports from its working directory: a wrapper runs it in tmp_path.
  python = tmp_path / "python"
  python.write_text(f'#!/bin/sh\ncd "{tmp_path}" && exec "{sys.executable}" "$@"\n')
  python.chmod(0o755)
  rows = ratings.take(np.arange(50))
  out = fm_benchmark.run_xlearn(str(python), rows.take(np.arange(30)),
                                rows.take(np.arange(40, 50)), {}, 50,
                                val_pairs=rows.take(np.arange(30, 40)))
  assert out["best_epoch"] == 10
  assert out["best_test_rmse"] == pytest.approx(0.0, abs=1e-6)
  assert out["test_rmse"] == pytest.approx(0.4, abs=1e-6)  # after all 50 epochs
  assert np.isfinite(out["epoch_seconds"])
