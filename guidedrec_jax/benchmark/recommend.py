"""Guided recommendation for a held-out benchmark task, optionally under a size budget.

The run's recommender (`config.recommender`, the method `recommend.py --dataset` ranks by) is
trained on the fine-tuning history of every other task — the fold `protocols.dataset_folds`
gives every table — and ranks the held-out task's zoo through the one ranker
(`recommender.rank.rank`) from what is known without fine-tuning there: the task's size,
classes and difficulty, the models' meta features and the MS scores of their probe-set
features. The measured accuracy (from the benchmark's own sweep) is shown beside the
prediction.

JAX half: never imports torch; reads the history and scores CSVs the pipeline wrote.
"""

from __future__ import annotations

import pathlib
from typing import Any

import ml_collections
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import layout, plan
from guidedrec_jax.recommender import evaluate, protocols, rank, registry


def evaluation_config(config: ml_collections.ConfigDict, workdir: str | pathlib.Path
                      ) -> ml_collections.ConfigDict:
  """The benchmark's `evaluation` block with the run's history and scores paths filled in."""
  workdir = pathlib.Path(workdir)
  ev = ml_collections.ConfigDict(config.evaluation.to_dict())
  ev.history.path = str(workdir / layout.HISTORY)
  ev.history.scores_path = str(workdir / layout.SCORES)
  ev.history.datasets = tuple(config.tasks)
  return ev


# recommend.py's flags that only `--dataset` takes.
DATASET_ONLY = (*(k for k in rank.FILTERS if k not in rank.TASK_FILTERS), "finetune_top",
                "recommender")


def check_task_request(task: str | None, dataset: str | None, given: dict[str, Any]) -> None:
  """`recommend.py`'s two requests apart: `--task` ranks with `--max_params` / `--max_gmacs`
  only, and names no `--dataset`; a flag of the other request is refused, never ignored."""
  if task is not None and dataset:
    raise ValueError("--task and --dataset exclude each other: rank a benchmark task or a "
                     "new dataset")
  extra = sorted(k for k in DATASET_ONLY if given.get(k) is not None)
  if not dataset and extra:
    raise ValueError(f"--task ranks with --max_params / --max_gmacs only; "
                     f"{', '.join('--' + k for k in extra)} apply to --dataset")


def rank_task(history: pd.DataFrame, task: str, method: protocols.Method,
              filters: dict[str, Any] | None = None) -> pd.DataFrame:
  """Trains `method` on every task but `task` and ranks `task`'s models (`rank.rank`).

  Raises:
    ValueError: `task` not in the history, bad filters, or no other task to learn from.
  """
  plan.check_recommend({"task": task, "max_params": 0, "max_gmacs": 0},
                       sorted(history["dataset"].unique()))
  rank.check_filters(filters or {})
  history = history.reset_index(drop=True)
  (fold,) = protocols.dataset_folds(history, [task])
  if not len(fold.train):
    raise ValueError(f"task {task!r} is the only task of the history: nothing to learn from")
  fitted = method.fit(history.iloc[fold.train].reset_index(drop=True))
  return rank.rank(fitted, history.iloc[fold.test].reset_index(drop=True), filters)


def recommend(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
              task: str | None = None, max_params: float | None = None,
              max_gmacs: float | None = None) -> tuple[pd.DataFrame, pathlib.Path]:
  """Ranks the zoo for a task of a finished benchmark run and writes the table.

  Args:
    config: the benchmark config (`configs/micro_zoo.py`).
    workdir: the benchmark's workdir (holding `sweep/history.csv` and `scores.csv`).
    task, max_params, max_gmacs: override `config.recommend`'s entries when given.

  Returns:
    (table, path of its Markdown file `recommendation_<task>.md`; a `.csv` lies beside it).

  Raises:
    ValueError: bad task/limits or a bad `config.recommender` block.
    FileNotFoundError: the run has not written its history or scores yet.
  """
  settings: dict[str, Any] = config.recommend.to_dict()
  settings.update({k: v for k, v in (("task", task), ("max_params", max_params),
                                     ("max_gmacs", max_gmacs)) if v is not None})
  plan.check_recommend(settings, config.tasks)
  workdir = pathlib.Path(workdir)
  for path in (workdir / layout.HISTORY, workdir / layout.SCORES):
    if not path.exists():
      raise FileNotFoundError(f"{path} is missing: run scripts/run_benchmark.py first")
  ev = evaluation_config(config, workdir)
  method = registry.build(config.recommender, ev.history.fields, config.seed)
  history = evaluate.load_configured_history(ev.history)
  table = rank_task(history, settings["task"], method,
                    {k: settings[k] for k in rank.TASK_FILTERS})
  name = "recommendation_" + settings["task"].replace("/", "-")
  _, md_path = io.write_table(workdir, name, table.to_dict("records"))
  return table, md_path
