"""Helpers shared by the configs: parsing of `--config=path.py:key=value,...` arguments."""

from __future__ import annotations

import ml_collections


def parse_arg(arg: str | None, lazy: bool = False, **spec) -> ml_collections.ConfigDict:
  """Parses a config argument string such as `smoke` or `smoke,n_models=4`.

  Each `spec` entry gives a default; its type decides how the value is parsed. A bare name
  (no `=`) sets a boolean entry to True. Unknown names raise `ValueError` unless `lazy`.

  Example:
    arg = parse_arg("smoke,seed=3", smoke=False, seed=0)  # -> smoke=True, seed=3
  """
  result = ml_collections.ConfigDict(dict(spec))
  for part in filter(None, (arg or "").split(",")):
    name, eq, raw = part.partition("=")
    name = name.strip()
    if name not in spec:
      if lazy:
        continue
      raise ValueError(f"unknown config argument {name!r}; known: {sorted(spec)}")
    default = spec[name]
    if not eq:
      if not isinstance(default, bool):
        raise ValueError(f"config argument {name!r} needs a value ({name}=...)")
      result[name] = True
    elif isinstance(default, bool):
      if raw.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"config argument {name!r} expects true/false, got {raw!r}")
      result[name] = raw.lower() in ("true", "1")
    else:
      result[name] = type(default)(raw)
  return result


# The default recommender (recommender/registry.py blocks; recommender/blend.py): a stacked
# blend of the model mean, the similar datasets, ridge, trees and a 3-seed FM on every standard
# field, every MS score and — where the models carry a source dataset — the source and the
# target read as a source. Plain data: the library resolves it over the registry's defaults.
FIELDS = "d,m,S=d,m,S,source_data?,target_as_source?"
FM_TRAIN = dict(optimizer="adam", learning_rate=0.02, l2=1e-2, rank=8, batch_size=128,
                epochs=100, patience=0)


def recommender_block(smoke: bool = False) -> dict:
  """The blend block every config ranks by (members listed literally); its weighting
  (penalty, shrink, inner folds, gate) is the registry's default (recommender/blend.py).
  `smoke`: its FM trains 5 epochs with one seed."""
  train = dict(FM_TRAIN, epochs=5) if smoke else dict(FM_TRAIN)
  return dict(type="blend", members=(
      dict(type="model_mean"),
      dict(type="similar_datasets", tau=1.0),
      dict(type="ridge", fields=FIELDS, l2=1.0),
      dict(type="trees", fields=FIELDS),
      dict(type="fm", fields=FIELDS, num_seeds=1 if smoke else 3, train=train)))


def history_block(**overrides) -> ml_collections.ConfigDict:
  """An evaluation's `history` block: every key `recommender/evaluate.py` reads."""
  block = ml_collections.ConfigDict(dict(
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
      # Declared extra columns "col=<kind>:<group>[:log][:+|-],..." (history/generic.py); a
      # score column's direction (+ / -) unless the scores registry knows it.
      fields="",
      scores_path="",                # MS scores CSV (long or wide) to join; "" = none
      scores=(),                     # scores to join; () = all in scores_path
      difficulty_score="",           # dataset difficulty = this score (from scores_path) ...
      difficulty_model="",           # ... of this fixed model; "" = no difficulty column
  ))
  block.update(overrides)
  return block


def evaluation_config(protocol: str, methods: tuple = (), recommender: dict | None = None,
                      **history) -> ml_collections.ConfigDict:
  """Every key `recommender/evaluate.py` reads: the protocol, its blocks, the history, the
  `recommender` row's block and the other rows' blocks (`methods`)."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.protocol = protocol
  config.history = history_block(**history)
  config.setting1 = ml_collections.ConfigDict(dict(dataset="imagenet", repeats=10,
                                                   test_fraction=0.2))
  config.setting2 = ml_collections.ConfigDict(dict(train_datasets=("imagenet",),
                                                   test_datasets=("imagenetv2",),
                                                   training_seeds=1))
  config.setting3 = ml_collections.ConfigDict(dict(datasets=(),  # () = every dataset
                                                   num_datasets=0,  # > 0: the first n only
                                                   training_seeds=1))
  config.recommender = ml_collections.ConfigDict(recommender or recommender_block())
  config.methods = tuple(methods)      # the other rows: one registry block each
  config.score_columns = True          # a raw-score row per MS score of the history
  config.plots = ml_collections.ConfigDict(dict(metric="pearson"))
  return config


# The benchmark's recommender and its leave-one-task-out table (configs/micro_zoo.py,
# configs/paper_zoo.py): the one blend every config ranks by (`recommender_block`); beside it
# each member alone, and the paper's LR / FM / FFM (trained for a history of a few hundred
# rows) on three field sets, params, GMACs.
BENCHMARK_TRAIN = dict(optimizer="adam", learning_rate=0.01, l2=1e-3, rank=4, batch_size=32,
                       epochs=200, patience=20)


def benchmark_blocks(difficulty_model: str, smoke: bool = False
                     ) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
  """(recommender, evaluation) blocks of a benchmark config; `smoke`: the blend's FM for 5
  epochs with one seed, three rows (the FM row for 30 epochs)."""
  train = dict(BENCHMARK_TRAIN, epochs=30, patience=5) if smoke else dict(BENCHMARK_TRAIN)
  recommender = recommender_block(smoke)
  methods = (dict(type="model_mean"), dict(type="ridge", fields="d,m,S"),
             dict(type="fm", fields="d,m,S_logme", train=train)) if smoke else (
      dict(type="column", column="params_m"), dict(type="column", column="gmacs"),
      dict(type="model_mean"), dict(type="similar_datasets", tau=1.0),
      dict(type="ridge", fields="d,m,S"), dict(type="trees", fields="d,m,S"),
      *(dict(type=kind, fields=fields, train=train) for kind in ("lr", "fm", "ffm")
        for fields in ("d,m", "d,m,S_logme", "d,m,S")))
  evaluation = evaluation_config(
      "setting3", methods, recommender, source="csv",  # paths: filled in by the pipeline
      difficulty_score="logme", difficulty_model=difficulty_model)
  return ml_collections.ConfigDict(recommender), evaluation
