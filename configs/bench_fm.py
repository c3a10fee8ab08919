"""FM on MovieLens-100k (seeded 90/10 split): test RMSE and per-epoch time, optionally vs xlearn.

Command (single-threaded; xlearn lives in its own venv, never a project dependency):

  python3 -m venv /tmp/xlearn-venv && /tmp/xlearn-venv/bin/pip install xlearn
  taskset -c 0 .venv/bin/python scripts/bench_fm.py --config=configs/bench_fm.py \
      --workdir=/tmp/bench_fm --config.xlearn_python=/tmp/xlearn-venv/bin/python

Both train on the same 81k rows (90 % split minus a 10 % early-stopping holdout), rank 8.
Expected (2-core box, load ~10): ours test RMSE 0.9006 (target ≤ 0.915), best epoch 15 of
18, ≈ 0.018 CPU-s (0.04–0.07 s wall) per epoch; xlearn (lr 0.02, lambda 2e-4, init 0.1, 50
epochs; the best of a small grid on the holdout, not the test set) RMSE 0.9054 at ≈ 0.023
CPU-s per epoch: ratio ≈ 0.8. The table is workdir/fm_benchmark.{csv,md}; per-epoch records
go to metrics.jsonl. `--config=configs/bench_fm.py:smoke` uses a 5k-row subset, 3 epochs.
"""

import ml_collections

from configs.common import parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = parse_arg(arg, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data_dir = ""            # "" = the ml-100k files inside the installed recbole wheel
  config.side_fields = ""         # comma-separated subset of age,gender,occupation,decade
  config.test_fraction = 0.1
  config.holdout_fraction = 0.1   # of the training 90 %, for early stopping
  config.num_rows = 0             # 0 = all 100k ratings; else a seeded subset
  config.model = "fm"
  config.rank = 8
  config.optimizer = "adam"
  config.learning_rate = 0.003
  config.l2 = 1e-3
  config.epochs = 60
  config.batch_size = 256
  config.patience = 3
  config.row_sparse = True
  config.xlearn_python = ""       # a python with xlearn installed; "" skips xlearn
  # xlearn's best of a small grid on the holdout (lr, lambda, init, epochs); see the docstring.
  config.xlearn_lr = 0.02
  config.xlearn_lambda = 2e-4
  config.xlearn_init = 0.1
  config.xlearn_epochs = 50
  if args.smoke:
    config.num_rows = 5000
    config.epochs = 3
    config.xlearn_epochs = 2
  return config
