"""The saved recommender: save -> load predicts bitwise identically; every mismatch refused."""

import json

import numpy as np
import pytest

import guidedrec_jax
from guidedrec_jax.recommender import baselines, blend, registry, saved
from tests.recommender import histories

BLOCK = dict(type="blend", members=[dict(type="model_mean"),
                                    dict(type="column", column="ms_logme"),
                                    dict(type="ridge", fields="d,m,S")])


def _history():
  return histories.history(4, 6, seed=0)


@pytest.fixture(scope="module")
def trained():
  return saved.train_saved(_history(), BLOCK)


def test_save_load_predicts_bitwise_identically(trained, tmp_path):
  frame = histories.new_dataset(6)
  assert isinstance(trained.fitted, blend.BlendFitted)
  assert trained.name == registry.label(BLOCK) and trained.meta["block"] == registry.resolve(
      BLOCK)
  before = trained.fitted.predict_interval(frame)
  assert all(np.isfinite(part).all() for part in before)
  saved.save(trained, tmp_path / "rec")
  loaded = saved.load(tmp_path / "rec", BLOCK)
  after = loaded.fitted.predict_interval(frame)
  for a, b in zip(before, after):
    assert a.tobytes() == b.tobytes()
  assert loaded.fitted.predict(frame).tobytes() == trained.fitted.predict(frame).tobytes()
  assert loaded.meta["fingerprint"] == trained.meta["fingerprint"]
  assert loaded.meta["datasets"] == ["d0", "d1", "d2", "d3"]
  # Saving again replaces the folder whole (no stale state left behind).
  column = saved.train_saved(_history(), dict(type="column", column="ms_logme"))
  saved.save(column, tmp_path / "rec")
  assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == [
      "recommender.json", "state.json", "state.npz"]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]  # no temporary folder left
  assert isinstance(saved.load(tmp_path / "rec").fitted, baselines.ColumnFitted)


def test_fingerprint_follows_the_rows():
  rows = _history()
  assert saved.rows_fingerprint(rows) == saved.rows_fingerprint(rows.iloc[::-1])
  changed = rows.copy()
  changed.loc[3, "top1"] += 0.5
  assert saved.rows_fingerprint(changed) != saved.rows_fingerprint(rows)
  score = rows.copy()
  score.loc[3, "ms_logme"] += 0.5
  assert saved.rows_fingerprint(score) != saved.rows_fingerprint(rows)


def test_load_refuses_mismatches(trained, tmp_path):
  path = saved.save(trained, tmp_path / "rec")
  with pytest.raises(ValueError, match="another method block \\(keys \\['shrink'\\] differ"):
    saved.load(path, {**BLOCK, "shrink": 0.5})
  with pytest.raises(ValueError, match="keys \\['members'\\] differ"):
    saved.load(path, {**BLOCK, "members": BLOCK["members"][:2]})
  with pytest.raises(ValueError,
                     match="keys \\['column', 'gate', 'max_inner_folds', .*'type'\\] differ"):
    saved.load(path, dict(type="column", column="ms_logme"))
  assert saved.load(path, registry.resolve(BLOCK)).name == trained.name  # defaults spelt out
  manifest = json.loads((path / "recommender.json").read_text())
  (path / "recommender.json").write_text(json.dumps({**manifest, "code_version": "9.9"}))
  with pytest.raises(ValueError, match=f"code version '9.9', this is "
                                       f"'{guidedrec_jax.__version__}'"):
    saved.load(path)
  (path / "recommender.json").write_text(json.dumps({**manifest, "format_version": 1}))
  with pytest.raises(ValueError, match="format version 1"):
    saved.load(path)
  (path / "recommender.json").write_text(json.dumps(manifest))
  saved.load(path)  # intact again
  state = (path / "state.npz").read_bytes()
  (path / "state.npz").write_bytes(state[:-10] + bytes(10))
  with pytest.raises(ValueError, match="state.npz is missing or not the file"):
    saved.load(path)
  (path / "state.npz").write_bytes(state)
  sidecar = json.loads((path / "state.json").read_text())
  (path / "state.json").write_text(json.dumps({**sidecar, "meta": {}}))
  with pytest.raises(ValueError, match="state.json is missing or not the file"):
    saved.load(path)
  (path / "state.json").unlink()
  with pytest.raises(ValueError, match="state.json is missing"):
    saved.load(path)
  with pytest.raises(FileNotFoundError, match="no saved recommender"):
    saved.load(tmp_path / "nothing")


def test_train_saved_rejects_bad_arguments():
  with pytest.raises(ValueError, match="top1"):
    saved.train_saved(_history().drop(columns="top1"), BLOCK)
  with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
    saved.train_saved(_history(), {**BLOCK, "colour": "red"})
  with pytest.raises(ValueError, match="unknown keys \\['l3'\\]"):
    saved.train_saved(_history(), {**BLOCK, "members": [dict(type="ridge", l3=1.0)]})
  with pytest.raises(ValueError, match="otce"):
    saved.train_saved(_history().assign(ms_otce=1.0), dict(type="column", column="ms_otce"))
  declared = saved.train_saved(_history().assign(ms_otce=1.0),
                               dict(type="column", column="ms_otce"), "otce=numeric:S:-")
  assert declared.fitted.sign == -1.0 and declared.meta["declared"] == "otce=numeric:S:-"
