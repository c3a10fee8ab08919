"""What both torch children do: the main job's (`torch_stages`) and the user path's (`user_torch`).

* `register_manifest`: the run-time zoo models of a run's `zoo_manifest.json`, registered
  once per process and manifest version, in the child and in every worker;
* `model_factory`: `create_model` after registering the manifest, the sweep's factory;
* `extract_one`: one (dataset, model) probe-feature cache, extracted or reused, with the
  sweep's precision options (`plan.extraction_options`);
* `grid`: the HPO grid of a config's `sweep` block; `sweep`: `finetune.run_sweep` of zoo
  models with that grid and the block's `TrainOptions`, returning `sweep_summary`'s dict.

Never imports JAX (nor anything that does).
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any, Mapping, Sequence

import torch

from guidedrec_jax import io
from guidedrec_jax.benchmark.plan import extraction_options
from guidedrec_jax.distributed import Executor
from guidedrec_jax.finetune import HyperParams, SweepSummary, hpo_grid, run_sweep, zoo_model_info
from guidedrec_jax.finetune.options import options_from_config
from guidedrec_jax.zoo import (ModelSpec, create_model, extract_features, feature_cache_path,
                               register_model)

_REGISTERED: dict[str, float] = {}  # manifest path -> mtime registered in this process


def register_manifest(path: str | pathlib.Path) -> None:
  """Registers (once per process and manifest version) every spec of a zoo manifest; an
  empty path registers nothing."""
  if not str(path):
    return
  path = pathlib.Path(path)
  mtime = path.stat().st_mtime
  if _REGISTERED.get(str(path)) == mtime:
    return
  for entry in json.loads(path.read_text()):
    register_model(ModelSpec(**entry), overwrite=True)
  _REGISTERED[str(path)] = mtime


def model_factory(manifest: str, name: str, num_classes: int, pretrained: bool
                  ) -> torch.nn.Module:
  """`create_model` after registering the manifest: the sweep's model factory in a worker."""
  register_manifest(manifest)
  return create_model(name, num_classes=num_classes, pretrained=pretrained)


def extract_one(job: tuple[str, str], context: dict[str, Any]) -> bool:
  """Extracts (or reuses) one (dataset, model) feature cache; True if a forward pass ran.

  `context`: `manifest`, `cache_root`, `batch_size`, `probes` (dataset -> `probe_set`'s
  (subset, meta)) and `extraction_options`' entries.
  """
  dataset, model = job
  register_manifest(context["manifest"])
  probe, meta = context["probes"][dataset]
  sidecar = io.sidecar_path(feature_cache_path(context["cache_root"], dataset, model))
  before = sidecar.stat().st_mtime_ns if sidecar.exists() else None
  extract_features(model, probe, context["cache_root"], meta,
                   batch_size=context["batch_size"], num_threads=1,
                   **extraction_options(context))
  return sidecar.stat().st_mtime_ns != before


def grid(sweep_cfg: Mapping[str, Any]) -> tuple[HyperParams, ...]:
  """The HPO grid of a config's `sweep` block."""
  return hpo_grid(sweep_cfg["lrs"], sweep_cfg["weight_decays"], sweep_cfg["epochs"],
                  sweep_cfg["batch_size"], sweep_cfg["optimizer"], sweep_cfg["augment"])


def sweep_summary(summary: SweepSummary) -> dict[str, Any]:
  """A `finetune.SweepSummary` as the records write it."""
  return {"planned": summary.planned, "skipped": summary.skipped,
          "executed": summary.executed, "rows": summary.rows,
          "history": str(summary.history_path)}


def sweep(data: dict[str, Any], models: Sequence[str], manifest: str | pathlib.Path,
          sweep_cfg: Mapping[str, Any], out: str | pathlib.Path, *, num_train: int,
          num_val: int, seed: int, executor: Executor, device: str) -> dict[str, Any]:
  """`finetune.run_sweep` of zoo `models` on `data` with the `sweep` block's grid and
  options, models built by `model_factory` (the manifest re-registered in each worker);
  returns `sweep_summary`'s dict."""
  summary = run_sweep(data, [zoo_model_info(m) for m in models],
                      functools.partial(model_factory, str(manifest)), grid(sweep_cfg), out,
                      num_train=num_train, num_val=num_val, seed=seed, executor=executor,
                      device=device or None, options=options_from_config(sweep_cfg))
  return sweep_summary(summary)
