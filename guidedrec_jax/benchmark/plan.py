"""What a benchmark config asks for: the zoo's model names, and the checks run before any work.

Shared by the driver (JAX half) and the torch stages, so it imports neither. The config is
the ml-collections config of `configs/micro_zoo.py` or its JSON form (`config.json`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

from guidedrec_jax.cost.rules import DEFAULT_PRECISION, check_precision
from guidedrec_jax.distributed import executor_from_config
from guidedrec_jax.recommender import rank

# The fan-out stages of the main job, each with its `config.resources` entry.
STAGES = ("pretrain", "sweep", "extract", "scores")


def extraction_options(block: Mapping[str, Any]) -> dict[str, Any]:
  """`precision` and `channels_last` of a `sweep` block (or a request carrying them): the
  sweep's precision choice holds for extraction too (finetune/options.py), so both halves and
  every cache key read them from here."""
  return {"precision": block.get("precision", DEFAULT_PRECISION),
          "channels_last": block.get("channels_last", False)}


def pretrained_name(architecture: str, source: str) -> str:
  """Zoo name of `architecture` pre-trained here on `source` ("procedural/x" -> "procedural-x")."""
  return f"{architecture}.{source.replace('/', '-')}"


def imagenet_name(architecture: str, input_size: int) -> str:
  """Zoo name of an ImageNet model run at `input_size` px."""
  return f"{architecture}@{input_size}"


def zoo_architectures(config: Mapping[str, Any]) -> list[tuple[str, str, int | None]]:
  """(zoo name, timm architecture, input side the config sets or None) of every zoo model of
  the benchmark, in table order (ImageNet, pre-trained here, random); the priced plan
  (`cost.plan`) reads the architectures, the stages the names."""
  zoo = config["zoo"]
  size = zoo["imagenet_input_size"]
  return ([(imagenet_name(a, size), a, size) for a in zoo["imagenet"]]
          + [(pretrained_name(a, s), a, None) for a, s in config["pretrain"]["models"]]
          + [(a, a, None) for a in zoo["random"]])


def zoo_names(config: Mapping[str, Any]) -> list[str]:
  """Every zoo model of the benchmark, in table order (ImageNet, pre-trained here, random)."""
  return [name for name, _, _ in zoo_architectures(config)]


def _positive_int(value: Any, name: str) -> None:
  if not isinstance(value, int) or isinstance(value, bool) or value < 1:
    raise ValueError(f"{name} must be a positive int, got {value!r}")


def _plain(block: Any) -> Any:
  """A config block as plain JSON data (a ConfigDict's tuples and dicts as lists and dicts)."""
  return json.loads(json.dumps(block.to_dict() if hasattr(block, "to_dict") else block))


def _names(values: Sequence[Any], name: str, allow_empty: bool = False) -> None:
  if isinstance(values, str) or (not values and not allow_empty):
    raise ValueError(f"{name} must be a non-empty sequence of names, got {values!r}")
  if len(set(map(str, values))) != len(values):
    raise ValueError(f"{name} has repeated entries: {list(values)}")


def check_config(config: Any) -> None:
  """Raises ValueError naming the first bad config entry (before any work is done)."""
  for key in ("seed", "num_workers"):
    if not isinstance(config[key], int) or config[key] < (0 if key == "seed" else 1):
      raise ValueError(f"config.{key} must be an int (>= 1 for workers), got {config[key]!r}")
  for stage in STAGES:  # builds (never connects or spawns) each stage's executor
    executor_from_config(config, stage, local_workers=config["num_workers"])
  if not isinstance(config["device"], str):
    raise ValueError(f"config.device must be a string (\"\" = CUDA if available), "
                     f"got {config['device']!r}")
  zoo, pretrain, sweep, probe = config["zoo"], config["pretrain"], config["sweep"], config["probe"]
  _names(zoo["imagenet"], "config.zoo.imagenet", allow_empty=True)
  _names(zoo["random"], "config.zoo.random", allow_empty=True)
  _positive_int(zoo["imagenet_input_size"], "config.zoo.imagenet_input_size")
  if not all(isinstance(v, str) and v for v in zoo["families"].values()):
    raise ValueError(f"config.zoo.families must map architectures to family names, got "
                     f"{dict(zoo['families'])!r}")
  mock = config["tfds_mock_examples"]
  if not isinstance(mock, int) or isinstance(mock, bool) or mock < 0:
    raise ValueError(f"config.tfds_mock_examples must be an int >= 0, got {mock!r}")
  for entry in pretrain["models"]:
    if len(entry) != 2 or not all(isinstance(e, str) and e for e in entry):
      raise ValueError(f"config.pretrain.models entries must be (architecture, source) pairs, "
                       f"got {entry!r}")
  names = zoo_names(config)
  _names(names, "the zoo (config.zoo and config.pretrain.models)")
  if len(names) < 3:
    raise ValueError(f"the zoo needs >= 3 models for per-task correlations, got {names}")
  for key in ("num_train", "num_val", "epochs", "batch_size"):
    _positive_int(pretrain[key], f"config.pretrain.{key}")
    _positive_int(sweep[key], f"config.sweep.{key}")
  for key in ("lr", "weight_decay"):
    if not (isinstance(pretrain[key], (int, float)) and math.isfinite(pretrain[key])
            and pretrain[key] >= 0):
      raise ValueError(f"config.pretrain.{key} must be a finite number >= 0")
  _names(config["tasks"], "config.tasks")
  if len(config["tasks"]) < 2:
    raise ValueError(f"config.tasks needs >= 2 tasks (leave-one-task-out), got {config['tasks']}")
  # The step's options (finetune/options.py); absent in configs from before them.
  check_precision(sweep.get("precision", DEFAULT_PRECISION), "config.sweep.precision")
  for key in ("channels_last", "compile"):
    if not isinstance(sweep.get(key, False), bool):
      raise ValueError(f"config.sweep.{key} must be a bool, got {sweep[key]!r}")
  _names(sweep["lrs"], "config.sweep.lrs")
  _names(sweep["weight_decays"], "config.sweep.weight_decays")
  noise = config["noise_ceiling"]
  _names(noise["tasks"], "config.noise_ceiling.tasks", allow_empty=True)
  if not set(noise["tasks"]) <= set(config["tasks"]):
    raise ValueError(f"config.noise_ceiling.tasks {list(noise['tasks'])} must be among "
                     f"config.tasks {list(config['tasks'])}")
  if not isinstance(noise["seed"], int) or noise["seed"] == config["seed"]:
    raise ValueError(f"config.noise_ceiling.seed must be an int other than config.seed "
                     f"({config['seed']}), got {noise['seed']!r}")
  for key in ("max_images", "max_per_class", "batch_size"):
    _positive_int(probe[key], f"config.probe.{key}")
  _names(config["scores"], "config.scores")
  history = config["evaluation"]["history"]
  if history["difficulty_model"] and history["difficulty_model"] not in names:
    raise ValueError(f"config.evaluation.history.difficulty_model "
                     f"{history['difficulty_model']!r} is not a zoo model: {names}")
  if history["difficulty_score"] and history["difficulty_score"] not in config["scores"]:
    raise ValueError(f"config.evaluation.history.difficulty_score "
                     f"{history['difficulty_score']!r} is not in config.scores")
  # The table's `recommender` row must score the recommender the run saves and ranks with.
  if _plain(config["evaluation"]["recommender"]) != _plain(config["recommender"]):
    raise ValueError("config.evaluation.recommender must equal config.recommender (the "
                     "table scores the recommender the run saves): override both alike")
  if config["evaluation"]["protocol"] != "setting3":
    raise ValueError("config.evaluation.protocol must be 'setting3' (leave one task out)")
  check_recommend(config["recommend"], config["tasks"])


def check_recommend(recommend: Any, tasks: Sequence[str]) -> None:
  """Raises ValueError for a task outside `tasks` or a negative size constraint."""
  if recommend["task"] not in tasks:
    raise ValueError(f"config.recommend.task {recommend['task']!r} is not one of {list(tasks)}")
  rank.check_filters({k: recommend[k] for k in rank.TASK_FILTERS},
                     prefix="config.recommend.")
