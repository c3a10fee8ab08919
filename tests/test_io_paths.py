"""Tests for the shared-folder helper and the atomic, checked caches."""

import hashlib
import json
import zipfile

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
  with pytest.raises(io.CacheError, match="damaged"):
    io.load_arrays(path)


def test_sidecar_records_the_sha256_of_the_file(tmp_path):
  path = tmp_path / "m.npz"
  io.save_arrays(path, {"x": np.arange(10.0)}, {})
  _, meta = io.load_arrays(path)
  assert meta[io.CONTENT_HASH] == hashlib.sha256(path.read_bytes()).hexdigest()
  assert io.file_sha256(path) == meta[io.CONTENT_HASH]
  assert io.verify_arrays(path) == meta and io.verified_sha256(path) == meta[io.CONTENT_HASH]


def _flip(path, offset):
  data = bytearray(path.read_bytes())
  data[offset] ^= 0xFF
  path.write_bytes(bytes(data))


def test_flipped_byte_is_caught_even_when_the_zip_still_opens(tmp_path):
  path = tmp_path / "m.npz"
  x = np.arange(100.0)
  io.save_arrays(path, {"x": x}, {})
  # Byte 10 of a zip's first local header is its modification time: no reader checks it
  # (zipfile reads the central directory's), so numpy still loads the very same array.
  _flip(path, 10)
  with np.load(path, allow_pickle=False) as data:
    np.testing.assert_array_equal(data["x"], x)
  with pytest.raises(io.CacheError, match="damaged"):
    io.load_arrays(path)
  with pytest.raises(io.CacheError, match="damaged"):
    io.verify_arrays(path)


def test_flipped_data_byte_is_caught(tmp_path):
  path = tmp_path / "m.npz"
  io.save_arrays(path, {"x": np.arange(100.0)}, {})
  with zipfile.ZipFile(path) as archive:
    info = archive.getinfo("x.npy")
  _flip(path, info.header_offset + 30 + len(info.filename) + len(info.extra) + 200)
  with pytest.raises(io.CacheError, match="damaged"):
    io.load_arrays(path)


def test_sidecar_without_hash_means_recompute(tmp_path):
  path = tmp_path / "m.npz"
  io.save_arrays(path, {"x": np.zeros(2)}, {"model": "m"})
  side = io.sidecar_path(path)
  meta = json.loads(side.read_text())
  del meta[io.CONTENT_HASH]  # as written before content hashes were recorded
  side.write_text(json.dumps(meta))
  with pytest.raises(io.CacheError, match=io.CONTENT_HASH):
    io.load_arrays(path, expect={"model": "m"})


def test_verified_sha256_logs_the_damaged_file(tmp_path, caplog):
  path = tmp_path / "m.npz"
  assert io.verified_sha256(path) is None and not caplog.records  # missing: no warning
  io.save_arrays(path, {"x": np.arange(100.0)}, {})
  path.write_bytes(path.read_bytes()[:50])
  assert io.verified_sha256(path) is None
  assert [r.levelname for r in caplog.records] == ["WARNING"]
  assert str(path) in caplog.text and "damaged" in caplog.text
  io.sidecar_path(path).write_text("{not json")
  assert io.verified_sha256(path) is None and "not valid JSON" in caplog.text


def test_stamp_vouches_for_its_outputs(tmp_path, caplog):
  out = tmp_path / "stage" / "table.csv"
  out.parent.mkdir()
  out.write_text("a,b\n1,2\n")
  stamp = out.parent / "stamp.json"
  io.write_stamp(stamp, [out], fingerprint="f1")
  record = io.verified_stamp(stamp)
  assert record["fingerprint"] == "f1" and list(record["outputs"]) == ["table.csv"]
  moved = tmp_path / "moved"
  (tmp_path / "stage").rename(moved)  # recorded relative: a moved folder keeps its stamp
  stamp, out = moved / "stamp.json", moved / "table.csv"
  assert io.verified_stamp(stamp) == record and not caplog.records
  out.write_text("a,b\n1,")  # truncated
  assert io.verified_stamp(stamp) is None
  assert "table.csv is damaged or changed" in caplog.text
  out.unlink()
  assert io.verified_stamp(stamp) is None and "table.csv is missing" in caplog.text
  stamp.write_text(json.dumps({"fingerprint": "f1"}))  # a stamp from before output hashes
  assert io.verified_stamp(stamp) is None and "records no output hashes" in caplog.text
  stamp.write_text('{"fingerprint": "f')
  assert io.verified_stamp(stamp) is None and "not valid JSON" in caplog.text
  assert io.read_json(stamp) is None and io.read_json(moved / "absent.json") is None


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
  # A missing value (a model without a source head has no LEEP) reads as the README shows it.
  assert "| 1.000 | – |" in io.markdown_table([{"a": 1.0, "ms_leep": float("nan")}])
  writer = io.MetricsWriter(tmp_path)
  writer.write(step=1, loss=0.5)
  assert json.loads(writer.path.read_text())["loss"] == 0.5


def test_json_fingerprint_is_order_free_for_keys_and_follows_values():
  a = io.json_fingerprint({"b": 1, "a": [1, 2]}, "x")
  assert a == io.json_fingerprint({"a": [1, 2], "b": 1}, "x")
  assert a != io.json_fingerprint({"a": [2, 1], "b": 1}, "x")
  assert len(a) == 64
