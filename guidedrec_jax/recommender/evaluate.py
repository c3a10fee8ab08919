"""One evaluation run: config -> history -> methods -> protocol -> tables and plots in workdir.

Writes to `workdir`:
  config.json           the config as run
  metrics.jsonl         one record per (method, repeat, dataset), then one per method summary
  per_dataset.{csv,md}  metrics per (method, repeat, dataset)
  summary.{csv,md}      per method: mean over datasets, then mean ± std over repeats
  per_dataset_<metric>.png, per_dataset_regret.png   the paper's Fig. 4
  latent_covariance.png  FM latent inner products of dataset IDs and scalar features (Fig. 5),
                         from the last FM fit of the protocol (if the run has an FM)
"""

from __future__ import annotations

import os
import pathlib
import time

import ml_collections
import pandas as pd

from configs import common

from guidedrec_jax import io, provenance
from guidedrec_jax.history import generic, parc, public, schema, timm
from guidedrec_jax.recommender import metrics, plots, protocols, registry
from guidedrec_jax.recommender import methods as methods_lib

PROTOCOLS = ("setting1", "setting2", "setting3")
SOURCES = ("timm", "parc", "public", "csv")


def default_config() -> ml_collections.ConfigDict:
  """Every key `evaluate` reads, with defaults (`configs.common.evaluation_config`, the one
  table the configs build on; the `recommender` row defaults to the model mean)."""
  return common.evaluation_config("setting1", recommender=dict(type="model_mean"))


def load_configured_history(cfg: ml_collections.ConfigDict) -> pd.DataFrame:
  """The history table a config's `history` block names, with MS scores joined if given."""
  if cfg.source == "timm":
    history = timm.load_timm(cfg.snapshot, tuple(cfg.datasets) or None,
                             tuple(cfg.pretrain_domains) or None)
  elif cfg.source == "parc":
    history = parc.load_parc(cfg.parc_oracles, tuple(cfg.exclude_targets))
  elif cfg.source == "public":
    history = public.load_public(cfg.name, tuple(cfg.exclude_targets))
  elif cfg.source == "csv":
    if not cfg.path:
      raise ValueError("history.path must name a history CSV when history.source is 'csv'")
    # A declared score with a direction may name a score joined from scores_path instead.
    directions = {name for name, _ in generic.declared_signs(cfg.fields)}
    history = generic.read_history(cfg.path, cfg.top1_column, cfg.top1_scale, cfg.duplicates,
                                   required=tuple(c for c in generic.parse_declared(cfg.fields)
                                                  if c not in directions))
    if all(c in history.columns for c in schema.REQUIRED_COLUMNS):
      history = schema.validate_history(history)  # the full checks where the columns exist
    if cfg.datasets:
      history = history[history["dataset"].isin(cfg.datasets)].reset_index(drop=True)
  else:
    raise ValueError(f"history.source must be one of {SOURCES}, got {cfg.source!r}")
  if bool(cfg.difficulty_score) != bool(cfg.difficulty_model):
    raise ValueError("history.difficulty_score and history.difficulty_model go together")
  if cfg.scores_path:
    scores = generic.read_scores(cfg.scores_path)
    history = schema.join_scores(history, scores, tuple(cfg.scores) or None)
    if cfg.difficulty_score:
      history = schema.add_difficulty(history, scores, cfg.difficulty_score, cfg.difficulty_model)
  elif cfg.difficulty_score:
    raise ValueError("history.difficulty_score needs history.scores_path")
  return history


RECOMMENDER = "recommender"


def build_methods(config: ml_collections.ConfigDict, history: pd.DataFrame,
                  seed: int | None = None) -> list[protocols.Method]:
  """The table's rows: `recommender` (config.recommender), each block of `config.methods`,
  then each MS score of the history as a raw-score row; trained with `seed`."""
  seed = config.seed if seed is None else seed
  declared = config.history.fields
  recommender = registry.build(
      {**registry.resolve(config.recommender), "name": RECOMMENDER}, declared, seed)
  blocks = list(config.methods)
  if config.score_columns:
    named = {registry.label(b) for b in blocks}
    blocks += [b for b in registry.score_columns(history, declared)
               if registry.label(b) not in named]
  return [recommender] + [registry.build(b, declared, seed) for b in blocks]


def _check_protocol(config: ml_collections.ConfigDict) -> None:
  if config.protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {config.protocol!r}")
  if config.plots.metric not in metrics.METRICS:
    raise ValueError(f"plots.metric must be one of {metrics.METRICS}, got {config.plots.metric!r}")


def run_protocol(config: ml_collections.ConfigDict, history: pd.DataFrame
                 ) -> tuple[pd.DataFrame, list[protocols.Method]]:
  """Runs `config.protocol`; returns its per-(method, repeat, dataset) results and methods.

  Setting 1 repeats over model splits; settings 2 and 3 have one split and repeat over
  `training_seeds` seeds of the learned methods instead (baselines simply repeat).
  """
  _check_protocol(config)
  if config.protocol == "setting1":
    cfg = config.setting1
    methods = build_methods(config, history, config.seed)
    return protocols.setting1(history, cfg.dataset, methods, cfg.repeats, cfg.test_fraction,
                              config.seed), methods
  cfg = config[config.protocol]
  if cfg.training_seeds < 1:
    raise ValueError(f"{config.protocol}.training_seeds must be >= 1, got {cfg.training_seeds}")
  tables = []
  for repeat in range(cfg.training_seeds):
    methods = build_methods(config, history, config.seed + repeat)
    if config.protocol == "setting2":
      table = protocols.setting2(history, cfg.train_datasets, cfg.test_datasets, methods)
    else:
      held_out = tuple(cfg.datasets) or sorted(history["dataset"].unique())
      if cfg.num_datasets > 0:
        held_out = held_out[:cfg.num_datasets]
      table = protocols.setting3(history, methods, held_out)
    tables.append(table.assign(repeat=repeat))
  return pd.concat(tables, ignore_index=True), methods


def evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> pd.DataFrame:
  """Runs the evaluation a config describes and writes its outputs; returns the summary."""
  _check_protocol(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  io.write_config(workdir, config)
  writer = io.MetricsWriter(workdir)
  writer.write(event="run", **provenance.run_record())  # where it ran (read by results.py)
  start = time.perf_counter()
  history = load_configured_history(config.history)
  writer.write(event="history", **schema.summarize(history))
  results, methods = run_protocol(config, history)
  for record in results.to_dict("records"):
    writer.write(event="dataset", **record)
  summary = protocols.summarize(results)
  for record in summary.to_dict("records"):
    writer.write(event="summary", **record)
  writer.write(event="run_end", load=provenance.load_average())  # done stays last
  writer.write(event="done", seconds=time.perf_counter() - start)
  io.write_table(workdir, "per_dataset", results.to_dict("records"))
  io.write_table(workdir, "summary", summary.to_dict("records"))
  title = f"{config.protocol}: {config.history.source}"
  for metric in dict.fromkeys((config.plots.metric, "regret")):
    plots.plot_per_dataset(results, metric, workdir / f"per_dataset_{metric}.png", title)
  flat = [m for top in methods for m in [top, *getattr(top, "members", ())]]
  latent = [m for m in flat if isinstance(m, methods_lib.RecommenderMethod)
            and m.config.model == "fm" and m.last_fit is not None]
  if latent:
    encoder, fit = latent[0].last_fit
    vectors, names = plots.latent_rows(encoder, fit.params["v"])
    plots.plot_latent_covariance(vectors, names, workdir / "latent_covariance.png",
                                 f"{latent[0].name}: <v_i, v_j>")
  return summary
