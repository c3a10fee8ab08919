"""`run_benchmark`: the whole micro benchmark from one config, in the JAX driver process.

Stages (each cached, so a rerun only redoes what changed):

1. torch (child process `python -m guidedrec_jax.benchmark.torch_stages`): pre-training of
   source models, the fine-tuning sweep (history CSV), probe-set feature extraction;
2. scores: every MS score of every zoo model on every task (`score_stage`, one job per task
   through the executor of `config.resources.scores`), the long form `scores.csv`;
   recomputed only when a feature cache or the score list changed;
3. evaluation: leave one task out (setting 3) with the recommender package's `evaluate`
   (raw MS scores, LR/FM/FFM per field set) under `evaluation/`, and the paper's Table 2
   shape, `table2.{csv,md}`: per-task Pearson, the means and the regret per method, with the
   noise ceiling beside them and, in `table2.md` and `history_quality.{csv,md}`, each task's
   chance level, top-1 spread and share of pairs near chance (`quality`);
4. recommendation: the zoo ranked for `config.recommend.task` (`recommend.recommend`).

The driver never imports torch: the halves meet in the files of the workdir.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import ml_collections
import pandas as pd

from guidedrec_jax import io, provenance
from guidedrec_jax.benchmark import (layout, plan, quality, recommend, recommender_run,
                                     score_stage)
from guidedrec_jax.distributed import executor_from_config
from guidedrec_jax.distributed.local import run_module
from guidedrec_jax.recommender import evaluate, metrics

TORCH_STAGES = "guidedrec_jax.benchmark.torch_stages"


def run_torch_stages(workdir: pathlib.Path) -> dict[str, Any]:
  """Runs the torch stages in a child process (progress bars pass through); returns its record.

  Raises:
    RuntimeError: the child failed (its traceback is on stderr above).
  """
  run_module(TORCH_STAGES, str(workdir), what="the torch stages")
  return json.loads((workdir / layout.TORCH_RECORD).read_text())


def _cached_stage(path: pathlib.Path, fingerprint: str) -> bool:
  """True if the stamp `path` records `fingerprint` and every output it vouches for is
  intact (`io.verified_stamp`: a damaged output is logged and the stage runs again)."""
  record = io.verified_stamp(path)
  return record is not None and record.get("fingerprint") == fingerprint


def _scores(config: ml_collections.ConfigDict, workdir: pathlib.Path,
            caches: dict[str, dict[str, str]]) -> bool:
  """Writes `scores.csv` unless it is current; returns True if it was computed."""
  # Keyed by (task, model), not path: a moved workdir keeps its scores. A sidecar holds its
  # features' content hash, so recomputed features are scored again.
  sidecars = {f"{task}/{model}": io.sidecar_path(path).read_text()
              for task, by_model in caches.items() for model, path in by_model.items()}
  scores = tuple(config.scores)
  fingerprint = io.json_fingerprint(sidecars, scores)
  stamp = workdir / layout.SCORES_STAMP
  if _cached_stage(stamp, fingerprint):
    return False
  with executor_from_config(config, "scores") as executor:
    table = score_stage.score_tasks(caches, scores, executor)
  io.write_text_atomic(workdir / layout.SCORES, table.to_csv(index=False))
  io.write_stamp(stamp, [workdir / layout.SCORES], fingerprint=fingerprint, rows=len(table))
  return True


def table2_rows(per_dataset: pd.DataFrame) -> list[dict[str, Any]]:
  """The paper's Table 2 shape: one row per method, Pearson per task, then the means (the
  mean absolute error of a predicted top-1 where the method has one)."""
  rows = []
  for method, table in per_dataset.groupby("method", sort=False):
    row: dict[str, Any] = {"method": method}
    row.update({task: float(r) for task, r in zip(table["dataset"], table["pearson"])})
    means = metrics.mean_over_datasets(table)
    row.update(mean_pearson=means["pearson"], mean_spearman=means["spearman"],
               mean_regret=means["regret"], mean_mae=means["mae"])
    rows.append(row)
  return rows


def _evaluate(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> bool:
  """Runs setting 3 under `workdir/evaluation` unless it is current; True if it ran."""
  ev = recommend.evaluation_config(config, workdir)
  out = workdir / layout.EVALUATION
  fingerprint = io.json_fingerprint((workdir / layout.HISTORY).read_text(),
                                    (workdir / layout.SCORES).read_text(), ev.to_dict())
  stamp = out / layout.EVAL_STAMP
  if _cached_stage(stamp, fingerprint):
    return False
  evaluate.evaluate(ev, out)
  # Every output but the appended log vouched for: tables, plots, config.
  outputs = sorted(p for p in out.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name not in (stamp.name, layout.METRICS))
  io.write_stamp(stamp, outputs, fingerprint=fingerprint)
  return True


def run_benchmark(config: ml_collections.ConfigDict, workdir: str | pathlib.Path
                  ) -> dict[str, Any]:
  """Runs the micro benchmark a config describes (see the module docstring).

  Args:
    config: a `configs/micro_zoo.py` config.
    workdir: output folder; reruns reuse what it holds.

  Returns:
    A dict with `table2` (rows), `recommendation` (DataFrame), the paths of the tables and
    plots, what each torch stage executed, and the seconds per stage.

  Raises:
    ValueError: a bad config entry (named), before any work.
    RuntimeError: the torch stages failed.
  """
  plan.check_config(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  io.write_config(workdir, config)
  writer = io.MetricsWriter(workdir)
  writer.write(event="run", **provenance.run_record())  # where it ran (read by results.py)
  seconds: dict[str, float] = {}
  start = time.perf_counter()
  torch_record = run_torch_stages(workdir)
  seconds["torch"] = time.perf_counter() - start
  writer.write(event="torch_stages", pretrain=torch_record["pretrain"],
               sweep=torch_record["sweep"], noise_rerun=torch_record["noise_rerun"],
               seconds=torch_record["seconds"],
               extract={k: torch_record["extract"][k] for k in ("computed", "reused")})
  start = time.perf_counter()
  scored = _scores(config, workdir, torch_record["extract"]["caches"])
  seconds["scores"] = time.perf_counter() - start
  start = time.perf_counter()
  evaluated = _evaluate(config, workdir)
  seconds["evaluation"] = time.perf_counter() - start
  per_dataset = pd.read_csv(workdir / layout.EVALUATION / layout.PER_DATASET)
  rows = table2_rows(per_dataset)
  history = pd.read_csv(workdir / layout.HISTORY)
  noise = torch_record["noise_rerun"]
  rerun = pd.read_csv(noise["history"]) if noise else None
  ceiling = quality.noise_ceiling_row(history, rerun)
  rows += [ceiling] if ceiling else []
  quality_rows = quality.quality_rows(history, rerun)
  table2_csv, table2_md = io.write_table(workdir, layout.TABLE2, rows)
  io.write_table(workdir, "history_quality", quality_rows)
  # table2.md also shows what the history can teach: chance, spread, noise ceiling per task.
  io.write_text_atomic(table2_md, table2_md.read_text() + "\nHistory per task (top-1 in %; "
                       f"near chance = within {quality.NEAR_CHANCE:g} points):\n\n"
                       + io.markdown_table(quality_rows, "{:.2f}"))
  start = time.perf_counter()
  ranking, ranking_md = recommend.recommend(config, workdir)
  seconds["recommend"] = time.perf_counter() - start
  # The saved recommender `recommend.py --dataset` reads, trained on all tasks.
  recommender_run.ensure_for_run(config, workdir)
  seconds["total"] = sum(seconds.values())
  writer.write(event="stages", scores_computed=scored, evaluation_ran=evaluated,
               seconds={k: round(v, 2) for k, v in seconds.items()})
  for row in rows:
    writer.write(event="table2", **row)
  for row in quality_rows:
    writer.write(event="history_quality", **row)
  plots = sorted(str(p) for p in (workdir / layout.EVALUATION).glob("*.png"))
  writer.write(event="run_end", load=provenance.load_average())  # done stays last
  writer.write(event="done", table2=str(table2_md), plots=plots, recommendation=str(ranking_md))
  return {"table2": rows, "table2_paths": (table2_csv, table2_md), "plots": plots,
          "recommendation": ranking, "recommendation_path": ranking_md,
          "torch_stages": torch_record, "scores_computed": scored, "evaluation_ran": evaluated,
          "seconds": seconds}
