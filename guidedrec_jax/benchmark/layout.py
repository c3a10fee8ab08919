"""Where a benchmark run keeps its files: every path of a run's workdir, named once.

Both halves read it (the JAX driver and the torch children), so it imports `pathlib` only.
A name is relative to the folder it lives in (`workdir / layout.SCORES`); the functions
below are the paths that take more than a name.

```
<workdir>/
  config.json                  CONFIG (io.write_config)
  metrics.jsonl                METRICS: the run log (io.MetricsWriter), read by results.py
  zoo_manifest.json            MANIFEST: the run-time zoo, re-registered by every worker
  torch_stages.json            TORCH_RECORD: what each torch stage executed or reused
  pretrained/<model>.pth       PRETRAINED (+ a .json sidecar each)
  sweep/jobs.jsonl, history.csv          SWEEP, HISTORY (finetune.run_sweep)
  noise_ceiling/jobs.jsonl, history.csv  NOISE_CEILING: the sweep again, another seed
  cache/                       CACHE: the feature caches, unless `config.cache_dir` names one
  scores.csv, scores.json      SCORES, SCORES_STAMP
  evaluation/                  EVALUATION: setting 3 (recommender.evaluate), plots,
    per_dataset.csv, summary.csv, fingerprint.json   PER_DATASET, SUMMARY, EVAL_STAMP
  table2.csv, table2.md        TABLE2: leave one task out, the paper's Table 2 shape
  recommender/                 RECOMMENDER: the saved recommender
  regret/                      REGRET: regret@k leave one task out
  train_recommender/           TRAIN_RECOMMENDER: scripts/train_recommender.py's record
  user/zoo_meta.json           USER, ZOO_META: the zoo's model columns, measured once
  user/<slug>/                 user_dir: one user dataset (`user_dataset.dataset_key`):
    sweep/..., scores.csv, scores.json, extract.json, .lock
```
"""

from __future__ import annotations

import pathlib
from typing import Any

PathLike = str | pathlib.Path

CONFIG = "config.json"
METRICS = "metrics.jsonl"  # also in an evaluation folder and any `scripts/evaluate.py` workdir
MANIFEST = "zoo_manifest.json"
TORCH_RECORD = "torch_stages.json"
PRETRAINED = "pretrained"
SWEEP = "sweep"
HISTORY = SWEEP + "/history.csv"  # under a run's workdir and under each user folder
NOISE_CEILING = "noise_ceiling"
CACHE = "cache"
SCORES = "scores.csv"
SCORES_STAMP = "scores.json"
EVALUATION = "evaluation"
# Tables `recommender.evaluate` writes (`io.write_table` adds the .csv to its stems), in
# EVALUATION and in a `scripts/evaluate.py` workdir: results.py reads them back.
PER_DATASET = "per_dataset.csv"
SUMMARY = "summary.csv"
EVAL_STAMP = "fingerprint.json"  # under EVALUATION: the stamp of the evaluation stage
TABLE2 = "table2"  # a stem: `io.write_table` writes table2.csv and table2.md
RECOMMENDER = "recommender"
REGRET = "regret"
TRAIN_RECOMMENDER = "train_recommender"
USER = "user"
ZOO_META = USER + "/zoo_meta.json"
EXTRACT_STAMP = "extract.json"
LOCK = ".lock"


def pretrained(workdir: PathLike, name: str) -> pathlib.Path:
  """`<workdir>/pretrained/<name>.pth`: one source model pre-trained by the run."""
  return pathlib.Path(workdir) / PRETRAINED / f"{name}.pth"


def cache_root(config: Any, workdir: PathLike) -> str:
  """The feature cache root: `config["cache_dir"]`, else `<workdir>/cache` (a string: it
  enters stage keys). `config`: a config dict or `ConfigDict`."""
  return config["cache_dir"] or str(pathlib.Path(workdir) / CACHE)


def user_dir(workdir: PathLike, name: str) -> pathlib.Path:
  """`<workdir>/user/<slug>`: the outputs of one user dataset, `name` its key `user/<slug>`."""
  if not name.startswith(USER + "/"):
    raise ValueError(f"a user dataset's key starts with {USER + '/'!r}, got {name!r}")
  return pathlib.Path(workdir) / name


def user_dirs_with_history(workdir: PathLike) -> list[pathlib.Path]:
  """The user folders holding a guided sweep's `sweep/history.csv`, sorted."""
  return sorted(path.parent.parent
                for path in (pathlib.Path(workdir) / USER).glob(f"*/{HISTORY}"))
