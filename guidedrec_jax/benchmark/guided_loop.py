"""The guided loop, `recommend.py --dataset=... --finetune_top=k`: fine-tune what was recommended.

The top-k models of the ranking are fine-tuned on the user's dataset with the benchmark's own
HPO grid (`config.sweep`: learning rates x weight decays, epochs, batch size), through the
executor the benchmark's sweep uses (`distributed.executor_from_config(config, "sweep")`:
local processes, or Ray for a `ray_address`), in the torch child (`user_torch` "finetune").
`finetune.run_sweep` makes it exactly-once and resumable: every finished job is appended to
`<workdir>/user/<slug>/sweep/jobs.jsonl` under its deterministic key, a rerun (after a kill)
runs only the jobs missing there, and `sweep/history.csv` holds the best grid point of each
(dataset, model) pair whose whole grid is logged: one history row per fine-tuned model.

Training sizes follow the benchmark's (`guided.guided_sizes`): `config.sweep.num_train`
images and `num_val` held out when the dataset has them, else a quarter held out.

Then the saved recommender is retrained from scratch on every row the run knows, the new
ones included (`recommender_run`'s docstring says why not a warm start), whenever its
training fingerprint differs from those rows', so the next call ranks with them.
"""

from __future__ import annotations

import pathlib
from typing import Any

import ml_collections
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import guided, layout, recommender_run, user_dataset


def finetune_top(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                 user: user_dataset.UserDataset, table: pd.DataFrame, k: int
                 ) -> dict[str, Any]:
  """Fine-tunes the first `k` models of `table` (a ranking); returns the sweep's counts and
  the table of measured beside predicted (`measured`)."""
  models = table["model"].tolist()[:k]
  folder = layout.user_dir(workdir, user.name)
  num_train, num_val = guided.guided_sizes(len(user.dataset), config.sweep)
  request = {"mode": "finetune", "dataset": user_dataset.to_plan(user, config.seed),
             "models": models, "manifest": str(guided.manifest_path(workdir)),
             "sweep": config.sweep.to_dict(), "sweep_dir": str(folder / layout.SWEEP),
             "num_train": num_train, "num_val": num_val, "seed": config.seed,
             "config": config.to_dict()}
  summary = guided.run_child(request, folder)
  history = pd.read_csv(folder / layout.HISTORY)
  shown = ["rank", "model", "predicted_top1", "predicted_low", "predicted_high"]
  measured = table[table["model"].isin(models)][shown].merge(
      history[["model", "top1", "lr", "weight_decay"]].rename(columns={"top1": "measured_top1"}),
      on="model", how="left")
  io.write_table(folder, "guided", measured.to_dict("records"))
  return {**summary, "measured": measured, "num_train": num_train, "num_val": num_val}


def refresh_recommender(config: ml_collections.ConfigDict, workdir: pathlib.Path
                        ) -> bool:
  """Retrains `<workdir>/recommender` if the run's rows changed since it was trained."""
  return recommender_run.ensure_for_run(config, workdir)


def report(result: dict[str, Any], retrained: bool) -> str:
  """The guided loop's lines of the printed report."""
  lines = [f"guided fine-tuning: {result['executed']} jobs run, {result['skipped']} already "
           f"logged (of {result['planned']}); {result['num_train']} training and "
           f"{result['num_val']} validation images", "",
           io.markdown_table(result["measured"].to_dict("records")),
           "saved recommender " + ("retrained with the new rows" if retrained
                                   else "already trained on these rows")]
  return "\n".join(lines)
