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
models pre-trained by the benchmark are known. What this child shares with the main job's
(`torch_stages`) is in `torch_common`. Never imports JAX.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import Any

import torch

from guidedrec_jax import io
from guidedrec_jax.benchmark import plan, torch_common, user_dataset
from guidedrec_jax.data import probe_set
from guidedrec_jax.distributed import ProcessExecutor, executor_from_config
from guidedrec_jax.zoo import feature_cache_path, model_columns


def run_meta(request: dict[str, Any]) -> dict[str, Any]:
  return {"meta": {name: model_columns(name) for name in request["models"]}}


def run_extract(request: dict[str, Any]) -> dict[str, Any]:
  dataset = user_dataset.from_plan(request["dataset"])
  probe = request["probe"]
  subset, meta = probe_set(dataset, request["seed"], probe["max_images"], probe["max_per_class"])
  context = {"manifest": request["manifest"], "probes": {dataset.name: (subset, meta)},
             "cache_root": request["cache_root"], "batch_size": probe["batch_size"],
             **plan.extraction_options(request)}
  models = list(request["models"])
  jobs = [(dataset.name, m) for m in models]
  with ProcessExecutor(max(1, min(request["num_workers"], len(models)))) as pool:
    computed = sum(done for _, done in pool.map_unordered(torch_common.extract_one, jobs,
                                                          context))
  caches = {m: str(feature_cache_path(request["cache_root"], dataset.name, m)) for m in models}
  return {"computed": computed, "reused": len(models) - computed, "caches": caches,
          "probe_images": meta["num_images"]}


def run_finetune(request: dict[str, Any]) -> dict[str, Any]:
  dataset = user_dataset.from_plan(request["dataset"])
  config = request["config"]
  # The benchmark sweep's own executor: the same processes, or the same Ray cluster.
  executor = executor_from_config(config, "sweep", local_workers=config["num_workers"])
  with executor:
    return torch_common.sweep({dataset.name: dataset}, request["models"], request["manifest"],
                              request["sweep"], request["sweep_dir"],
                              num_train=request["num_train"], num_val=request["num_val"],
                              seed=request["seed"], executor=executor,
                              device=config["device"])


MODES = {"meta": run_meta, "extract": run_extract, "finetune": run_finetune}


def run(request_path: str) -> dict[str, Any]:
  """Runs the request in `request_path`; writes and returns its result."""
  request = json.loads(pathlib.Path(request_path).read_text())
  torch.set_num_threads(1)
  torch_common.register_manifest(request["manifest"])
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
