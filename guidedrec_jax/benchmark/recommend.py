"""Guided recommendation: rank the zoo for a held-out task, optionally under a size budget.

A recommender (one method of the evaluation, e.g. "FM (d,m,S_logme)") is trained on the
fine-tuning history of every other task and predicts each zoo model's accuracy on the held-out
one from what is known without fine-tuning there: the task's size, classes and difficulty,
the model's meta features and the MS scores of its probe-set features. Models over
`max_params` (M) or `max_gmacs` are dropped, the rest ranked by predicted accuracy. The
measured accuracy (from the benchmark's own sweep) is shown beside the prediction.

JAX half: never imports torch; reads the history and scores CSVs the pipeline wrote.
"""

from __future__ import annotations

import pathlib
from typing import Any

import ml_collections
import numpy as np
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import plan
from guidedrec_jax.recommender import evaluate, protocols

HISTORY = "sweep/history.csv"
SCORES = "scores.csv"
COLUMNS = ("rank", "model", "predicted_top1", "measured_top1", "params_m", "gmacs", "family",
           "pretrain_domain", "input_size")


def evaluation_config(config: ml_collections.ConfigDict, workdir: str | pathlib.Path
                      ) -> ml_collections.ConfigDict:
  """The benchmark's `evaluation` block with the run's history and scores paths filled in."""
  workdir = pathlib.Path(workdir)
  ev = ml_collections.ConfigDict(config.evaluation.to_dict())
  ev.history.path = str(workdir / HISTORY)
  ev.history.scores_path = str(workdir / SCORES)
  ev.history.datasets = tuple(config.tasks)
  return ev


def rank_models(history: pd.DataFrame, task: str, method: protocols.Method,
                max_params: float = 0.0, max_gmacs: float = 0.0) -> pd.DataFrame:
  """Trains `method` on every task but `task` and ranks `task`'s models by prediction.

  Args:
    history: history rows (MS scores and difficulty joined) of every task.
    task: the held-out task.
    method: a method of `protocols` (e.g. `RecommenderMethod`).
    max_params: drop models with more than this many million parameters; 0: no limit.
    max_gmacs: drop models with more than this many GMACs; 0: no limit.

  Returns:
    One row per kept model (`COLUMNS`), best predicted first.

  Raises:
    ValueError: `task` not in the history, a negative limit, or no other task to learn from.
  """
  plan.check_recommend({"task": task, "max_params": max_params, "max_gmacs": max_gmacs},
                       sorted(history["dataset"].unique()))
  held_out = (history["dataset"] == task).to_numpy()
  if held_out.all():
    raise ValueError(f"task {task!r} is the only task of the history: nothing to learn from")
  train = history[~held_out].reset_index(drop=True)
  test = history[held_out].reset_index(drop=True)
  predicted = np.asarray(method.fit_predict(train, test), np.float64)
  table = test.assign(predicted_top1=predicted, measured_top1=test["top1"],
                      input_size=test["input_size"].round().astype("Int64"))
  keep = np.ones(len(table), bool)
  if max_params:
    keep &= table["params_m"].to_numpy() <= max_params
  if max_gmacs:
    keep &= table["gmacs"].to_numpy() <= max_gmacs
  table = table[keep].sort_values(["predicted_top1", "model"], ascending=[False, True])
  table = table.assign(rank=np.arange(1, len(table) + 1))
  return table[list(COLUMNS)].reset_index(drop=True)


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
    ValueError: bad task/limits, or `config.recommend.method` is not an evaluation method.
    FileNotFoundError: the run has not written its history or scores yet.
  """
  settings: dict[str, Any] = config.recommend.to_dict()
  settings.update({k: v for k, v in (("task", task), ("max_params", max_params),
                                     ("max_gmacs", max_gmacs)) if v is not None})
  plan.check_recommend(settings, config.tasks)
  workdir = pathlib.Path(workdir)
  for name in (HISTORY, SCORES):
    if not (workdir / name).exists():
      raise FileNotFoundError(f"{workdir / name} is missing: run scripts/run_benchmark.py first")
  ev = evaluation_config(config, workdir)
  history = evaluate.load_configured_history(ev.history)
  methods = {m.name: m for m in evaluate.build_methods(ev, history, ev.seed)}
  if settings["method"] not in methods:
    raise ValueError(f"config.recommend.method {settings['method']!r} is not one of "
                     f"{sorted(methods)}")
  table = rank_models(history, settings["task"], methods[settings["method"]],
                      settings["max_params"], settings["max_gmacs"])
  name = "recommendation_" + settings["task"].replace("/", "-")
  _, md_path = io.write_table(workdir, name, table.to_dict("records"))
  return table, md_path
