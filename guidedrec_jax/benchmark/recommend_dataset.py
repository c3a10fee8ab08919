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

The report names the blend's weights and, where the blend has a similar-datasets member, the
history datasets the new one resembles (that member's saved similarity). The guided loop
fine-tunes the table's top k.

Outputs in `<workdir>/user/<slug>/`: `recommendation.{csv,md}` (the ranked table, each raw MS
score, whether the recommender saw the model in training) and `recommendation.png` (the
predicted top-1 with its interval, best on top); one `recommend_dataset` event in the run's
`metrics.jsonl`.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from guidedrec_jax import io  # noqa: E402
from guidedrec_jax.benchmark import (guided, guided_loop, plan, recommender_run,  # noqa: E402
                                     user_dataset)
from guidedrec_jax.recommender import neighbors, rank  # noqa: E402

FILTERS = ("max_params", "max_gmacs", "max_input_size", "families", "models")


def filters_of(settings: dict[str, Any]) -> dict[str, Any]:
  """The ranker's filters among `config.recommend`'s settings, checked (`rank.check_filters`)."""
  return rank.check_filters({k: settings[k] for k in FILTERS})


def resemblance(fitted: Any, name: str, rows: pd.DataFrame) -> tuple[pd.Series, str] | None:
  """(weight of each history dataset, largest first; the similarity's source) from the
  blend's saved similar-datasets member, or None without one."""
  for member in getattr(fitted, "members", ()):
    if isinstance(member, neighbors.NeighborFitted):
      similarity, source = member.dataset_similarity(name, rows)
      weights = pd.Series(member.weights(similarity), index=list(member.datasets))
      return weights.sort_values(ascending=False), source
  return None


def plot_ranking(table: pd.DataFrame, path: pathlib.Path, title: str) -> None:
  """Horizontal bars of `predicted_top1` per model with its interval, in the table's order
  (best on top); without a top-1 scale, the ranking score."""
  column = "predicted_top1" if table["predicted_top1"].notna().all() else "score"
  fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(table)))
  order = table.iloc[::-1]
  error = None
  if column == "predicted_top1":
    error = np.stack([order[column] - order["predicted_low"],
                      order["predicted_high"] - order[column]])
  ax.barh(order["model"], order[column], xerr=error, capsize=3, color="tab:blue")
  ax.set_xlabel("predicted top-1 (%), interval: ± 1 sd" if error is not None else column)
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  with io.atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=110)
  plt.close(fig)


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
  folder = guided.user_dir(workdir, user.name)
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
  plot_ranking(table, png_path, f"{settings['dataset']}: {recommender.name}")
  seconds = time.perf_counter() - start
  weights = dict(zip(getattr(recommender.fitted, "names", ()),
                     map(float, getattr(recommender.fitted, "weights", ()))))
  io.MetricsWriter(workdir).write(
      event="recommend_dataset", dataset=settings["dataset"], name=user.name,
      images=len(user.dataset), skipped=len(user.skipped), models=len(kept),
      extract_computed=extracted["computed"], torch_child=extracted["child"],
      scores_computed=scored, seconds=round(seconds, 2), top1=table["model"].iloc[0],
      weights=weights)
  return {"table": table, "features": features, "weights": weights,
          "similar": resemblance(recommender.fitted, user.name, rows),
          "paths": (csv_path, md_path, png_path), "skipped": user.skipped,
          "extract": extracted, "scores_computed": scored, "seconds": seconds, "user": user,
          "zoo_names": plan.zoo_names(config)}


def report(result: dict[str, Any]) -> str:
  """What the command prints: the dataset, what was skipped and reused, the ranking, paths."""
  user, table = result["user"], result["table"]
  counts = np.bincount(user.dataset.labels, minlength=user.dataset.num_classes)
  lines = [f"dataset {user.spec} ({user.name}): {len(user.dataset)} images, "
           f"{user.dataset.num_classes} classes ({counts.min()}-{counts.max()} per class)",
           f"unreadable image files skipped: {len(user.skipped)}"
           + "".join(f"\n  {path}" for path in user.skipped[:10])
           + (f"\n  ... {len(user.skipped) - 10} more" if len(user.skipped) > 10 else ""),
           f"features: {result['extract']['computed']} models extracted, "
           f"{result['extract']['reused']} reused from the cache; scores "
           f"{'computed' if result['scores_computed'] else 'reused'}",
           "dataset features: " + ", ".join(f"{k} {v:.4g}" for k, v in
                                             result["features"].items())]
  if result["weights"]:
    lines.append("blend weights: " + ", ".join(f"{n} {w:.2f}"
                                               for n, w in result["weights"].items()))
  if result["similar"] is not None:
    weights, source = result["similar"]
    lines.append(f"resembles ({source} similarity; weights of the history's datasets): "
                 + ", ".join(f"{d} {w:.2f}" for d, w in weights.items()))
  lines.append("")
  shown = table.drop(columns=[c for c in table.columns
                              if c in ("pretrain_domain", "score") or c.startswith("z: ")])
  lines.append(io.markdown_table(shown.to_dict("records")))
  csv_path, md_path, png_path = result["paths"]
  lines.append(f"written to {csv_path}, {md_path} and {png_path} "
               f"({result['seconds']:.1f} s)")
  return "\n".join(lines)


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
  result["report"] = report(result)
  if top:
    workdir = pathlib.Path(workdir)
    loop = guided_loop.finetune_top(config, workdir, result["user"], result["table"], top)
    retrained = guided_loop.refresh_recommender(config, workdir)
    result.update(guided=loop, retrained=retrained)
    result["report"] += "\n\n" + guided_loop.report(loop, retrained)
  return result
