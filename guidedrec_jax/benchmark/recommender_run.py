"""The saved recommender of a benchmark run: which rows it learns from, training, checked loading.

A run's recommender (`<workdir>/recommender/`, `recommender.saved`) learns from every row the
run knows: the benchmark's own history (`sweep/history.csv` with `scores.csv` joined and the
difficulty column, as the evaluation reads it) plus the rows the guided loop measured on user
datasets (`user/<slug>/sweep/history.csv` joined with that dataset's `scores.csv`), and from
any further history tables a `configs/train_recommender.py` config names.

After the guided loop appends rows the recommender is retrained from scratch, not warm
started: the encoder's categories and statistics come from the training rows, so a new
dataset (a new `dataset_id` category, shifted means) changes the feature layout, and a warm
start would need a remapping of parameters that a full fit of this size (hundreds of rows,
seconds) does not justify; a full fit also keeps the saved fingerprint a function of the rows.
"""

from __future__ import annotations

import json
import pathlib
from typing import Sequence

import ml_collections
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import layout, recommend
from guidedrec_jax.history import schema
from guidedrec_jax.recommender import evaluate, saved


def guided_histories(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> pd.DataFrame:
  """Rows the guided loop measured on user datasets, scores and difficulty joined."""
  frames = []
  for folder in layout.user_dirs_with_history(workdir):
    if not (folder / layout.SCORES).exists():
      continue
    history = schema.load_history(folder / layout.HISTORY)
    scores = schema.load_scores(folder / layout.SCORES)
    frame = schema.join_scores(history, scores, tuple(config.scores))
    cfg = config.evaluation.history
    if cfg.difficulty_score:
      frame = schema.add_difficulty(frame, scores, cfg.difficulty_score, cfg.difficulty_model)
    frames.append(frame)
  return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_history(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> pd.DataFrame:
  """Every row a run knows: the benchmark's history and the guided loop's (see above)."""
  workdir = pathlib.Path(workdir)
  ev = recommend.evaluation_config(config, workdir)
  history = evaluate.load_configured_history(ev.history)
  guided = guided_histories(config, workdir)
  if guided.empty:
    return history
  return pd.concat([history, guided[[c for c in guided.columns if c in history.columns]]],
                   ignore_index=True)


def load_histories(blocks: Sequence[ml_collections.ConfigDict]) -> pd.DataFrame:
  """Concatenates the history tables of `evaluate.default_config().history`-style blocks."""
  if not blocks:
    raise ValueError("histories must name at least one history block")
  frames = [evaluate.load_configured_history(block) for block in blocks]
  return pd.concat(frames, ignore_index=True)


def train_and_save(history: pd.DataFrame, recommender: ml_collections.ConfigDict,
                   directory: str | pathlib.Path, sources: Sequence[str] = (),
                   declared: str = "") -> saved.SavedRecommender:
  """Trains the config's `recommender` method block on `history`; saves it."""
  model = saved.train_saved(history, recommender, declared)
  model = model._replace(meta={**model.meta, "sources": list(sources)})
  saved.save(model, directory)
  return model


def train_for_run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path
                  ) -> saved.SavedRecommender:
  """Trains and writes `<workdir>/recommender/` on every row the run knows."""
  workdir = pathlib.Path(workdir)
  return train_and_save(run_history(config, workdir), config.recommender,
                        workdir / layout.RECOMMENDER, [str(workdir)],
                        config.evaluation.history.fields)


def ensure_for_run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> bool:
  """Trains `<workdir>/recommender/` unless it exists, fits the config and was trained on
  exactly the rows the run knows now (same fingerprint); True if it (re)trained."""
  workdir = pathlib.Path(workdir)
  rows = run_history(config, workdir)
  try:
    current = load_for_config(config, workdir)
    if current.meta["fingerprint"] == saved.rows_fingerprint(rows):
      return False
  except (FileNotFoundError, ValueError):
    pass  # missing, or made for another method / code version: replaced below
  train_and_save(rows, config.recommender, workdir / layout.RECOMMENDER, [str(workdir)],
                 config.evaluation.history.fields)
  return True


def load_for_config(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                    directory: str | pathlib.Path | None = None) -> saved.SavedRecommender:
  """Loads the run's saved recommender (another folder's when `directory` is given),
  refusing one trained with another method block than `config.recommender` (a recommender
  from elsewhere is taken as it is)."""
  if directory:
    return saved.load(directory)
  return saved.load(pathlib.Path(workdir) / layout.RECOMMENDER, config.recommender)


def history_block(entry: str) -> ml_collections.ConfigDict:
  """The `evaluate` history block of a `histories` entry: "timm", "parc" or "csv:<path>"."""
  block = evaluate.default_config().history
  if entry in ("timm", "parc"):
    block.source = entry
  elif entry.startswith("csv:") and len(entry) > 4:
    block.source, block.path = "csv", entry[4:]
  else:
    raise ValueError(f"histories entries must be 'timm', 'parc' or 'csv:<path>', got {entry!r}")
  return block


def _run_config(path: pathlib.Path) -> ml_collections.ConfigDict:
  """What `run_history` reads of a run's `config.json` (tasks, scores, the history block),
  over today's `evaluate` defaults, so that a run written before a new key still loads."""
  raw = json.loads(path.read_text())
  evaluation = evaluate.default_config()
  evaluation.history.update({k: v for k, v in raw["evaluation"]["history"].items()
                             if k in evaluation.history})
  return ml_collections.ConfigDict(dict(tasks=tuple(raw["tasks"]),
                                        scores=tuple(raw["scores"]), evaluation=evaluation))


def train_recommender(config: ml_collections.ConfigDict, workdir: str | pathlib.Path
                      ) -> saved.SavedRecommender:
  """The library call of `scripts/train_recommender.py` (configs/train_recommender.py)."""
  workdir = pathlib.Path(workdir)
  blocks = [history_block(e) for e in config.histories]  # bad entries fail before any work
  run = None if config.run_workdir == "none" else pathlib.Path(config.run_workdir or workdir)
  frames, sources = [], []
  if run is not None:
    if not (run / layout.CONFIG).exists():
      raise FileNotFoundError(f"run_workdir {run} holds no benchmark run (config.json)")
    frames.append(run_history(_run_config(run / layout.CONFIG), run))
    sources.append(str(run))
  if blocks:
    frames.append(load_histories(blocks))
    sources += list(config.histories)
  if not frames:
    raise ValueError("nothing to train on: run_workdir is 'none' and histories is empty")
  history = pd.concat(frames, ignore_index=True)
  # Its own folder: `workdir` may be a benchmark run, whose config.json must stay its own.
  record = workdir / layout.TRAIN_RECOMMENDER
  record.mkdir(parents=True, exist_ok=True)
  io.write_config(record, config)
  model = train_and_save(history, config.recommender, workdir / layout.RECOMMENDER, sources,
                         config.history_fields)
  counts = history.groupby("dataset").size()
  io.write_table(record, "training_rows", [{"dataset": d, "rows": int(n)}
                                           for d, n in counts.items()])
  io.MetricsWriter(record).write(event="train_recommender", rows=len(history),
                                  datasets=int(counts.size), method=model.name,
                                  fingerprint=model.meta["fingerprint"], sources=sources)
  return model
