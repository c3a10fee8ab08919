"""The scoring stage of the main job: every MS score of every zoo model, one job per task.

`score_task(task, context)` is the job: it reads the task's feature files through the
feature-cache contract and scores the whole zoo at once (`scores.zoo.score_zoo`). The driver
runs the jobs through the executor of `config.resources.scores` (`score_tasks`): in its own
process when `ray_address` is "", as Ray tasks otherwise (the workers then read the files,
so on a cluster the cache folder must be on a file system every node sees).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from guidedrec_jax.contracts import feature_cache
from guidedrec_jax.distributed import Executor
from guidedrec_jax.history.schema import SCORE_COLUMNS
from guidedrec_jax.scores import registry as score_registry
from guidedrec_jax.scores import zoo as score_zoo_lib


def score_task(task: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
  """Long-form rows (dataset, model, score, value) of one task's zoo.

  Args:
    task: the task (dataset) name.
    context: `caches` (task -> model -> feature file) and `scores` (score names).

  Scores that read source probabilities (LEEP, NCE) cover the models with a source head.
  """
  scores = tuple(context["scores"])
  loaded = feature_cache.load_task(context["caches"][task])
  needs_probs = {s for s in scores if s in score_registry.SCORES
                 and score_registry.get_score(s).needs_source_probs}
  rows: list[dict[str, Any]] = []
  plain = tuple(s for s in scores if s not in needs_probs)
  if plain:
    rows += score_zoo_lib.scores_table_rows(
        score_zoo_lib.score_zoo(loaded.features, loaded.labels, plain), task)
  if needs_probs and loaded.source_probs:
    with_head = score_zoo_lib.score_zoo(
        {m: loaded.features[m] for m in loaded.source_probs}, loaded.labels,
        sorted(needs_probs), source_probs=loaded.source_probs)
    rows += score_zoo_lib.scores_table_rows(with_head, task)
  return rows


def score_tasks(caches: Mapping[str, Mapping[str, str]], scores: Sequence[str],
                executor: Executor) -> pd.DataFrame:
  """Scores every task (one job each) through `executor`; rows in task order.

  Rows come back in completion order and are put in the order of `caches`, so the table
  does not depend on where or in what order the jobs ran.
  """
  context = {"caches": {t: dict(m) for t, m in caches.items()}, "scores": tuple(scores)}
  by_task = dict(executor.map_unordered(score_task, list(caches), context))
  rows = [row for task in caches for row in by_task[task]]
  return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
