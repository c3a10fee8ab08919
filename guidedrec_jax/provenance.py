"""Where a run's figures came from: the commit, the machine, the load and the command.

`run_record()` is the `{"event": "run", ...}` record every evaluation and main-job run writes
first to its metrics.jsonl; `guidedrec_jax/results.py` refuses a run without one.
"""

from __future__ import annotations

import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time
from typing import Any

from guidedrec_jax.cost.memory import machine_memory_bytes

PathLike = str | os.PathLike


def git_commit(repo: PathLike | None = None) -> str:
  """The short sha of `repo`'s HEAD (this checkout by default), "-dirty" when tracked files
  differ from it; "unknown" when it is not a git checkout or git fails. Never raises."""
  repo = pathlib.Path(repo) if repo else pathlib.Path(__file__).resolve().parents[1]
  def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()
  try:
    sha = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
  except (OSError, subprocess.SubprocessError):
    return "unknown"
  return (sha + "-dirty" if dirty else sha) or "unknown"


def load_average() -> list[float]:
  """The 1/5/15-minute load averages, to 2 decimals: what a run record and its `run_end`
  record say of the machine's load, so that RESULTS.md compares like with like."""
  return [round(x, 2) for x in os.getloadavg()]


def run_record() -> dict[str, Any]:
  """How and where this process runs: the `{"event": "run", ...}` record every evaluation
  and main-job run writes first to its metrics.jsonl (guidedrec_jax/results.py reads it).

  Keys: commit (`git_commit`), date (UTC, ISO 8601), machine (host, processor, CPUs, memory
  in GiB, accelerator: env `GUIDEDREC_ACCELERATOR`, else "cpu"), load (`load_average`), cwd
  and command (the interpreter, relative to cwd when inside it, then `sys.argv`,
  shell-quoted).
  """
  try:
    memory = machine_memory_bytes() / 2**30
  except (ValueError, OSError, AttributeError):
    memory = float("nan")
  return {
      "commit": git_commit(),
      "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
      "machine": {"host": platform.node(), "processor": platform.processor() or
                  platform.machine(), "cpus": os.cpu_count(), "memory_gib": round(memory, 1),
                  "accelerator": os.environ.get("GUIDEDREC_ACCELERATOR", "cpu")},
      "load": load_average(),
      "cwd": os.getcwd(),
      "command": command_line(),
  }


def command_line() -> str:
  """This process's command: the interpreter (relative to cwd when inside it), then
  `sys.argv`, shell-quoted."""
  interpreter = sys.executable or "python"
  if interpreter.startswith(os.getcwd() + os.sep):
    interpreter = os.path.relpath(interpreter)
  return shlex.join([interpreter, *sys.argv])
