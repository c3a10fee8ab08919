"""FM on MovieLens-100k: our trainer against xlearn on the same seeded 90/10 split.

xlearn is never a dependency of this project: if the caller names a Python executable that
has it (e.g. `/tmp/xlearn-venv/bin/python`), the split is written as libsvm text files to a
temporary folder and xlearn's FM runs in that separate process. Its per-epoch time is the
difference between two fits of different lengths divided by the difference in epochs, which
cancels the fixed cost of loading the data (a warm-up fit first builds xlearn's binary cache);
ours is the median of the timed epochs after the first (which compiles). Both run
single-threaded (the caller pins XLA's threads; xlearn gets nthread=1).
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import tempfile
from typing import Any

import numpy as np

from guidedrec_jax import io
from guidedrec_jax.recommender import movielens, train
from guidedrec_jax.recommender.pairs import EncodedPairs

# Runs inside the xlearn interpreter (which need not have numpy): argv = train, val, test,
# workdir, params JSON, epoch counts JSON; prints one {seconds, cpu_seconds, val_predictions,
# predictions} per count.
_XLEARN_SCRIPT = """
import json, sys, time
import xlearn as xl
train_path, val_path, test_path, workdir, params, epochs = sys.argv[1:]
def predict(epoch, path, name):
  model.setTest(path)
  model.predict(f"{workdir}/model_{epoch}.out", f"{workdir}/{name}_{epoch}.txt")
  with open(f"{workdir}/{name}_{epoch}.txt") as f:
    return [float(line) for line in f]
params, result = json.loads(params), []
for epoch in json.loads(epochs):
  model = xl.create_fm()
  model.setTrain(train_path)
  model.setQuiet()  # no per-epoch training-loss pass
  model.disableNorm()  # the same model as ours (xlearn would scale each row to unit norm)
  start, start_cpu = time.perf_counter(), time.process_time()
  model.fit(dict(params, epoch=epoch, nthread=1), f"{workdir}/model_{epoch}.out")
  seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
  result.append({"seconds": seconds, "cpu_seconds": cpu_seconds,
                 "val_predictions": predict(epoch, val_path, "val"),
                 "predictions": predict(epoch, test_path, "pred")})
print(json.dumps(result))
"""


def write_libsvm(path: pathlib.Path, pairs: EncodedPairs) -> None:
  """Writes rows as `target id:value ...` (libsvm, what xlearn's FM reads)."""
  lines = [" ".join([f"{target:g}"] + [f"{i}:{v:g}" for i, v in zip(ids, values)])
           for target, ids, values in zip(pairs.targets, pairs.feature_ids, pairs.values)]
  io.write_text_atomic(path, "\n".join(lines) + "\n")


def run_xlearn(python: str, train_pairs: EncodedPairs, test_pairs: EncodedPairs,
               params: dict[str, Any], epochs: int,
               val_pairs: EncodedPairs | None = None) -> dict[str, float]:
  """Fits xlearn's FM in `python` for 1 and `epochs` epochs (and for `CHECKPOINTS` below it).

  Returns:
    test_rmse (after `epochs`), epoch_seconds (wall) and epoch_cpu_seconds (process CPU,
    steadier on a shared machine); with `val_pairs`, also best_epoch: the fit length among
    the checkpoints and `epochs` with the lowest holdout RMSE (xlearn has no early stopping
    of ours; chosen on the holdout, never the test set) and best_test_rmse at it.


  Raises:
    ValueError: `epochs` < 2 (the per-epoch time needs two fit lengths).
    RuntimeError: the xlearn process failed (e.g. xlearn missing), with its stderr.
  """
  if epochs < 2:
    raise ValueError(f"epochs must be >= 2 for xlearn timing, got {epochs}")
  with tempfile.TemporaryDirectory(prefix="xlearn-") as tmp:
    folder = pathlib.Path(tmp)
    write_libsvm(folder / "train.txt", train_pairs)
    write_libsvm(folder / "test.txt", test_pairs)
    write_libsvm(folder / "val.txt", test_pairs if val_pairs is None else val_pairs)
    counts = [1, 1, epochs] + [c for c in CHECKPOINTS if c < epochs]
    done = subprocess.run(
        [python, "-c", _XLEARN_SCRIPT, str(folder / "train.txt"), str(folder / "val.txt"),
         str(folder / "test.txt"), tmp, json.dumps(params), json.dumps(counts)],
        capture_output=True, text=True, check=False,
        # xlearn builds a std::string from getenv("USER") and aborts when it is unset.
        env={**os.environ, "USER": os.environ.get("USER") or "xlearn"})
  if done.returncode != 0:
    raise RuntimeError(f"xlearn in {python} failed (exit {done.returncode}): {done.stderr[-2000:]}")
  runs = json.loads(done.stdout.strip().splitlines()[-1])
  # The first fit only converts the text to xlearn's binary cache, which later fits reuse.
  _, short, full = runs[:3]
  out = {"test_rmse": _rmse(full["predictions"], test_pairs.targets),
         "epoch_seconds": (full["seconds"] - short["seconds"]) / (epochs - 1),
         "epoch_cpu_seconds": (full["cpu_seconds"] - short["cpu_seconds"]) / (epochs - 1)}
  if val_pairs is not None:
    val_rmse = {count: _rmse(run["val_predictions"], val_pairs.targets)
                for count, run in zip(counts[1:], runs[1:])}
    best = min(val_rmse, key=lambda count: (val_rmse[count], count))
    out["best_epoch"] = best
    out["best_test_rmse"] = _rmse(runs[counts.index(best, 1)]["predictions"],
                                  test_pairs.targets)
  return out


# Shorter xlearn fits whose holdout RMSE finds its best epoch count (time-to-best).
CHECKPOINTS = (2, 5, 10, 15, 20, 30, 40)


def _rmse(predictions, targets: np.ndarray) -> float:
  return float(np.sqrt(np.mean(np.square(np.asarray(predictions, np.float64) - targets))))


def train_config(config) -> train.TrainConfig:
  """Builds the `TrainConfig` of ours from the benchmark config (`configs/bench_fm.py`)."""
  return train.TrainConfig(
      model=config.model, rank=config.rank, optimizer=config.optimizer,
      learning_rate=config.learning_rate, l2=config.l2, epochs=config.epochs,
      batch_size=config.batch_size, loss="squared", patience=config.patience,
      seed=config.seed, row_sparse=config.row_sparse)


def run_benchmark(config, workdir: str | pathlib.Path) -> list[dict[str, Any]]:
  """Runs the benchmark, writes config.json, metrics.jsonl and `fm_benchmark` tables.

  Args:
    config: see `configs/bench_fm.py`; `xlearn_python` empty skips xlearn.
    workdir: output folder.

  Returns:
    The table rows (also printed by the script): one for ours, one for xlearn if run.
  """
  workdir = pathlib.Path(workdir)
  io.write_config(workdir, config)
  side = tuple(filter(None, config.side_fields.split(",")))
  pairs = movielens.load_movielens_100k(side, data_dir=config.data_dir or None)
  train_pairs, test_pairs = movielens.split_pairs(pairs, config.test_fraction, config.seed,
                                                  config.num_rows or None)
  # The early-stopping holdout is carved here, so that xlearn trains on the very same rows.
  fit_pairs, val_pairs = movielens.split_pairs(train_pairs, config.holdout_fraction,
                                               config.seed + 1)
  result = train.fit(fit_pairs, train_config(config), val=val_pairs)
  metrics = io.MetricsWriter(workdir)
  for record in result.history:
    metrics.write(system="ours", **record)
  timed = result.history[1:] or result.history  # the first epoch includes compilation
  epoch_seconds = statistics.median(r["seconds"] for r in timed)
  ours = {"system": f"guidedrec_jax {config.model} ({config.optimizer}, "
                    f"{'row-sparse' if config.row_sparse else 'dense'}, batch {config.batch_size})",
          "test_rmse": _rmse(train.predict(config.model, result.params, test_pairs),
                             test_pairs.targets),
          "epoch_seconds": epoch_seconds,
          "epoch_cpu_seconds": statistics.median(r["cpu_seconds"] for r in timed),
          "epochs_run": len(result.history), "best_epoch": result.best_epoch,
          # Training time until the epoch early stopping keeps, compilation left out (the
          # first epoch counted at the median); validation passes are not counted for
          # either system.
          "seconds_to_best": epoch_seconds + sum(r["seconds"]
                                                 for r in result.history[1:result.best_epoch]),
          "train_rows": len(fit_pairs.targets), "ratio_to_xlearn": "",
          "cpu_ratio_to_xlearn": ""}
  rows = [ours]
  if config.xlearn_python:
    params = {"task": "reg", "k": config.rank, "lr": config.xlearn_lr,
              "lambda": config.xlearn_lambda, "init": config.xlearn_init}
    # Same rows as ours; a fixed epoch count, since its timing compares two fit lengths.
    xlearn = run_xlearn(config.xlearn_python, fit_pairs, test_pairs, params,
                        config.xlearn_epochs, val_pairs=val_pairs)
    metrics.write(system="xlearn", **xlearn)
    rows.append({"system": f"xlearn fm (adagrad, per-sample, lr {config.xlearn_lr})",
                 "test_rmse": xlearn["test_rmse"], "epoch_seconds": xlearn["epoch_seconds"],
                 "epoch_cpu_seconds": xlearn["epoch_cpu_seconds"],
                 "epochs_run": config.xlearn_epochs, "best_epoch": xlearn["best_epoch"],
                 "seconds_to_best": xlearn["best_epoch"] * xlearn["epoch_seconds"],
                 "train_rows": len(fit_pairs.targets), "ratio_to_xlearn": 1.0,
                 "cpu_ratio_to_xlearn": 1.0})
    ours["ratio_to_xlearn"] = ours["epoch_seconds"] / xlearn["epoch_seconds"]
    ours["cpu_ratio_to_xlearn"] = ours["epoch_cpu_seconds"] / xlearn["epoch_cpu_seconds"]
  io.write_table(workdir, "fm_benchmark", rows)
  return rows
