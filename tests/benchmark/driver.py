"""The main job's smoke run as a fresh process (`DRIVER`, a `python -c` program), shared by
the pipeline and cache-healing tests."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The driver runs in a fresh process, so that what this pytest process imported (other test
# modules load torch) cannot hide a torch import by the driver. `overrides` are config
# values set as `--config.<key>=<value>` would.
DRIVER = """
import json, sys, time
from configs import micro_zoo
from guidedrec_jax.benchmark import pipeline
config = micro_zoo.get_config("smoke")
config.update_from_flattened_dict({overrides!r})
start = time.perf_counter()
result = pipeline.run_benchmark(config, {workdir!r})
print(json.dumps({{"torch_imported": "torch" in sys.modules,
                  "seconds": time.perf_counter() - start,
                  "torch_stages": result["torch_stages"],
                  "scores_computed": result["scores_computed"],
                  "evaluation_ran": result["evaluation_ran"]}}))
"""
