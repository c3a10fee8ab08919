"""Where a sweep's jobs run: the executor interface and the executors that need no cluster.

An executor runs `fn(job, context)` for every job and yields `(job, result)` as each one
finishes. The context is what all jobs share (the data subsets, the model factory): an
executor that runs jobs elsewhere ships it once per worker, not once per job. Executors never
write files: the sweep driver logs every result it is handed, so a result counts once it has
been yielded and a crash anywhere loses only the jobs still running.

The job function, job, context and result must pickle for any executor other than
`SequentialExecutor` (top-level functions, dataclasses, numpy arrays). A Ray executor (issue 4)
implements the same `map_unordered`.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Any, Callable, Generic, Iterator, Protocol, Sequence, TypeVar

Job = TypeVar("Job")
Context = TypeVar("Context")
Result = TypeVar("Result")

# The context of this worker process, set once by `_init_worker` (see `ProcessExecutor`).
_worker_context: Any = None


class Executor(Protocol):
  """Runs jobs and yields `(job, result)` pairs in completion order.

  An exception raised by a job propagates to the caller after the results already yielded;
  jobs not yet started are cancelled.
  """

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    ...


class SequentialExecutor:
  """Runs the jobs one after another in this process, in the given order."""

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    for job in jobs:
      yield job, fn(job, context)


class ProcessExecutor(Generic[Job, Context, Result]):
  """Runs the jobs in `num_workers` fresh processes of this machine (one job per worker).

  Workers are spawned, not forked: a fork of a process that already ran torch can deadlock.
  Each worker receives the context once, when it starts.
  """

  def __init__(self, num_workers: int):
    """Args:
      num_workers: processes to run at once, >= 1 (e.g. the number of cores).

    Raises:
      ValueError: `num_workers < 1`.
    """
    if not isinstance(num_workers, int) or num_workers < 1:
      raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    self.num_workers = num_workers

  def map_unordered(self, fn: Callable[[Job, Context], Result], jobs: Sequence[Job],
                    context: Context) -> Iterator[tuple[Job, Result]]:
    if not jobs:
      return
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(self.num_workers, len(jobs)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker, initargs=(context,)) as pool:
      futures = {pool.submit(_call_with_worker_context, fn, job): job for job in jobs}
      try:
        for future in concurrent.futures.as_completed(futures):
          yield futures[future], future.result()
      finally:
        # Reached on a job's exception or when the caller stops early: start nothing more.
        for future in futures:
          future.cancel()


def _init_worker(context: Any) -> None:
  global _worker_context
  _worker_context = context


def _call_with_worker_context(fn: Callable[[Any, Any], Any], job: Any) -> Any:
  return fn(job, _worker_context)
