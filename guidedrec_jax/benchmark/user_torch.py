"""The torch side of `recommend.py --dataset`: zoo meta, probe features, guided fine-tuning.

`python -m guidedrec_jax.benchmark.user_torch <request.json>` runs one request the JAX driver
(`benchmark.guided`) wrote and writes its answer to `request["result"]`:

* `"meta"`: the history's model columns (family, input size, params, GMACs, pre-training
  domain) of every named zoo model, measured by `zoo.model_columns`;
* `"extract"`: the probe set of the user's dataset (`data.probe_set`, seeded, <= 2,000
  images, <= 25 per class) and every named model's features, through the same cached
  `zoo.extract_features` the benchmark uses (a repeated request builds each model once to
  check its cache, and runs no forward pass);
* `"finetune"`: the benchmark's HPO sweep (`finetune.run_sweep`) of the named models on the
  user's dataset, through the benchmark sweep's executor (`executor_from_config(config,
  "sweep")`); its `jobs.jsonl` makes it exactly-once and resumable after a kill.

Every request names the run's zoo manifest, re-registered here and in each worker, so the
models pre-trained by the benchmark are known. Never imports JAX.
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys
import time
from typing import Any

import torch

from guidedrec_jax import io
from guidedrec_jax.benchmark import user_dataset
from guidedrec_jax.data import probe_set
from guidedrec_jax.distributed import ProcessExecutor, executor_from_config
from guidedrec_jax.finetune import hpo_grid, run_sweep, zoo_model_info
from guidedrec_jax.finetune.options import options_from_config
from guidedrec_jax.zoo import (ModelSpec, create_model, extract_features, feature_cache_path,
                               model_columns, register_model)


def register_manifest(manifest: str) -> None:
  """Registers the benchmark's run-time zoo models (every spec of its manifest file)."""
  if manifest:
    for entry in json.loads(pathlib.Path(manifest).read_text()):
      register_model(ModelSpec(**entry), overwrite=True)


def model_factory(manifest: str, name: str, num_classes: int, pretrained: bool
                  ) -> torch.nn.Module:
  """`create_model` after registering the manifest: the sweep's factory in a worker."""
  register_manifest(manifest)
  return create_model(name, num_classes=num_classes, pretrained=pretrained)


def extract_one(model: str, context: dict[str, Any]) -> bool:
  """Extracts (or reuses) one model's probe features; True if a forward pass ran."""
  register_manifest(context["manifest"])
  probe, meta = context["probe"]
  sidecar = io.sidecar_path(feature_cache_path(context["cache_root"], probe.name, model))
  before = sidecar.stat().st_mtime_ns if sidecar.exists() else None
  extract_features(model, probe, context["cache_root"], meta,
                   batch_size=context["batch_size"], num_threads=1,
                   precision=context.get("precision", "auto"),
                   channels_last=context.get("channels_last", False))
  return sidecar.stat().st_mtime_ns != before


def run_meta(request: dict[str, Any]) -> dict[str, Any]:
  return {"meta": {name: model_columns(name) for name in request["models"]}}


def run_extract(request: dict[str, Any]) -> dict[str, Any]:
  dataset = user_dataset.from_plan(request["dataset"])
  probe = request["probe"]
  subset, meta = probe_set(dataset, request["seed"], probe["max_images"], probe["max_per_class"])
  context = {"manifest": request["manifest"], "probe": (subset, meta),
             "cache_root": request["cache_root"], "batch_size": probe["batch_size"],
             # The sweep's precision choice holds for extraction too (finetune/options.py).
             "precision": request.get("precision", "auto"),
             "channels_last": request.get("channels_last", False)}
  models = list(request["models"])
  with ProcessExecutor(max(1, min(request["num_workers"], len(models)))) as pool:
    computed = sum(done for _, done in pool.map_unordered(extract_one, models, context))
  caches = {m: str(feature_cache_path(request["cache_root"], dataset.name, m)) for m in models}
  return {"computed": computed, "reused": len(models) - computed, "caches": caches,
          "probe_images": meta["num_images"]}


def run_finetune(request: dict[str, Any]) -> dict[str, Any]:
  dataset = user_dataset.from_plan(request["dataset"])
  sweep = request["sweep"]
  grid = hpo_grid(sweep["lrs"], sweep["weight_decays"], sweep["epochs"], sweep["batch_size"],
                  sweep["optimizer"], sweep["augment"])
  config = request["config"]
  # The benchmark sweep's own executor: the same processes, or the same Ray cluster.
  executor = executor_from_config(config, "sweep", local_workers=config["num_workers"])
  with executor:
    summary = run_sweep({dataset.name: dataset},
                        [zoo_model_info(m) for m in request["models"]],
                        functools.partial(model_factory, request["manifest"]), grid,
                        request["sweep_dir"], num_train=request["num_train"],
                        num_val=request["num_val"], seed=request["seed"],
                        executor=executor, device=config["device"] or None,
                      options=options_from_config(sweep))
  return {"planned": summary.planned, "skipped": summary.skipped,
          "executed": summary.executed, "rows": summary.rows,
          "history": str(summary.history_path)}


MODES = {"meta": run_meta, "extract": run_extract, "finetune": run_finetune}


def run(request_path: str) -> dict[str, Any]:
  """Runs the request in `request_path`; writes and returns its result."""
  request = json.loads(pathlib.Path(request_path).read_text())
  torch.set_num_threads(1)
  register_manifest(request["manifest"])
  start = time.perf_counter()
  result = MODES[request["mode"]](request)
  result["seconds"] = round(time.perf_counter() - start, 2)
  io.write_json_atomic(request["result"], result)
  return result


if __name__ == "__main__":
  if len(sys.argv) != 2:
    raise SystemExit("usage: python -m guidedrec_jax.benchmark.user_torch <request.json>")
  # Through the package name, so that the pickled job functions name an importable module.
  from guidedrec_jax.benchmark import user_torch
  user_torch.run(sys.argv[1])
