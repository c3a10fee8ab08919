"""The executor protocol of the fan-out stages, and the executors that need no cluster.

A fan-out stage (the fine-tuning jobs of a sweep, feature extraction per (model, dataset),
scoring per probe set) is `fn(job, context)` over many small, picklable `job` specs that share
one large `context`. An executor runs it here (`SequentialExecutor`, the default), in local
worker processes (`ProcessExecutor`) or on Ray (`ray_executor.RayExecutor`); the driver
consumes `(job, result)` pairs as they come and alone writes the results down. The job
function, jobs, context and results must pickle for any executor but `SequentialExecutor`.

This module imports neither torch nor JAX nor Ray, so both halves of the project can use it.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

Job = TypeVar("Job")
Context = TypeVar("Context")
Result = TypeVar("Result")

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Executor(Protocol):
  """Runs `fn(job, context)` for every job and yields `(job, result)` as each one finishes.

  Results may come in any order, each submitted job exactly once. An exception in a job
  propagates to the driver, which has already consumed every result yielded before it.
  """

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    ...


class SequentialExecutor:
  """Runs the jobs one after another in this process, in order."""

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    """Yields `(job, fn(job, context))` for each job in turn."""
    for job in jobs:
      yield job, fn(job, context)

  def close(self) -> None:
    """Nothing to release; present so that every executor can be closed the same way."""

  def __enter__(self) -> "SequentialExecutor":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


class ProcessExecutor:
  """Runs the jobs in `num_workers` spawned processes of this machine, one thread each.

  Workers are spawned, never forked: the parent may hold torch or JAX threads, which a fork
  copies in an undefined state. Each worker runs with one BLAS/OpenMP thread (set before a job
  first imports torch): on a small shared machine processes, not threads, use the cores. The
  pool starts at the first job, so a stage with nothing to do (a resumed run) starts no
  process, and one executor can serve several stages; the context travels with each job.
  """

  def __init__(self, num_workers: int):
    """Args:
      num_workers: processes to run at once, >= 1 (e.g. the number of cores).

    Raises:
      ValueError: `num_workers` is not an int >= 1.
    """
    if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 1:
      raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    self.num_workers = num_workers
    self._pool: concurrent.futures.ProcessPoolExecutor | None = None

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    """Yields `(job, fn(job, context))` in completion order; a failed job raises here."""
    if not jobs:
      return
    if self._pool is None:
      self._pool = concurrent.futures.ProcessPoolExecutor(
          self.num_workers, mp_context=multiprocessing.get_context("spawn"),
          initializer=_single_thread_worker)
    futures = {self._pool.submit(fn, job, context): job for job in jobs}
    try:
      for future in concurrent.futures.as_completed(futures):
        yield futures[future], future.result()
    finally:
      # Reached on a job's exception or an abandoned generator: start nothing more.
      for future in futures:
        future.cancel()

  def close(self) -> None:
    """Stops the workers once the jobs already running have finished."""
    if self._pool is not None:
      self._pool.shutdown(wait=True, cancel_futures=True)
      self._pool = None

  def __enter__(self) -> "ProcessExecutor":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


def _single_thread_worker() -> None:
  os.environ.update({name: "1" for name in THREAD_VARIABLES})


def run_module(module: str, *args: str, what: str) -> None:
  """Runs `python -m module args` in a child process with one BLAS/OpenMP thread.

  The package is installed, so `-m` finds it from any directory: no path edits. The child's
  output (progress bars, tracebacks) passes through.

  Raises:
    RuntimeError: the child exited non-zero; `what` names it in the message.
  """
  env = {**os.environ, **{name: "1" for name in THREAD_VARIABLES}}
  done = subprocess.run([sys.executable, "-m", module, *args], env=env)
  if done.returncode != 0:
    raise RuntimeError(f"{what} failed with exit status {done.returncode}; "
                       "see the traceback above")
