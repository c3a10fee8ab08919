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

The ranking is then checked against what was measured (`agreement`, `guided_agreement.md`):
regret@1 / @3 among the fine-tuned models and Spearman, for the table's order and for each
blend member's vote alone (the model mean's among them) — with `k` = the whole zoo, the true
regret of the recommendation.

Then the saved recommender is retrained from scratch on every row the run knows, the new
ones included (`recommender_run`'s docstring says why not a warm start), whenever its
training fingerprint differs from those rows', so the next call ranks with them.
"""

from __future__ import annotations

import pathlib
from typing import Any

import ml_collections
import numpy as np
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import guided, layout, recommender_run, user_dataset
from guidedrec_jax.recommender import metrics
from guidedrec_jax.recommender.rank import VOTE_PREFIX


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
  checked = agreement(table, measured.set_index("model")["measured_top1"])
  io.write_table(folder, "guided_agreement", checked.to_dict("records"))
  return {**summary, "measured": measured, "agreement": checked, "num_train": num_train,
          "num_val": num_val}


def agreement(table: pd.DataFrame, measured: pd.Series) -> pd.DataFrame:
  """One row per ranking — the table's order (`recommender`), then each member's vote
  column — on the models with a finite `measured` top-1 (indexed by model): their number,
  regret@1 and regret@3 among them (points; regret@3 NaN for 3 models or fewer, where any
  top three holds them all) and Spearman (NaN under 3 models)."""
  rows = table[table["model"].isin(measured.index)]
  true = measured.reindex(rows["model"]).to_numpy(np.float64)
  known = np.isfinite(true)
  columns = ["ranking", "models", "regret1", "regret3", "spearman"]
  if not known.any():
    return pd.DataFrame([], columns=columns)
  rankings = {"recommender": -rows["rank"].to_numpy(np.float64)}
  rankings.update({c[len(VOTE_PREFIX):]: rows[c].to_numpy(np.float64)
                   for c in rows.columns if c.startswith(VOTE_PREFIX)})
  out = []
  for name, values in rankings.items():
    got = metrics.dataset_metrics(values[known], true[known])
    out.append({"ranking": name, "models": int(known.sum()), "regret1": got["regret"],
                "regret3": got["regret3"] if known.sum() > 3 else np.nan,
                "spearman": got["spearman"]})
  return pd.DataFrame(out, columns=columns)


def refresh_recommender(config: ml_collections.ConfigDict, workdir: pathlib.Path
                        ) -> bool:
  """Retrains `<workdir>/recommender` if the run's rows changed since it was trained."""
  return recommender_run.ensure_for_run(config, workdir)


def report(result: dict[str, Any], retrained: bool) -> str:
  """The guided loop's lines of the printed report."""
  lines = [f"guided fine-tuning: {result['executed']} jobs run, {result['skipped']} already "
           f"logged (of {result['planned']}); {result['num_train']} training and "
           f"{result['num_val']} validation images", "",
           io.markdown_table(result["measured"].to_dict("records")), "",
           "the ranking against the measured top-1 (regret among the fine-tuned models):",
           io.markdown_table(result["agreement"].to_dict("records")),
           "saved recommender " + ("retrained with the new rows" if retrained
                                   else "already trained on these rows")]
  return "\n".join(lines)
