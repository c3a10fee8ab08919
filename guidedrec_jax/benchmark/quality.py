"""Is the fine-tuning history worth learning from? Chance levels, spread, and the noise ceiling.

A recommender can only rank models whose accuracies differ by more than fine-tuning noise.
Per task this module reports the chance level (100 / classes), the spread of the best top-1
across the zoo, the share of (task, model) pairs within `NEAR_CHANCE` points of chance (pairs
that carry no ranking signal), and the noise ceiling: the Pearson correlation, over the
zoo, between the history and a re-run of the same sweep with another seed (another train /
validation cut, head initialisation and order). No method can predict the history better
than a second measurement of it does, so that Pearson is what the methods of Table 2 are to
be read against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import metrics

NEAR_CHANCE = 5.0  # points of top-1 above chance that still count as "at chance"
NOISE_METHOD = "noise ceiling (seed re-run)"


def _aligned(history: pd.DataFrame, rerun: pd.DataFrame) -> pd.DataFrame:
  """The pairs present in both tables: dataset, model, top1 (history), top1_rerun."""
  both = history[["dataset", "model", "top1"]].merge(
      rerun[["dataset", "model", "top1"]].rename(columns={"top1": "top1_rerun"}),
      on=["dataset", "model"], how="inner", validate="one_to_one")
  return both.sort_values(["dataset", "model"]).reset_index(drop=True)


def quality_rows(history: pd.DataFrame, rerun: pd.DataFrame | None) -> list[dict[str, Any]]:
  """One row per task of `history` (columns dataset, model, top1, num_classes).

  Args:
    history: the sweep's history table.
    rerun: the history of the seed re-run (a subset of the tasks), or None.

  Returns:
    Rows: task, classes, chance, top-1 min / median / max over the zoo, spread (max - min),
    pairs near chance (percent), noise-ceiling Pearson (NaN where the task was not re-run),
    then one "all tasks" row (near-chance share over every pair, mean noise ceiling).
  """
  ceiling = {}
  if rerun is not None and len(rerun):
    both = _aligned(history, rerun)
    table = metrics.per_dataset(both, both["top1_rerun"].to_numpy())
    ceiling = dict(zip(table["dataset"], table["pearson"]))
  rows, near_total = [], 0
  for task, group in history.groupby("dataset", sort=False):
    top1 = group["top1"].to_numpy(np.float64)
    chance = 100.0 / float(group["num_classes"].iloc[0])
    near = int((top1 < chance + NEAR_CHANCE).sum())
    near_total += near
    rows.append({"task": task, "classes": int(group["num_classes"].iloc[0]),
                 "chance": chance, "top1_min": float(top1.min()),
                 "top1_median": float(np.median(top1)), "top1_max": float(top1.max()),
                 "spread": float(np.ptp(top1)), "near_chance_pct": 100.0 * near / len(top1),
                 "noise_ceiling_pearson": float(ceiling.get(task, float("nan")))})
  values = [v for v in ceiling.values() if np.isfinite(v)]
  rows.append({"task": "all tasks", "classes": "", "chance": "", "top1_min": "",
               "top1_median": "", "top1_max": "", "spread": "",
               "near_chance_pct": 100.0 * near_total / len(history),
               "noise_ceiling_pearson": float(np.mean(values)) if values else float("nan")})
  return rows


def noise_ceiling_row(history: pd.DataFrame, rerun: pd.DataFrame) -> dict[str, Any] | None:
  """The noise ceiling as a Table 2 row: the re-run's top-1 used as the "prediction".

  Pearson per re-run task, then the means (Pearson, Spearman, regret) over those tasks, as
  `pipeline.table2_rows` gives for the methods; None when nothing was re-run.
  """
  if rerun is None or not len(rerun):
    return None
  both = _aligned(history, rerun)
  table = metrics.per_dataset(both, both["top1_rerun"].to_numpy())
  row: dict[str, Any] = {"method": NOISE_METHOD}
  row.update({task: float(r) for task, r in zip(table["dataset"], table["pearson"])})
  means = metrics.mean_over_datasets(table)
  row.update(mean_pearson=means["pearson"], mean_spearman=means["spearman"],
             mean_regret=means["regret"])
  return row
