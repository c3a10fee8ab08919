"""`recommend.py --dataset=<spec>`: rank the whole zoo for a dataset nobody has fine-tuned on.

Every check a user can fail runs first, before any feature is extracted: the filters'
values, the saved recommender (method block, code version, intact files), the dataset
(`user_dataset`: empty folder, one class, a class with < 2 readable images), the zoo models
asked for, the families asked for, and filters that leave no model. Then `guided` extracts,
scores and builds one history row per zoo model, models without any history included
(known by their meta features: their `model_id` encodes as "unknown"), and the saved
recommender — fitted at training time, never retrained here — ranks them through the one
ranker (`recommender.rank.rank`): one order, its `predicted_top1` in [chance, 100] with an
interval, and each blend member's vote.

The report (`dataset_report`) names the blend's weights and, where the blend has a
similar-datasets member, that member's share of this dataset's ranking (`recommender/gate.py`)
and the history datasets the new one resembles (that member's saved similarity). The guided
loop fine-tunes the table's top k.

Outputs in `<workdir>/user/<slug>/`: `recommendation.{csv,md}` (the ranked table, each raw MS
score, whether the recommender saw the model in training) and `recommendation.png` (the
predicted top-1 with its interval, best on top); one `recommend_dataset` event in the run's
`metrics.jsonl`.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import ml_collections

from guidedrec_jax import io
from guidedrec_jax.benchmark import (dataset_report, guided, guided_loop, layout, plan,
                                     recommender_run, user_dataset)
from guidedrec_jax.recommender import rank


def filters_of(settings: dict[str, Any]) -> dict[str, Any]:
  """The ranker's filters among `config.recommend`'s settings, checked (`rank.check_filters`)."""
  return rank.check_filters({k: settings[k] for k in rank.FILTERS})


def recommend_dataset(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                      overrides: dict[str, Any] | None = None,
                      recommender_dir: str | pathlib.Path | None = None) -> dict[str, Any]:
  """Ranks the zoo for `config.recommend.dataset` (or `overrides["dataset"]`).

  Args:
    config: the benchmark config (`configs/micro_zoo.py`).
    workdir: the finished benchmark run (zoo manifest, feature cache, saved recommender).
    overrides: entries of `config.recommend` to replace (dataset, filters, models).
    recommender_dir: a saved recommender elsewhere; None: `<workdir>/recommender`.

  Returns:
    A dict: `table`, `paths` (csv, md, png), `skipped` (unreadable files), `extract`
    (computed / reused counts), `scores_computed`, `seconds`, `user` (the `UserDataset`).

  Raises:
    ValueError: any bad input (see the module docstring), before any extraction.
    FileNotFoundError: the run or its saved recommender is missing.
  """
  start = time.perf_counter()
  settings = {**config.recommend.to_dict(), **(overrides or {})}
  filters = filters_of(settings)
  if not settings["dataset"]:
    raise ValueError("dataset must name a dataset spec such as 'folder:/path/to/images'")
  workdir = pathlib.Path(workdir)
  guided.manifest_path(workdir)
  recommender = recommender_run.load_for_config(config, workdir, recommender_dir)
  user = user_dataset.load_user_dataset(settings["dataset"], config.seed, settings["image_size"])
  meta = guided.zoo_meta(config, workdir)
  kept = list(meta["model"][rank.keep_mask(meta, filters)])
  difficulty_model = config.evaluation.history.difficulty_model
  to_extract = list(dict.fromkeys([*kept, *([difficulty_model] if difficulty_model else [])]))
  folder = layout.user_dir(workdir, user.name)
  with guided.dataset_lock(folder):  # a concurrent call on this dataset waits, then reuses
    extracted = guided.extract(config, workdir, user, to_extract)
    long_scores, scored = guided.scores(config, folder, user.name, extracted["caches"])
  rows = guided.dataset_rows(config, user, meta, kept, long_scores)
  features = {k: float(rows[k].iloc[0]) for k in ("num_train", "num_classes", "difficulty")
              if k in rows.columns}
  table = rank.rank(recommender.fitted, rows)
  table["in_history"] = table["model"].isin(recommender.meta["models"])
  csv_path, md_path = io.write_table(folder, "recommendation", table.to_dict("records"))
  png_path = folder / "recommendation.png"
  dataset_report.plot_ranking(table, png_path, f"{settings['dataset']}: {recommender.name}")
  seconds = time.perf_counter() - start
  weights = dict(zip(getattr(recommender.fitted, "names", ()),
                     map(float, getattr(recommender.fitted, "weights", ()))))
  share = table.attrs["neighbor_share"]
  io.MetricsWriter(workdir).write(
      event="recommend_dataset", dataset=settings["dataset"], name=user.name,
      images=len(user.dataset), skipped=len(user.skipped), models=len(kept),
      extract_computed=extracted["computed"], torch_child=extracted["child"],
      scores_computed=scored, seconds=round(seconds, 2), top1=table["model"].iloc[0],
      weights=weights, neighbor_share=share)
  return {"table": table, "features": features, "weights": weights, "neighbor_share": share,
          "similar": dataset_report.resemblance(recommender.fitted, user.name, rows),
          "paths": (csv_path, md_path, png_path), "skipped": user.skipped,
          "extract": extracted, "scores_computed": scored, "seconds": seconds, "user": user,
          "zoo_names": plan.zoo_names(config)}


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
        overrides: dict[str, Any] | None = None,
        recommender_dir: str | pathlib.Path | None = None) -> dict[str, Any]:
  """The library call of `scripts/recommend.py --dataset`: rank, then (`finetune_top` > 0)
  the guided loop; returns `recommend_dataset`'s dict with `report` (the printed text)."""
  settings = {**config.recommend.to_dict(), **(overrides or {})}
  top = settings["finetune_top"]
  if not (isinstance(top, int) and not isinstance(top, bool) and top >= 0):
    raise ValueError(f"finetune_top must be an int >= 0, got {top!r}")
  if top and recommender_dir is not None:
    raise ValueError("finetune_top updates the run's own recommender: leave recommender unset")
  result = recommend_dataset(config, workdir, overrides, recommender_dir)
  result["report"] = dataset_report.report(result)
  if top:
    workdir = pathlib.Path(workdir)
    loop = guided_loop.finetune_top(config, workdir, result["user"], result["table"], top)
    retrained = guided_loop.refresh_recommender(config, workdir)
    result.update(guided=loop, retrained=retrained)
    result["report"] += "\n\n" + guided_loop.report(loop, retrained)
  return result
