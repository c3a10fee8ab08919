"""`recommend.py --dataset=<spec>`: rank the whole zoo for a dataset nobody has fine-tuned on.

Every check a user can fail runs first, before any feature is extracted: the filters'
values, the saved recommender (method, field set, code version, intact files), the dataset
(`user_dataset`: empty folder, one class, a class with < 2 readable images), the zoo models
asked for, the families asked for, and filters that leave no model. Then `guided` extracts,
scores and builds one history row per kept zoo model, models without any history included
(known by their meta features: their `model_id` encodes as "unknown"), and the saved
recommender predicts each one's top-1 as the mean ± spread (std) of its seed ensemble.

Beside it, the run's history is read the other way round (`recommender/neighbors.py`): which
of its datasets the new one resembles (their weights, from the MS-score profiles over the
zoo, or from the zoo's models pre-trained on it), and each model's mean z-scored accuracy on
them, weighted so (`similar_datasets_z`).

Which of the two ranks the table (`recommend.rank_by`): `recommender`, `similar_datasets`, or
`auto`: the one with the lower mean regret@1 when each of the run's benchmark tasks is held out
in turn (`regret.py`'s protocol on the run's own history, never on the new dataset; a tie, a
recommender from elsewhere or fewer than two tasks keep the recommender). The guided loop
fine-tunes the table's top k.

Outputs in `<workdir>/user/<slug>/`: `recommendation.{csv,md}` (rank, prediction, spread,
the similar datasets' weighted mean, params, GMACs, input size, family, pre-training domain,
each raw MS score, whether the recommender saw the model in training) and `recommendation.png` (bars with error bars);
one `recommend_dataset` event in the run's `metrics.jsonl`.
"""

from __future__ import annotations

import math
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
from guidedrec_jax.benchmark import (guided, guided_loop, plan, recommender_run,  # noqa: E402
                                     regret, user_dataset)
from guidedrec_jax.history import schema  # noqa: E402
from guidedrec_jax.recommender import neighbors  # noqa: E402
from guidedrec_jax.recommender import saved as saved_lib  # noqa: E402

FILTERS = ("max_params", "max_gmacs", "max_input_size")
RANK_BY = ("auto", "recommender", "similar_datasets")


def check_filters(settings: dict[str, Any]) -> None:
  """Raises ValueError for a negative or non-numeric size filter, or a bare-string list."""
  for key in FILTERS:
    value = settings[key]
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
      raise ValueError(f"{key} must be a number >= 0 (0 = no limit), got {value!r}")
  for key in ("families", "models"):
    if isinstance(settings[key], str):
      raise ValueError(f"{key} must be a sequence of names, got the string {settings[key]!r}")
  if settings["rank_by"] not in RANK_BY:
    raise ValueError(f"rank_by must be one of {RANK_BY}, got {settings['rank_by']!r}")
  if not (isinstance(settings["similar_tau"], (int, float)) and settings["similar_tau"] > 0):
    raise ValueError(f"similar_tau must be a number > 0, got {settings['similar_tau']!r}")


def select_models(meta: pd.DataFrame, settings: dict[str, Any]) -> list[str]:
  """The zoo models the filters keep, in zoo order.

  Raises:
    ValueError: a model or family the zoo lacks, or filters that leave no model.
  """
  names, families = list(meta["model"]), sorted(set(meta["family"]))
  unknown = [m for m in settings["models"] if m not in names]
  if unknown:
    raise ValueError(f"models {unknown} are not in the zoo; known: {names}")
  unknown = [f for f in settings["families"] if f not in families]
  if unknown:
    raise ValueError(f"families {unknown} are not in the zoo; known: {families}")
  keep = np.ones(len(meta), bool)
  if settings["models"]:
    keep &= meta["model"].isin(settings["models"]).to_numpy()
  if settings["families"]:
    keep &= meta["family"].isin(settings["families"]).to_numpy()
  for key, column in zip(FILTERS, ("params_m", "gmacs", "input_size")):
    if settings[key]:
      keep &= (meta[column].to_numpy(np.float64) <= settings[key])
  if not keep.any():
    applied = {k: settings[k] for k in (*FILTERS, "families", "models") if settings[k]}
    raise ValueError(f"the filters {applied} leave no zoo model")
  return list(meta["model"][keep])


def similar_datasets(history: pd.DataFrame, rows: pd.DataFrame, name: str, tau: float
                     ) -> tuple[np.ndarray, pd.Series, str]:
  """The history read by similarity to the user's dataset `name` (`rows`: its zoo rows).

  Returns:
    (the similarity-weighted model mean per row of `rows`, the weight of each history dataset
    (largest first), the similarity's source: `scores`, `transfer` or `uniform`).
  """
  fitted = neighbors.NeighborMethod("similar datasets", float(tau)).fit(history)
  similarity, source = fitted.dataset_similarity(name, rows)
  weights = pd.Series(fitted.weights(similarity), index=list(fitted.datasets))
  return fitted.predict(rows), weights.sort_values(ascending=False), source


def choose_ranking(config: ml_collections.ConfigDict, history: pd.DataFrame, rank_by: str,
                   similar_tau: float, own_recommender: bool) -> tuple[str, dict[str, float]]:
  """(`recommender` or `similar_datasets`, the mean regret@1 per method that decided it).

  `auto` holds each of the run's benchmark tasks out in turn and keeps the lower mean
  regret@1 (ties: the recommender); see the module docstring.
  """
  tasks = history[history["dataset"].isin(config.tasks)].reset_index(drop=True)
  if rank_by != "auto" or not own_recommender or tasks["dataset"].nunique() < 2:
    return ("recommender" if rank_by == "auto" else rank_by), {}
  methods = regret.ranking_methods(config.recommender, similar_tau)
  per_task = regret.leave_one_task_out(tasks, methods, ks=(1,))
  means = per_task.groupby("method")["regret"].mean()
  own, similar = list(methods)
  choice = "similar_datasets" if means[similar] < means[own] else "recommender"
  return choice, {name: float(means[name]) for name in methods}


def ranked_table(rows: pd.DataFrame, mean: np.ndarray, spread: np.ndarray,
                 trained_models: Sequence[str], target: str,
                 similar: np.ndarray | None = None, rank_by: str = "recommender"
                 ) -> pd.DataFrame:
  """The ranking: best first by `rank_by`'s column (ties by name), scores as raw columns."""
  column = "predicted_top1" if target == "raw" else f"predicted_{target}"
  similar = np.full(len(rows), np.nan) if similar is None else similar
  table = rows.assign(**{column: mean, "spread": spread, "similar_datasets_z": similar},
                      in_history=rows["model"].isin(trained_models),
                      input_size=rows["input_size"].round().astype("Int64"))
  key = column if rank_by == "recommender" else "similar_datasets_z"
  table = table.sort_values([key, "model"], ascending=[False, True],
                            na_position="last").reset_index(drop=True)
  table.insert(0, "rank", np.arange(1, len(table) + 1))
  columns = ["rank", "model", column, "spread", "similar_datasets_z", "params_m", "gmacs", "input_size", "family",
             "pretrain_domain", *schema.score_columns(table), "in_history"]
  return table[columns]


def plot_ranking(table: pd.DataFrame, path: pathlib.Path, title: str) -> None:
  """Horizontal bars of the prediction per model, ± the ensemble spread, best on top."""
  column = table.columns[2]
  fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(table)))
  order = table.iloc[::-1]
  ax.barh(order["model"], order[column], xerr=order["spread"], capsize=3, color="tab:blue")
  ax.set_xlabel(f"{column} (mean ± std over the recommender's seeds)")
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
  settings.update(families=tuple(settings["families"]), models=tuple(settings["models"]))
  check_filters(settings)
  if not settings["dataset"]:
    raise ValueError("dataset must name a dataset spec such as 'folder:/path/to/images'")
  workdir = pathlib.Path(workdir)
  guided.manifest_path(workdir)
  recommender = recommender_run.load_for_config(config, workdir, recommender_dir)
  user = user_dataset.load_user_dataset(settings["dataset"], config.seed, settings["image_size"])
  meta = guided.zoo_meta(config, workdir)
  kept = select_models(meta, settings)
  difficulty_model = config.evaluation.history.difficulty_model
  to_extract = list(dict.fromkeys([*kept, *([difficulty_model] if difficulty_model else [])]))
  extracted = guided.extract(config, workdir, user, to_extract)
  folder = guided.user_dir(workdir, user.name)
  long_scores, scored = guided.scores(config, folder, user.name, extracted["caches"])
  rows = guided.dataset_rows(config, user, meta, kept, long_scores)
  features = {k: float(rows[k].iloc[0]) for k in ("num_train", "num_classes", "difficulty")
              if k in rows.columns}
  mean, spread = saved_lib.predict(recommender, rows)
  history = recommender_run.run_history(config, workdir)
  similar, weights, source = similar_datasets(history, rows, user.name, settings["similar_tau"])
  rank_by, regrets = choose_ranking(config, history, settings["rank_by"],
                                    settings["similar_tau"], recommender_dir is None)
  table = ranked_table(rows, mean, spread, recommender.meta["models"], recommender.target,
                       similar, rank_by)
  csv_path, md_path = io.write_table(folder, "recommendation", table.to_dict("records"))
  png_path = folder / "recommendation.png"
  name = recommender.members[0].info.get("name", recommender.meta["block"]["model"])
  plot_ranking(table, png_path, f"{settings['dataset']}: {name}, "
               f"{len(recommender.members)} seeds; ranked by {rank_by}")
  seconds = time.perf_counter() - start
  io.MetricsWriter(workdir).write(
      event="recommend_dataset", dataset=settings["dataset"], name=user.name,
      images=len(user.dataset), skipped=len(user.skipped), models=len(kept),
      extract_computed=extracted["computed"], torch_child=extracted["child"],
      scores_computed=scored, seconds=round(seconds, 2), top1=table["model"].iloc[0],
      rank_by=rank_by, rank_regret1=regrets)
  return {"table": table, "features": features, "similar": (weights, source),
          "ranking": (settings["rank_by"], rank_by, regrets),
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
  weights, source = result["similar"]
  lines += [f"resembles ({source} similarity; weights of the history's datasets): "
            + ", ".join(f"{d} {w:.2f}" for d, w in weights.items())]
  asked, chosen, regrets = result["ranking"]
  lines += [f"ranked by {chosen} (rank_by={asked}"
            + ("; regret@1 with each benchmark task held out: "
               + ", ".join(f"{n} {r:.2f}" for n, r in regrets.items()) if regrets else "")
            + ")", ""]
  shown = table.drop(columns=["pretrain_domain"])
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
