"""The benchmark config's checks and zoo naming (fast: no training)."""

import pathlib
import re
import shlex
import subprocess
import sys

import ml_collections
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

from configs import micro_zoo
from guidedrec_jax.benchmark import pipeline, plan
from guidedrec_jax.recommender import evaluate


@pytest.mark.parametrize("arg", [None, "smoke"])
def test_configs_pass_the_checks(arg):
  config = micro_zoo.get_config(arg)
  plan.check_config(config)
  assert set(config.evaluation.keys()) == set(evaluate.default_config().keys())
  names = plan.zoo_names(config)
  assert len(names) >= (10 if arg is None else 3)
  assert len(config.tasks) >= (6 if arg is None else 3)
  if arg is None:  # README: a 15-model zoo (4 ImageNet, 6 pre-trained here, 5 random-init)
    imagenet = [n for n in names if n.endswith("@32")]
    pretrained = [n for n in names if "." in n]
    assert (len(imagenet), len(pretrained), len(names)) == (4, 6, 15)
    assert len(config.tasks) == 6


def test_unknown_config_argument_raises():
  with pytest.raises(ValueError, match="unknown config argument"):
    micro_zoo.get_config("smok")


def test_zoo_names():
  config = micro_zoo.get_config("smoke")
  assert plan.zoo_names(config) == ["mobilenetv2_100@32", "lcnet_050.procedural-shape",
                                    "lcnet_050", "regnetx_002"]


def _edited(**changes) -> ml_collections.ConfigDict:
  config = micro_zoo.get_config("smoke")
  config.unlock()
  for dotted, value in changes.items():
    *parents, leaf = dotted.split("__")
    target = config
    for parent in parents:
      target = target[parent]
    target[leaf] = value
  return config


@pytest.mark.parametrize("changes, message", [
    (dict(tasks=("digits",)), "config.tasks"),
    (dict(num_workers=0), "config.num_workers"),
    (dict(ray_address="cluster"), "ray_address"),
    (dict(ray_local_num_cpus=-1), "config.ray_local_num_cpus"),
    (dict(resources__sweep__num_gpus=-0.5), "resources.sweep: num_gpus_per_job"),
    (dict(ray_max_retries=-1), "max_retries"),
    (dict(noise_ceiling__tasks=("mnist",)), "config.noise_ceiling.tasks"),
    (dict(noise_ceiling__seed=0), "config.noise_ceiling.seed"),
    (dict(sweep__num_train=0), "config.sweep.num_train"),
    (dict(sweep__lrs=()), "config.sweep.lrs"),
    (dict(zoo__random=("lcnet_050", "lcnet_050")), "config.zoo.random"),
    (dict(pretrain__models=(("lcnet_050",),)), "config.pretrain.models"),
    (dict(evaluation__history__difficulty_model="nope"), "difficulty_model"),
    (dict(evaluation__history__difficulty_score="parc"), "difficulty_score"),
    (dict(recommend__task="mnist"), "config.recommend.task"),
    (dict(recommend__max_params=-1.0), "config.recommend.max_params"),
])
def test_bad_config_raises_before_any_work(tmp_path, changes, message):
  workdir = tmp_path / "run"
  with pytest.raises(ValueError, match=message):
    pipeline.run_benchmark(_edited(**changes), workdir)
  assert not workdir.exists()


def test_torch_stages_never_import_jax():
  # A fresh process: this pytest process may have imported JAX through other tests.
  code = ("import sys; import guidedrec_jax.benchmark.torch_stages; "
          "assert 'jax' not in sys.modules, 'jax imported'")
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]


def test_ray_keys_are_declared_and_read_strictly():
  config = micro_zoo.get_config("smoke")
  assert (config.ray_address, config.ray_max_retries) == ("", 3)
  assert set(config.resources) == set(plan.STAGES)
  for stage in plan.STAGES:
    assert set(config.resources[stage]) == {"num_cpus", "num_gpus"}
  config.unlock()
  del config.resources["extract"]
  with pytest.raises(KeyError, match="extract"):
    plan.check_config(config)
  del config["ray_max_retries"]
  with pytest.raises(KeyError, match="ray_max_retries"):
    plan.check_config(config)


def test_the_table_scores_the_recommender_the_run_saves():
  config = micro_zoo.get_config("smoke")
  plan.check_config(config)
  members = (*config.recommender.members[:1], dict(type="similar_datasets", tau=2.0),
             *config.recommender.members[2:])
  config.recommender.members = members  # one side overridden only
  with pytest.raises(ValueError, match="config.evaluation.recommender must equal"):
    plan.check_config(config)
  config.evaluation.recommender.members = members  # both alike
  plan.check_config(config)


def _cluster_command() -> list[str]:
  """The `run_benchmark.py` command of docs/cluster.md's micro_zoo cluster block, as argv."""
  text = (ROOT / "docs" / "cluster.md").read_text()
  blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
  commands = [line for block in blocks
              for line in block.replace("\\\n", " ").splitlines()
              if "scripts/run_benchmark.py" in line and "configs/micro_zoo.py" in line]
  assert len(commands) == 1, commands
  argv = shlex.split(commands[0])
  return ["prog"] + argv[argv.index("scripts/run_benchmark.py") + 1:]


def test_the_cluster_doc_flags_parse():
  """The flags of docs/cluster.md's cluster command set the keys they name, and pass the checks."""
  from absl import flags
  from ml_collections import config_flags
  argv = _cluster_command()
  overrides = [a[len("--config."):].split("=", 1) for a in argv if a.startswith("--config.")]
  # A command for a cluster with GPUs: it joins a running cluster and reserves GPUs.
  assert {"ray_address", "device", "resources.sweep.num_gpus"} <= {k for k, _ in overrides}
  values = flags.FlagValues()
  # As scripts/run_benchmark.py defines it; the overrides are found in argv.
  config_flags.DEFINE_config_file("config", None, flag_values=values, lock_config=True,
                                  sys_argv=argv)
  flags.DEFINE_string("workdir", None, "", flag_values=values)
  values(argv)
  config = values.config
  for key, raw in overrides:
    value = config
    for part in key.split("."):
      value = value[part]
    assert value == type(value)(raw), (key, value, raw)
  assert config.ray_address not in ("", "local")
  assert config.resources.sweep.num_gpus > 0
  plan.check_config(config)
