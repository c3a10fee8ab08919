"""Each file contract between the halves lives in one module that both halves import."""

import subprocess
import sys

import numpy as np
import pytest

from guidedrec_jax import io
from guidedrec_jax.contracts import feature_cache, history_columns


def test_contract_modules_import_neither_torch_nor_jax():
  code = ("import sys\n"
          "import guidedrec_jax.contracts.feature_cache, guidedrec_jax.contracts.history_columns\n"
          "assert not {'torch', 'jax'} & set(sys.modules), sorted({'torch', 'jax'} & set(sys.modules))\n")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_both_halves_use_the_contract_objects():
  from guidedrec_jax.finetune import history_writer
  from guidedrec_jax.history import schema
  from guidedrec_jax.scores import zoo as score_zoo
  from guidedrec_jax.zoo import extract
  assert history_writer.HISTORY_COLUMNS is history_columns.HISTORY_COLUMNS
  assert history_writer.write_history is history_columns.write_history
  assert schema.REQUIRED_COLUMNS is history_columns.REQUIRED_COLUMNS
  assert schema.SCORE_COLUMNS is history_columns.SCORE_COLUMNS
  assert extract.feature_cache_path is feature_cache.feature_cache_path
  assert score_zoo.feature_cache_dir is feature_cache.feature_cache_dir


def test_history_written_by_the_contract_is_read_by_the_schema(tmp_path):
  from guidedrec_jax.history import schema
  row = dict(dataset="digits", model="m", top1=50.0, num_train=96, num_classes=10,
             family="f", input_size=32, params_m=1.0, gmacs=0.01, pretrain_domain="random",
             lr=0.05, weight_decay=0.0, epochs=1, seed=0, wall_s=1.0, job_key="k")
  path = history_columns.write_history(tmp_path / "history.csv", [row])
  assert path.read_text().splitlines()[0] == ",".join(history_columns.HISTORY_COLUMNS)
  assert schema.load_history(path)["top1"].tolist() == [50.0]
  del row["gmacs"]
  with pytest.raises(ValueError, match="gmacs"):
    history_columns.write_history(tmp_path / "bad.csv", [row])


def test_load_task_reads_one_probe_set_and_rejects_another(tmp_path):
  labels = np.array([0, 1, 1], np.int64)
  for model, d, probs in (("a", 4, None), ("b", 2, np.full((3, 5), 0.2, np.float32))):
    arrays = {"features": np.ones((3, d), np.float32), "labels": labels}
    if probs is not None:
      arrays["source_probs"] = probs
    io.save_arrays(feature_cache.feature_cache_path(tmp_path, "t", model), arrays, {"m": model})
  loaded = feature_cache.load_task(feature_cache.task_files(tmp_path, "t"))
  assert sorted(loaded.features) == ["a", "b"] and list(loaded.source_probs) == ["b"]
  np.testing.assert_array_equal(loaded.labels, labels)
  io.save_arrays(feature_cache.feature_cache_path(tmp_path, "t", "c"),
                 {"features": np.ones((3, 2), np.float32), "labels": labels[::-1].copy()}, {})
  with pytest.raises(ValueError, match="other probe labels"):
    feature_cache.load_task(feature_cache.task_files(tmp_path, "t"))
  with pytest.raises(FileNotFoundError, match="no feature files"):
    feature_cache.task_files(tmp_path, "missing")
