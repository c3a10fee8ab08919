"""Runs a fan-out stage's jobs as Ray tasks: on a Ray started here, or on a cluster.

One value, `ray_address`, moves a stage off this machine (`make_executor`): "" runs it here
(`SequentialExecutor`, or `ProcessExecutor` with several local workers; Ray is not even
imported), "local" starts a Ray on this machine,
"auto", "host:port" or "ray://host:port" join a running cluster. The code that drives the
stage is the same in every case: `executor.map_unordered(fn, jobs, context)`.

How the work moves. `fn` is a top-level (importable) function, the jobs are small picklable
specs, and `context` (the datasets as numpy arrays, model metadata) is put into Ray's object
store once per call and read by every task from there, not shipped again with each job.
Workers must be able to import the project (on one machine they inherit the driver's
`sys.path`; on a cluster, install it on every node or pass a Ray `runtime_env`).

Exactly once. Workers only compute and return; the driver alone writes (the sweep logs each
result as it arrives and skips logged job keys when it resumes). Each submitted job is
yielded exactly once: Ray reruns a task whose worker process or node died (a *system*
failure, up to `max_retries` times, from scratch: the dead attempt's result is never read),
and a task's result is sealed once, so a retried task cannot deliver twice. An exception
raised *by* a job is not retried (`retry_exceptions=False`): the jobs are deterministic, so
it would only fail again; it reaches the driver, which has logged every earlier result. If
the driver dies, Ray cancels its tasks (a task's owner is its driver), and a restarted
driver resumes from its log.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import sys
from typing import Any, Callable, Iterator, Sequence

from guidedrec_jax.distributed.local import (Context, Executor, Job, ProcessExecutor, Result,
                                             SequentialExecutor)

# "host:port", optionally after "ray://" (Ray Client); IPv6 literals are not accepted.
_ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9._-]+:(\d{1,5})$")


def validate_ray_address(ray_address: str) -> None:
  """Checks a `ray_address` value (see `make_executor`).

  Raises:
    ValueError: not "", "local", "auto", "host:port" or "ray://host:port" with 1 <= port <=
      65535.
  """
  if not isinstance(ray_address, str):
    raise ValueError(f"ray_address must be a string, got {type(ray_address).__name__}")
  if ray_address in ("", "local", "auto"):
    return
  match = _ADDRESS.match(ray_address)
  if match is None or not 1 <= int(match.group(2)) <= 65535:
    raise ValueError(f'ray_address must be "", "local", "auto", "host:port" or '
                     f'"ray://host:port", got {ray_address!r}')


def _call(fn: Callable[[Job, Context], Result], job: Job, context: Context,
          num_threads: int) -> Result:
  """Runs `fn(job, context)` in a Ray worker with `num_threads` torch threads.

  Torch is only configured if unpickling `fn` or `context` imported it: the JAX stages'
  workers never import torch.
  """
  torch = sys.modules.get("torch")
  if torch is not None:
    torch.set_num_threads(num_threads)
  return fn(job, context)


class RayExecutor:
  """Runs each job as one Ray task and yields the results as they finish.

  Connects (or starts a local Ray) on the first `map_unordered`, and stays connected for
  later stages; `close` (or leaving a `with` block) disconnects, shutting down a Ray that
  this executor started. A Ray already initialised in this process is used as it is.

  Attributes:
    ray_address: "local", "auto", "host:port" or "ray://host:port".
    num_cpus_per_job: CPUs Ray reserves per task; torch gets max(1, floor of it) threads.
    num_gpus_per_job: GPUs (may be fractional) Ray reserves per task.
    max_retries: reruns of a task whose worker or node died.
    local_num_cpus: CPUs of a "local" Ray (None: all of this machine's).
  """

  def __init__(self, ray_address: str, num_cpus_per_job: float = 1, num_gpus_per_job: float = 0,
               max_retries: int = 3, local_num_cpus: int | None = None):
    """See the class attributes.

    Raises:
      ValueError: a bad argument, named in the message (see `make_executor`).
    """
    _validate(ray_address, num_cpus_per_job, num_gpus_per_job, max_retries, local_num_cpus)
    if ray_address == "":
      raise ValueError('ray_address "" means no Ray; use make_executor("") for that')
    self.ray_address = ray_address
    self.num_cpus_per_job = num_cpus_per_job
    self.num_gpus_per_job = num_gpus_per_job
    self.max_retries = max_retries
    self.local_num_cpus = local_num_cpus
    self._owns_ray = False

  def _ray(self) -> Any:
    """Returns the `ray` module, connected (this executor's Ray started if "local")."""
    if self.ray_address == "local" and "ray" not in sys.modules:
      _set_local_ray_env()
    import ray  # Imported here: the default "" path never loads Ray.
    if not ray.is_initialized():
      if self.ray_address == "local":
        ray.init(address="local", num_cpus=self.local_num_cpus, include_dashboard=False,
                 logging_level=logging.WARNING)
      else:
        ray.init(address=self.ray_address, logging_level=logging.WARNING)
      self._owns_ray = True
    return ray

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    """Submits every job at once (Ray queues them by resources); yields each as it ends.

    Args:
      fn: a top-level function `(job, context) -> result`, run in a worker.
      jobs: picklable job specs.
      context: the picklable input all jobs share; put into the object store once.

    Yields:
      `(job, result)`, in order of completion.

    Raises:
      Exception: a job's own exception (Ray's error type is also an instance of the job's
        exception class), or `ray.exceptions.WorkerCrashedError` once retries are spent.
    """
    if not jobs:
      return  # e.g. a fully resumed sweep: no reason to start or join a Ray
    ray = self._ray()
    task = ray.remote(_call).options(
        num_cpus=self.num_cpus_per_job, num_gpus=self.num_gpus_per_job,
        max_retries=self.max_retries, retry_exceptions=False)
    context_ref = ray.put(context)
    num_threads = max(1, int(self.num_cpus_per_job))
    pending = {task.remote(fn, job, context_ref, num_threads): job for job in jobs}
    try:
      while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(ready)
        yield job, ray.get(ready)
    finally:
      # The driver stopped early (a job failed, Ctrl-C, or it stopped reading): free the
      # workers instead of computing results nobody will log.
      for ref in pending:
        ray.cancel(ref)

  def close(self) -> None:
    """Disconnects from Ray if this executor connected (stopping a "local" Ray it started)."""
    if self._owns_ray:
      import ray
      ray.shutdown()
      self._owns_ray = False

  def __enter__(self) -> "RayExecutor":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


def _set_local_ray_env() -> None:
  """Sets the environment of a Ray on this machine alone, before `ray` is imported.

  Ray reads it when imported and when it starts its processes, which inherit it. Settings
  already in the environment win. Not called if `ray` was imported before the executor's
  first use: Ray then behaves as its defaults say.
  """
  # "0": Ray binds and advertises 127.0.0.1, not the host's routable address (on Linux it
  # otherwise swaps 127.0.0.1 for the latter): one machine needs no network.
  os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
  # Ray starts its workers at nice 15; on a machine shared with other work they then get a
  # fraction of the CPU that the same jobs get in this process (nice 0): no speed-up at all.
  os.environ.setdefault("RAY_worker_niceness", "0")
  if "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
    # Token authentication, as Ray's default for a local Ray, but with a token of this run:
    # Ray would write one to ~/.ray/auth_token, which silently switches every later
    # `ray start` of this user to token mode.
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))


def _validate(ray_address: str, num_cpus_per_job: float, num_gpus_per_job: float,
              max_retries: int, local_num_cpus: int | None) -> None:
  """Checks `make_executor`'s arguments; raises a `ValueError` naming the bad one."""
  validate_ray_address(ray_address)
  for name, value in (("num_cpus_per_job", num_cpus_per_job),
                      ("num_gpus_per_job", num_gpus_per_job)):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
      raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
  if num_cpus_per_job == 0 and num_gpus_per_job == 0:
    raise ValueError("num_cpus_per_job and num_gpus_per_job must not both be 0 (a job would "
                     "reserve nothing, so Ray would start any number at once)")
  if not _is_int(max_retries) or max_retries < 0:
    raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
  if local_num_cpus is not None:
    if ray_address != "local":
      raise ValueError(f'local_num_cpus applies to ray_address "local" only, got '
                       f'{ray_address!r}')
    if not _is_int(local_num_cpus) or local_num_cpus < 1:
      raise ValueError(f"local_num_cpus must be an int >= 1, got {local_num_cpus!r}")


def _is_int(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def make_executor(ray_address: str, num_cpus_per_job: float = 1, num_gpus_per_job: float = 0,
                  max_retries: int = 3, local_num_cpus: int | None = None,
                  local_workers: int = 1) -> Executor:
  """Returns the executor that `ray_address` selects.

  Args:
    ray_address: "" runs the jobs on this machine without Ray (no Ray import): in this
      process, one after another, or in `local_workers` spawned processes; "local" starts a
      Ray on this machine (on 127.0.0.1 only, with a token of its own, its workers at normal
      priority, if `ray` is not imported before); "auto" joins the cluster of `RAY_ADDRESS`
      or of the latest `ray start` here; "host:port" joins the cluster whose head listens
      there; "ray://host:port" joins through Ray Client.
    num_cpus_per_job: CPUs reserved per job (Ray paths); torch gets that many threads.
    num_gpus_per_job: GPUs reserved per job (Ray paths); may be fractional.
    max_retries: reruns of a job whose worker or node died (Ray paths).
    local_num_cpus: CPUs of a "local" Ray; all of this machine's when None.
    local_workers: processes of the "" path: 1 runs the jobs in this process
      (`SequentialExecutor`), more spawns that many one-thread workers (`ProcessExecutor`).

  Returns:
    A `SequentialExecutor` or `ProcessExecutor` for "", else a `RayExecutor` (connects on
    first use; close it, or use it in a `with` block).

  Raises:
    ValueError: a bad argument, named in the message (checked for "" too, so a config
      error shows before the sweep moves to a cluster).
  """
  _validate(ray_address, num_cpus_per_job, num_gpus_per_job, max_retries, local_num_cpus)
  if not _is_int(local_workers) or local_workers < 1:
    raise ValueError(f"local_workers must be an int >= 1, got {local_workers!r}")
  if ray_address == "":
    return SequentialExecutor() if local_workers == 1 else ProcessExecutor(local_workers)
  return RayExecutor(ray_address, num_cpus_per_job, num_gpus_per_job, max_retries,
                     local_num_cpus)


# The keys `executor_from_config` reads: all required, none defaulted.
RAY_KEYS = ("ray_address", "ray_local_num_cpus", "ray_max_retries", "resources")
RESOURCE_KEYS = ("num_cpus", "num_gpus")


def executor_from_config(config: Any, stage: str, local_workers: int = 1) -> Executor:
  """`make_executor` for one fan-out `stage` of a config, every key read strictly.

  Reads `config.ray_address`, `config.ray_local_num_cpus` (CPUs of a "local" Ray; 0 = all
  of this machine's), `config.ray_max_retries` and `config.resources[stage].num_cpus` /
  `.num_gpus` (what Ray reserves per job of that stage; GPU fractions pack jobs on a GPU).

  Args:
    config: a mapping (ml-collections config or its JSON form) holding `RAY_KEYS`.
    stage: the name of a `config.resources` entry, e.g. "sweep".
    local_workers: processes used when `ray_address` is "" (see `make_executor`).

  Raises:
    KeyError: a key is missing (named; there are no defaults).
    ValueError: a bad value, named in the message.
  """
  missing = [key for key in RAY_KEYS if key not in config]
  if missing:
    raise KeyError(f"the config lacks {missing} (declare them; there are no defaults)")
  resources = config["resources"]
  if stage not in resources:
    raise KeyError(f"config.resources lacks the stage {stage!r}; it has {sorted(resources)}")
  missing = [key for key in RESOURCE_KEYS if key not in resources[stage]]
  if missing:
    raise KeyError(f"config.resources.{stage} lacks {missing}")
  address, local_cpus = config["ray_address"], config["ray_local_num_cpus"]
  if not _is_int(local_cpus) or local_cpus < 0:
    raise ValueError(f"config.ray_local_num_cpus must be an int >= 0 (0 = all CPUs), got "
                     f"{local_cpus!r}")
  try:
    return make_executor(address, resources[stage]["num_cpus"], resources[stage]["num_gpus"],
                         config["ray_max_retries"],
                         (local_cpus or None) if address == "local" else None, local_workers)
  except ValueError as e:
    raise ValueError(f"config.ray_address / ray_max_retries / resources.{stage}: {e}") from e
