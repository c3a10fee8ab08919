"""Tests of the Ray executor on a real two-node Ray cluster on 127.0.0.1 (one per module)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from guidedrec_jax.distributed import (ProcessExecutor, RayExecutor, SequentialExecutor,
                                       executor_from_config, make_executor)
from guidedrec_jax.finetune import JobsLog
from guidedrec_jax.finetune.history_writer import RESULT_FIELDS
from tests.distributed import fixtures
from tests.finetune import fixtures as finetune_fixtures

REPO = finetune_fixtures.REPO
NUM_JOBS = 8  # test_sweep's sweep: 2 datasets x 2 models x 2 learning rates


@pytest.fixture(scope="module")
def cluster():
  # The drivers need the cluster's environment before they import `ray` (the executor
  # imports it on first use); child drivers inherit it.
  with pytest.MonkeyPatch.context() as patch:
    for name, value in fixtures.CLUSTER_ENV.items():
      patch.setenv(name, value)
    started = fixtures.LocalCluster(head_cpus=2, worker_cpus=1)
    try:
      yield started
    finally:
      started.stop()


@pytest.fixture(scope="module")
def executor(cluster):
  with make_executor(cluster.address, max_retries=3) as ray_executor:
    yield ray_executor


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
  """job_key -> results of the sweep run in this process (SequentialExecutor)."""
  workdir = tmp_path_factory.mktemp("sequential")
  finetune_fixtures.sweep(workdir)
  return _results(workdir)


def _results(workdir):
  records = JobsLog(workdir / "jobs.jsonl").read()
  return {key: {f: record[f] for f in RESULT_FIELDS} for key, record in records.items()}


def _assert_exactly_once(workdir, baseline):
  # Only the driver wrote: its log and its history, nothing from a worker. A driver killed
  # during an atomic rewrite of the history may leave its hidden temporary file behind.
  names = [p.name for p in workdir.iterdir() if not (p.name.startswith(".") and p.suffix == ".tmp")]
  assert sorted(names) == ["history.csv", "jobs.jsonl"]
  keys = [json.loads(line)["job_key"] for line in finetune_fixtures.log_lines(workdir)]
  assert len(keys) == len(set(keys)) == NUM_JOBS  # no row lost, none twice
  assert _results(workdir) == baseline  # top-1, losses: bit for bit as in one process
  history = finetune_fixtures.history(workdir)
  assert len({(r["dataset"], r["model"]) for r in history}) == len(history) == 4


def test_sweep_on_a_cluster_matches_the_sequential_run(executor, baseline, tmp_path):
  import ray
  summary = finetune_fixtures.sweep(tmp_path, executor=executor)
  assert (summary.planned, summary.executed, summary.rows) == (NUM_JOBS, NUM_JOBS, 4)
  assert len([n for n in ray.nodes() if n["Alive"]]) == 2
  assert ray.cluster_resources()["CPU"] == 3
  assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
  _assert_exactly_once(tmp_path, baseline)


def test_worker_killed_mid_job_is_retried_and_logged_once(executor, baseline, tmp_path):
  starts, held = tmp_path / "starts.txt", tmp_path / "held.txt"
  killed = []

  def kill_the_held_worker():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not killed:
      text = held.read_text() if held.exists() else ""
      if text.endswith("\n"):  # the whole PID is there
        killed.append(int(text))
        os.kill(killed[0], signal.SIGKILL)  # its job is inside the factory, held
      time.sleep(0.05)

  killer = threading.Thread(target=kill_the_held_worker, daemon=True)
  killer.start()
  try:
    factory = fixtures.HoldingFactory(starts, held, hold_s=60)
    summary = finetune_fixtures.sweep(tmp_path / "sweep", factory=factory, executor=executor)
  finally:
    killer.join(timeout=70)
  assert killed, "no job started"
  assert summary.executed == NUM_JOBS
  assert len(starts.read_text().split()) == NUM_JOBS + 1  # the killed job ran once more
  _assert_exactly_once(tmp_path / "sweep", baseline)


def test_killed_driver_resumes_from_its_log_without_duplicates(cluster, executor, baseline,
                                                               tmp_path):
  child = ("import pathlib\n"
           "from guidedrec_jax.distributed import make_executor\n"
           "from tests.finetune import fixtures\n"
           f"with make_executor({cluster.address!r}) as executor:\n"
           f"  fixtures.sweep(pathlib.Path({str(tmp_path)!r}), factory=fixtures.slow_tiny_cnn,"
           " executor=executor)\n")
  process = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stderr=subprocess.PIPE,
                             start_new_session=True)
  log = tmp_path / "jobs.jsonl"
  try:
    deadline = time.monotonic() + 90
    while not (log.exists() and log.read_text().count("\n") >= 1):
      assert process.poll() is None, process.stderr.read().decode()[-3000:]
      assert time.monotonic() < deadline, "the driver logged no job within 90 s"
      time.sleep(0.01)
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()
  finished = len(finetune_fixtures.log_lines(tmp_path))
  assert 1 <= finished < NUM_JOBS
  summary = finetune_fixtures.sweep(tmp_path, factory=finetune_fixtures.slow_tiny_cnn,
                              executor=executor)
  assert (summary.skipped, summary.executed) == (finished, NUM_JOBS - finished)
  _assert_exactly_once(tmp_path, baseline)


def test_generic_jobs_come_back_once_each_and_errors_propagate(executor):
  results = dict(executor.map_unordered(fixtures.square_unless, list(range(20)), -1))
  assert results == {job: job * job for job in range(20)}
  with pytest.raises(ValueError, match="fails on purpose"):
    dict(executor.map_unordered(fixtures.square_unless, list(range(6)), 3))


def test_empty_address_runs_in_process_without_importing_ray():
  code = ("import sys\n"
          "from guidedrec_jax.distributed import make_executor, SequentialExecutor\n"
          "executor = make_executor('')\n"
          "assert isinstance(executor, SequentialExecutor)\n"
          "assert list(executor.map_unordered(divmod, [7, 9], 4)) == [(7, (1, 3)), (9, (2, 1))]\n"
          "assert not {'ray', 'torch', 'jax'} & set(sys.modules), sys.modules.keys()\n")
  subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


@pytest.mark.parametrize("kwargs, match", [
    (dict(ray_address="cluster"), "ray_address"),
    (dict(ray_address="ray://head"), "ray_address"),
    (dict(ray_address="10.0.0.1:70000"), "ray_address"),
    (dict(ray_address=None), "ray_address"),
    (dict(ray_address="auto", num_cpus_per_job=-1), "num_cpus_per_job"),
    (dict(ray_address="auto", num_cpus_per_job=float("nan")), "num_cpus_per_job"),
    (dict(ray_address="", num_gpus_per_job="1"), "num_gpus_per_job"),
    (dict(ray_address="auto", num_cpus_per_job=0, num_gpus_per_job=0), "both"),
    (dict(ray_address="auto", max_retries=-1), "max_retries"),
    (dict(ray_address="", max_retries=True), "max_retries"),
    (dict(ray_address="auto", local_num_cpus=2), "local_num_cpus"),
    (dict(ray_address="local", local_num_cpus=0), "local_num_cpus"),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    make_executor(**kwargs)


def test_ray_executor_needs_an_address():
  with pytest.raises(ValueError, match="ray_address"):
    RayExecutor("")


def _ray_config(**changes):
  config = {"ray_address": "", "ray_local_num_cpus": 0, "ray_max_retries": 3,
            "resources": {"sweep": {"num_cpus": 1.0, "num_gpus": 0.0}}}
  config.update(changes)
  return config


def test_executor_from_config_reads_the_ray_keys():
  assert isinstance(executor_from_config(_ray_config(), "sweep"), SequentialExecutor)
  pool = executor_from_config(_ray_config(), "sweep", local_workers=2)
  assert isinstance(pool, ProcessExecutor) and pool.num_workers == 2
  executor = executor_from_config(_ray_config(
      ray_address="127.0.0.1:6379", ray_max_retries=1,
      resources={"sweep": {"num_cpus": 2, "num_gpus": 0.5}}), "sweep")
  assert isinstance(executor, RayExecutor)
  assert (executor.ray_address, executor.num_cpus_per_job, executor.num_gpus_per_job,
          executor.max_retries, executor.local_num_cpus) == ("127.0.0.1:6379", 2, 0.5, 1, None)
  local = executor_from_config(_ray_config(ray_address="local", ray_local_num_cpus=3), "sweep")
  assert local.local_num_cpus == 3
  with pytest.raises(ValueError, match="max_retries"):
    executor_from_config(_ray_config(ray_address="local", ray_max_retries=-2), "sweep")


@pytest.mark.parametrize("drop", ["ray_address", "ray_local_num_cpus", "ray_max_retries",
                                  "resources"])
def test_executor_from_config_has_no_defaults(drop):
  config = _ray_config()
  del config[drop]
  with pytest.raises(KeyError, match=drop):
    executor_from_config(config, "sweep")
  with pytest.raises(KeyError, match="extract"):
    executor_from_config(_ray_config(), "extract")


def test_local_ray_stays_on_loopback_and_leaves_no_token_file(tmp_path):
  code = ("from guidedrec_jax.distributed import make_executor\n"
          "from tests.distributed import fixtures\n"
          "with make_executor('local', local_num_cpus=1) as executor:\n"
          "  results = dict(executor.map_unordered(fixtures.square_unless, [2, 3], -1))\n"
          "  assert results == {2: 4, 3: 9}\n"
          "  import ray  # only now: the executor sets Ray's environment before it imports it\n"
          "  assert {n['NodeManagerAddress'] for n in ray.nodes()} == {'127.0.0.1'}\n"
          "assert not ray.is_initialized()\n")
  # A home of its own: Ray would otherwise write ~/.ray/auth_token.
  env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
         "HOME": str(tmp_path)}
  process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                             start_new_session=True)
  try:
    assert process.wait(timeout=120) == 0
  finally:
    try:
      os.killpg(process.pid, signal.SIGKILL)  # anything the local Ray left behind
    except ProcessLookupError:
      pass
    process.wait(timeout=10)
  assert not (tmp_path / ".ray").exists()


def test_run_module_returns_on_success_and_names_a_failed_child():
  from guidedrec_jax.distributed.local import run_module
  run_module("json.tool", "--help", what="json.tool")  # exits 0
  with pytest.raises(RuntimeError, match="the probe child failed with exit status 2"):
    run_module("json.tool", "--no-such-flag", what="the probe child")
