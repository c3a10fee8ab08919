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

from guidedrec_jax import io
from guidedrec_jax.history import generic, parc, public, schema, timm
from guidedrec_jax.recommender import (metrics, neighbors, plots, preprocess, protocols,
                                       selection)
from guidedrec_jax.recommender import train as train_lib

PROTOCOLS = ("setting1", "setting2", "setting3")
SOURCES = ("timm", "parc", "public", "csv")


def default_config() -> ml_collections.ConfigDict:
  """Every key `evaluate` reads, with defaults; configs/setting*.py override them."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.protocol = "setting1"
  config.history = ml_collections.ConfigDict(dict(
      source="timm",                 # timm | parc | public | csv
      snapshot="2022-07-27",         # timm: 2022-07-27 | latest
      datasets=(),                   # timm / csv: datasets to load; () = all
      pretrain_domains=("in1k", "in21k"),  # timm: keep these tags/domains; () = all
      parc_oracles="all",            # parc: all | controlled
      exclude_targets=("voc2007",),  # parc / public: targets left out (mAP, not top-1)
      name="sfda_group1",            # public: history/public.py FILES key
      path="",                       # csv: a history CSV: dataset, model, accuracy, anything
      top1_column="top1",            # csv: the accuracy column
      top1_scale=100.0,              # csv: 100 = percent, 1 = fractions (converted)
      duplicates="error",            # csv: repeated (dataset, model): error | max | mean
      # Declared extra columns: "col=<kind>:<group>[:log],..." (history/generic.py).
      fields="",
      scores_path="",                # MS scores CSV (long or wide) to join; "" = none
      scores=(),                     # scores to join; () = all in scores_path
      difficulty_score="",           # dataset difficulty = this score (from scores_path) ...
      difficulty_model="",           # ... of this fixed model; "" = no difficulty column
  ))
  config.setting1 = ml_collections.ConfigDict(dict(dataset="imagenet", repeats=10,
                                                   test_fraction=0.2))
  config.setting2 = ml_collections.ConfigDict(dict(train_datasets=("imagenet",),
                                                   test_datasets=("imagenetv2",),
                                                   training_seeds=1))
  config.setting3 = ml_collections.ConfigDict(dict(datasets=(),  # () = every dataset
                                                   num_datasets=0,  # > 0: the first n only
                                                   training_seeds=1))
  config.baselines = ("params_m", "gmacs")  # history columns ranked as they are
  config.history_mean_baseline = False      # add protocols.HistoryMeanBaseline
  # Similarity-weighted model means (recommender/neighbors.py), one row per temperature.
  config.neighbor_baselines = ()
  config.target = "raw"               # preprocess.TARGETS: raw | dataset_z | dataset_rank
  config.score_norm = "global_z"      # preprocess.SCORE_NORMS: global_z | dataset_z | dataset_rank
  config.ensemble_seeds = 1           # LR/FM/FFM: members (training seeds) averaged per method
  config.d_interactions = "all"       # features.D_INTERACTIONS: all | id_only
  config.ridge_field_sets = ("d,m",)  # field-set specs (features.resolve_fields) or label=spec
  config.ridge_l2 = 1.0
  config.models = ("lr", "fm", "ffm")
  config.field_sets = ("d,m",)        # as ridge_field_sets, for each of `models`
  defaults = train_lib.TrainConfig()._asdict()
  config.train = ml_collections.ConfigDict(
      {k: v for k, v in defaults.items() if k not in ("model", "seed")})
  config.train_overrides = ml_collections.ConfigDict()  # per model: {"lr": {...}}
  config.tree_field_sets = ()         # HistGradientBoostingRegressor baselines (selection.TreeMethod)
  config.selection = selection.default_selection_config()  # nested-selected methods
  config.plots = ml_collections.ConfigDict(dict(metric="pearson"))
  return config


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
    history = generic.read_history(cfg.path, cfg.top1_column, cfg.top1_scale, cfg.duplicates,
                                   required=tuple(generic.parse_declared(cfg.fields)))
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


def build_methods(config: ml_collections.ConfigDict, history: pd.DataFrame,
                  seed: int | None = None) -> list[protocols.Method]:
  """Baselines (heuristic columns, each joined MS score, the history mean), ridge, then
  LR/FM/FFM per field set, trained with `seed` (`config.seed` when None)."""
  seed = config.seed if seed is None else seed
  methods: list[protocols.Method] = []
  for column in config.baselines:
    if column not in history.columns:
      raise ValueError(f"baselines: the history has no column {column!r}")
    methods.append(protocols.ColumnBaseline(column, column))
  for column in schema.score_columns(history):
    name = column[len(schema.SCORE_PREFIX):]
    methods.append(protocols.ColumnBaseline("S_" + name, column, preprocess.score_sign(name)))
  if config.history_mean_baseline:
    methods.append(protocols.HistoryMeanBaseline())
  for tau in config.neighbor_baselines:
    methods.append(neighbors.NeighborMethod(f"similar datasets (tau={tau:g})", float(tau)))
  declared = generic.parse_declared(config.history.fields)
  extra = generic.declared_fields(declared)
  for label, fields in map(_label_and_spec, config.ridge_field_sets):
    methods.append(protocols.RidgeMethod(f"ridge ({label})", fields, config.ridge_l2,
                                         config.target, config.score_norm, extra))
  for label, fields in map(_label_and_spec, config.tree_field_sets):
    methods.append(selection.TreeMethod(f"trees ({label})", fields, config.target,
                                        config.score_norm, seed=seed, extra_fields=extra))
  base = config.train.to_dict()
  methods += selection.build_selected(config.selection, base, seed, declared)
  for model in config.models:
    overrides = config.train_overrides.get(model, ml_collections.ConfigDict()).to_dict()
    unknown = sorted(set(overrides) - set(train_lib.TrainConfig._fields))
    if unknown:
      raise ValueError(f"train_overrides.{model} has unknown keys {unknown}")
    train_config = train_lib.check_config(train_lib.TrainConfig(
        **{**base, **overrides, "model": model, "seed": seed}))
    for label, fields in map(_label_and_spec, config.field_sets):
      methods.append(protocols.RecommenderMethod(f"{model.upper()} ({label})", fields,
                                                 train_config, config.target, config.score_norm,
                                                 config.ensemble_seeds, config.d_interactions,
                                                 extra))
  return methods


def _label_and_spec(entry: str) -> tuple[str, str]:
  """`"label=spec"` names a long field set in tables; a bare spec is its own label."""
  label, eq, spec = entry.partition("=")
  return (label.strip(), spec) if eq else (entry, entry)


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
  start = time.perf_counter()
  history = load_configured_history(config.history)
  writer.write(event="history", **schema.summarize(history))
  results, methods = run_protocol(config, history)
  for record in results.to_dict("records"):
    writer.write(event="dataset", **record)
  for method in methods:
    for choice in getattr(method, "choices", ()):
      writer.write(event="selection", method=method.name, **choice)
  summary = protocols.summarize(results)
  for record in summary.to_dict("records"):
    writer.write(event="summary", **record)
  writer.write(event="done", seconds=time.perf_counter() - start)
  io.write_table(workdir, "per_dataset", results.to_dict("records"))
  io.write_table(workdir, "summary", summary.to_dict("records"))
  title = f"{config.protocol}: {config.history.source}"
  for metric in dict.fromkeys((config.plots.metric, "regret")):
    plots.plot_per_dataset(results, metric, workdir / f"per_dataset_{metric}.png", title)
  latent = [m for m in methods if isinstance(m, protocols.RecommenderMethod)
            and m.config.model == "fm" and m.last_fit is not None]
  if latent:
    encoder, fit = latent[0].last_fit
    vectors, names = plots.latent_rows(encoder, fit.params["v"])
    plots.plot_latent_covariance(vectors, names, workdir / "latent_covariance.png",
                                 f"{latent[0].name}: <v_i, v_j>")
  return summary
