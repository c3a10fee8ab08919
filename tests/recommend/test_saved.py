"""The saved recommender: save -> load predicts bitwise identically; every mismatch refused."""

import json

import numpy as np
import pandas as pd
import pytest

import guidedrec_jax
from guidedrec_jax.recommender import saved

BLOCK = dict(model="fm", fields="d,m,S_logme", target="raw", score_norm="global_z",
             train=dict(epochs=8, patience=0, rank=3, batch_size=8, learning_rate=0.02))


def history(num_datasets=3, num_models=5, seed=0):
  """A planted history: accuracy = dataset level + model quality + score signal + noise."""
  rng = np.random.default_rng(seed)
  rows = []
  for d in range(num_datasets):
    for m in range(num_models):
      quality = m / num_models
      rows.append(dict(dataset=f"d{d}", model=f"m{m}", top1=40 + 10 * d + 30 * quality
                       + rng.normal(), num_train=100 * (d + 1), num_classes=2 + d,
                       family="a" if m % 2 else "b", input_size=32, params_m=1.0 + m,
                       gmacs=0.1 * (m + 1), pretrain_domain="in1k",
                       ms_logme=quality + 0.1 * rng.normal(), difficulty=float(d)))
  return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trained():
  return saved.train_saved(history(), BLOCK, seeds=(0, 1, 2))


def test_save_load_predicts_bitwise_identically(trained, tmp_path):
  frame = history(num_datasets=1, seed=5).assign(dataset="new").drop(columns="top1")
  frame.loc[0, "model"] = "never_seen"  # a model without history: its meta features only
  mean, spread = saved.predict(trained, frame)
  assert np.isfinite(mean).all() and (spread > 0).all()
  saved.save(trained, tmp_path / "rec")
  loaded = saved.load(tmp_path / "rec", fields="d,m,S_logme", block={"model": "fm"})
  mean2, spread2 = saved.predict(loaded, frame)
  assert mean.tobytes() == mean2.tobytes() and spread.tobytes() == spread2.tobytes()
  assert loaded.seeds == (0, 1, 2) and loaded.meta["fingerprint"] == trained.meta["fingerprint"]
  # Saving again replaces the folder whole (no stale members left behind).
  saved.save(trained._replace(members=trained.members[:1], seeds=(0,),
                              meta={**trained.meta, "seeds": [0]}), tmp_path / "rec")
  assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == [
      "member_0.json", "member_0.npz", "recommender.json"]


def test_members_differ_by_seed(trained):
  frame = history(num_datasets=1, seed=7)
  per_member = [m.predict(frame) for m in trained.members]
  assert not np.array_equal(per_member[0], per_member[1])


def test_fingerprint_follows_the_rows():
  rows = history()
  assert saved.rows_fingerprint(rows) == saved.rows_fingerprint(rows.iloc[::-1])
  changed = rows.copy()
  changed.loc[3, "top1"] += 0.5
  assert saved.rows_fingerprint(changed) != saved.rows_fingerprint(rows)


def test_load_refuses_mismatches(trained, tmp_path):
  path = saved.save(trained, tmp_path / "rec")
  with pytest.raises(ValueError, match="field set 'd,m,S_logme'.*'d,m'"):
    saved.load(path, fields="d,m")
  with pytest.raises(ValueError, match="target='raw'.*'dataset_z'"):
    saved.load(path, block={"target": "dataset_z"})
  manifest = json.loads((path / "recommender.json").read_text())
  (path / "recommender.json").write_text(json.dumps({**manifest, "code_version": "9.9"}))
  with pytest.raises(ValueError, match=f"code version '9.9', this is "
                                       f"'{guidedrec_jax.__version__}'"):
    saved.load(path)
  (path / "recommender.json").write_text(json.dumps(manifest))
  (path / "member_1.npz").write_bytes((path / "member_2.npz").read_bytes())
  with pytest.raises(ValueError, match="member_1.npz is missing or not the file"):
    saved.load(path)
  with pytest.raises(FileNotFoundError, match="no saved recommender"):
    saved.load(tmp_path / "nothing")


def test_train_saved_rejects_bad_arguments():
  with pytest.raises(ValueError, match="seeds"):
    saved.train_saved(history(), BLOCK, seeds=(1, 1))
  with pytest.raises(ValueError, match="top1"):
    saved.train_saved(history().drop(columns="top1"), BLOCK, seeds=(0,))
  with pytest.raises(ValueError, match="unknown keys"):
    saved.train_saved(history(), {**BLOCK, "colour": "red"}, seeds=(0,))
