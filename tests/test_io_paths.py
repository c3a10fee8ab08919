"""Tests for the shared-folder helper and the atomic, checked caches."""

import json

import numpy as np
import pytest

from guidedrec_jax import io, paths


def test_shared_dir_honours_env(tmp_path, monkeypatch):
  monkeypatch.setenv(paths.SHARED_ENV, str(tmp_path))
  assert paths.shared_dir() == tmp_path.resolve()


def test_shared_dir_missing_names_both_places(tmp_path, monkeypatch):
  monkeypatch.setenv(paths.SHARED_ENV, str(tmp_path / "nope"))
  monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "a" / "b")
  with pytest.raises(FileNotFoundError, match="nope"):
    paths.shared_dir()
  assert paths.shared_dir(required=False) is None


def test_cache_round_trip_and_expectations(tmp_path):
  path = tmp_path / "f" / "m.npz"
  io.save_arrays(path, {"features": np.ones((3, 2), np.float32)}, {"model": "m", "seed": 1})
  arrays, meta = io.load_arrays(path, expect={"model": "m", "seed": 1})
  np.testing.assert_array_equal(arrays["features"], np.ones((3, 2)))
  assert meta["arrays"] == {"features": [[3, 2], "float32"]}
  with pytest.raises(io.CacheError, match="seed"):
    io.load_arrays(path, expect={"seed": 2})


def test_truncated_cache_is_rejected(tmp_path):
  path = tmp_path / "m.npz"
  io.save_arrays(path, {"x": np.arange(1000.0)}, {})
  path.write_bytes(path.read_bytes()[:100])
  with pytest.raises(io.CacheError, match="unreadable"):
    io.load_arrays(path)


def test_cache_without_sidecar_is_absent(tmp_path):
  path = tmp_path / "m.npz"
  io.save_arrays(path, {"x": np.zeros(2)}, {})
  io.sidecar_path(path).unlink()
  with pytest.raises(FileNotFoundError):
    io.load_arrays(path)


def test_failed_write_leaves_previous_file(tmp_path):
  path = tmp_path / "a.json"
  io.write_json_atomic(path, {"v": 1})
  with pytest.raises(RuntimeError):
    with io.atomic_path(path) as tmp:
      tmp.write_text("half")
      raise RuntimeError("crash")
  assert json.loads(path.read_text()) == {"v": 1}
  assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_write_table_and_metrics(tmp_path):
  csv_path, md_path = io.write_table(tmp_path, "t", [{"a": 1, "b": 0.5}, {"a": 2, "b": 0.25}])
  assert csv_path.read_text().splitlines() == ["a,b", "1,0.5", "2,0.25"]
  assert "| 2 | 0.250 |" in md_path.read_text()
  small = io.markdown_table([{"wd": 5e-4, "zero": 0.0, "neg": -0.004, "noise": -1e-14}])
  assert "| 0.0005 | 0.000 | -0.004 | -0.000 |" in small  # 5e-4 not rounded to 0.001
  writer = io.MetricsWriter(tmp_path)
  writer.write(step=1, loss=0.5)
  assert json.loads(writer.path.read_text())["loss"] == 0.5


def test_json_fingerprint_is_order_free_for_keys_and_follows_values():
  a = io.json_fingerprint({"b": 1, "a": [1, 2]}, "x")
  assert a == io.json_fingerprint({"a": [1, 2], "b": 1}, "x")
  assert a != io.json_fingerprint({"a": [2, 1], "b": 1}, "x")
  assert len(a) == 64
