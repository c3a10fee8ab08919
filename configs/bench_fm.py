"""FM on MovieLens-100k (seeded 90/10 split): test RMSE and per-epoch time, optionally vs xlearn.

Command (single-threaded; xlearn lives in its own venv, never a project dependency):

  python3 -m venv /tmp/xlearn-venv && /tmp/xlearn-venv/bin/pip install xlearn
  taskset -c 0 .venv/bin/python scripts/bench_fm.py --config=configs/bench_fm.py \
      --workdir=/tmp/bench_fm --config.xlearn_python=/tmp/xlearn-venv/bin/python

Both train on the same 81k rows (90 % split minus a 10 % early-stopping holdout), rank 8.
Ours: dense optax Adam (lr 0.003, l2 3e-4, batch 256), the best holdout loss of a 12-point
grid (dense/row-sparse × batch 128/256 × l2 1e-4/3e-4/1e-3); with n = 2,625 feature rows a
whole-table update is cheaper than gathering and scattering the touched rows and their Adam
moments. xlearn: lr 0.02, lambda 2e-4, init 0.1, 50 epochs (the best of a small grid on the
holdout); its best fit length among 2..50 epochs is also picked on the holdout
(`seconds_to_best`). Neither system's choices ever looked at the test set.

Expected headline: the table `fm_benchmark.md` with one row per system (test RMSE, best
epoch, CPU and wall seconds per epoch, seconds to the best epoch) and the per-epoch ratio
ours / xlearn; compare ratios from one window only (xlearn's epoch time moves 2x with the
load). Measured figures belong in RESULTS.md and closing notes, not here.
The table is workdir/fm_benchmark.{csv,md}; per-epoch records go to metrics.jsonl.
`--config=configs/bench_fm.py:smoke` uses a 5k-row subset, 3 epochs.
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
  config.l2 = 3e-4
  config.epochs = 60
  config.batch_size = 256
  config.patience = 3
  config.row_sparse = False       # dense optax Adam: n = 2,625 rows, cheaper than row gathers
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
