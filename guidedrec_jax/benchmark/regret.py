"""What the recommender saves a user: regret@k, each benchmark task held out in turn.

For each task of a run's history, every method is fitted on the other tasks only
(`protocols.leave_one_dataset_out`, the folds of every table) and ranks the held-out task's
zoo; a user who fine-tunes the top k models gets the best measured top-1 among them.
Regret@k is the zoo's best measured top-1 minus that (percentage points; 0: the best model
was among the k; `recommender.metrics.topk_regret`, ties at the k-th place averaged).
Methods: the run's recommender (`config.recommender`, what `recommend.py` ranks by), the
model mean, the similar datasets, and each raw MS score of the history, signed by its
declared or registered direction.

Writes `<workdir>/regret/`: `per_task.{csv,md}` (method, task, k, regret),
`regret_at_k.{csv,md}` (per method: mean regret@k over tasks for each k) and
`regret_vs_k.png`; the summary rows also go to the run's `metrics.jsonl`.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from guidedrec_jax import io  # noqa: E402
from guidedrec_jax.benchmark import layout, recommender_run  # noqa: E402
from guidedrec_jax.recommender import evaluate, metrics, protocols, registry  # noqa: E402

KS = (1, 3, 5)


def method_table(history: pd.DataFrame, recommender: Any, declared: str = ""
                 ) -> list[protocols.Method]:
  """The compared methods (see the module docstring), built by the registry."""
  blocks = [dict(type="model_mean"), dict(type="similar_datasets"),
            *registry.score_columns(history, declared)]
  return [registry.build({**registry.resolve(recommender), "name": evaluate.RECOMMENDER}, declared),
          *(registry.build(b, declared) for b in blocks)]


def leave_one_task_out(history: pd.DataFrame, methods: Sequence[protocols.Method],
                       ks: Sequence[int] = KS) -> pd.DataFrame:
  """Rows (method, task, k, regret) for every task of `history` held out in turn.

  Raises:
    ValueError: fewer than two tasks, or a k < 1.
  """
  tasks = sorted(history["dataset"].unique())
  if len(tasks) < 2:
    raise ValueError(f"history needs >= 2 tasks to hold one out, got {tasks}")
  if not ks or min(ks) < 1:
    raise ValueError(f"ks must be positive ints, got {tuple(ks)}")
  history = history.reset_index(drop=True)
  names = history["dataset"].to_numpy()
  measured = history["top1"].to_numpy(np.float64)
  rows = []
  for method in methods:
    predicted = protocols.leave_one_dataset_out(history, method).score
    for task in tasks:
      at = names == task
      for k in ks:
        rows.append({"method": method.name, "task": task, "k": int(k),
                     "regret": metrics.topk_regret(predicted[at], measured[at], int(k))})
  return pd.DataFrame(rows)


def summarize(per_task: pd.DataFrame) -> pd.DataFrame:
  """One row per method: mean regret@k over tasks, one column per k (`regret@<k>`)."""
  wide = per_task.pivot_table(index="method", columns="k", values="regret", aggfunc="mean",
                              sort=False)
  wide.columns = [f"regret@{k}" for k in wide.columns]
  return wide.reset_index()


def plot_regret(summary: pd.DataFrame, path: pathlib.Path, title: str) -> None:
  """Mean regret (points) against k, one line per method."""
  fig, ax = plt.subplots(figsize=(6.5, 4))
  ks = [int(c.split("@")[1]) for c in summary.columns if c.startswith("regret@")]
  for _, row in summary.iterrows():
    ax.plot(ks, [row[f"regret@{k}"] for k in ks], marker="o", label=row["method"])
  ax.set_xlabel("k (models fine-tuned, best predicted first)")
  ax.set_ylabel("mean regret@k (top-1 points)")
  ax.set_xticks(ks)
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=7)
  fig.tight_layout()
  with io.atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=110)
  plt.close(fig)


def run_regret(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
               ks: Sequence[int] = KS) -> dict[str, Any]:
  """Regret@k of a finished benchmark run's tasks; writes `<workdir>/regret/` (see above)."""
  start = time.perf_counter()
  workdir = pathlib.Path(workdir)
  history = recommender_run.run_history(config, workdir)
  history = history[history["dataset"].isin(config.tasks)].reset_index(drop=True)
  per_task = leave_one_task_out(
      history, method_table(history, config.recommender, config.evaluation.history.fields), ks)
  summary = summarize(per_task)
  out = workdir / layout.REGRET
  io.write_table(out, "per_task", per_task.to_dict("records"))
  csv_path, md_path = io.write_table(out, "regret_at_k", summary.to_dict("records"))
  plot_regret(summary, out / "regret_vs_k.png",
              f"leave one task out, {history['dataset'].nunique()} tasks, "
              f"{history['model'].nunique()} models")
  writer = io.MetricsWriter(workdir)
  for row in summary.to_dict("records"):
    writer.write(event="regret_at_k", **row)
  return {"summary": summary, "per_task": per_task, "paths": (csv_path, md_path,
                                                              out / "regret_vs_k.png"),
          "seconds": time.perf_counter() - start}
