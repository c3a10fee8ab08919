"""A throwaway two-node Ray cluster on 127.0.0.1, and jobs that let a test kill a worker.

Usage: `from tests.distributed import fixtures` (pytest runs from the repo root; Ray workers
started here inherit the driver's `sys.path`, so they import this module too).
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import torch

from tests.finetune import fixtures as finetune_fixtures

# Set in every process of the cluster, and in the drivers before they import `ray`:
# - on Linux, Ray replaces 127.0.0.1 by the host's routable address unless this is "0";
# - token authentication with this module's own token, independent of ~/.ray/auth_token;
# - workers at nice 0, not Ray's 15, so that a busy machine does not starve them.
CLUSTER_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
               "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_worker_niceness": "0"}
_RAY = str(pathlib.Path(sys.executable).with_name("ray"))
# `ray start --address` refuses to run with the first setting, so the second node is started
# the way `ray start` itself starts one: with Ray's `Node` class, here pinned to 127.0.0.1.
_WORKER_NODE = """
import signal, sys, time
from ray._private.node import Node
from ray._private.parameter import RayParams
Node(RayParams(gcs_address=sys.argv[1], node_ip_address="127.0.0.1", num_cpus=int(sys.argv[2]),
               temp_dir=sys.argv[3], include_log_monitor=False),
     head=False, shutdown_at_exit=True, spawn_reaper=True)
print("node started", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit runs Node's own cleanup
while True:
  time.sleep(1)
"""


def free_port() -> int:
  """A TCP port on 127.0.0.1 that nothing listens on right now."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class LocalCluster:
  """A Ray head (`ray start --head --block`) plus one worker node, all on 127.0.0.1.

  Each runs in its own session, so `stop` can end exactly the processes started here.
  """

  def __init__(self, head_cpus: int = 2, worker_cpus: int = 1, timeout_s: float = 120):
    self.port = free_port()
    self.address = f"127.0.0.1:{self.port}"
    # Short and private: Ray's socket paths live under it (Unix sockets allow ~107 chars).
    self.temp_dir = tempfile.mkdtemp(prefix="grj_ray_", dir="/tmp")
    self._env = {**os.environ, **CLUSTER_ENV, "OMP_NUM_THREADS": "1"}
    self._processes: list[subprocess.Popen] = []
    try:
      self._spawn("head", [_RAY, "start", "--head", "--node-ip-address=127.0.0.1",
                           f"--port={self.port}", f"--num-cpus={head_cpus}",
                           "--include-dashboard=false", "--disable-usage-stats",
                           f"--temp-dir={self.temp_dir}", "--block"],
                  "Ray runtime started", timeout_s)
      if worker_cpus:
        self._spawn("worker", [sys.executable, "-c", _WORKER_NODE, self.address,
                               str(worker_cpus), self.temp_dir], "node started", timeout_s)
    except BaseException:
      self.stop()
      raise

  def _spawn(self, name: str, command: list[str], ready_line: str, timeout_s: float) -> None:
    log_path = pathlib.Path(self.temp_dir) / f"{name}.log"
    with open(log_path, "w") as log:
      process = subprocess.Popen(command, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    self._processes.append(process)
    deadline = time.monotonic() + timeout_s
    while ready_line not in log_path.read_text():
      if _exited(process) or time.monotonic() > deadline:
        raise RuntimeError(f"Ray {name} did not start:\n{log_path.read_text()[-3000:]}")
      time.sleep(0.2)

  def stop(self, timeout_s: float = 30) -> None:
    """Ends every process started here: SIGTERM (Ray's own clean-up), then SIGKILL to each
    session for what is left (workers, agents)."""
    # The leaders are reaped only at the end: until then their PIDs, which are also their
    # sessions' process group IDs, cannot be reused by another process.
    for process in reversed(self._processes):
      if not _exited(process):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in reversed(self._processes):
      while not _exited(process) and time.monotonic() < deadline:
        time.sleep(0.1)
      if process.returncode is None:
        try:
          os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
          pass
      process.wait(timeout=10)
    self._processes.clear()
    shutil.rmtree(self.temp_dir, ignore_errors=True)


def _exited(process: subprocess.Popen) -> bool:
  """Whether `process` has ended, without reaping it (so its PID stays reserved)."""
  if process.returncode is not None:  # reaped already
    return True
  return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


class HoldingFactory:
  """`tiny_cnn` that counts job starts (one line each in `starts_path`); the first job of all
  writes its worker's PID to `held_path` and then holds still for `hold_s`, so that a test
  can kill that worker mid-job for sure.
  """

  def __init__(self, starts_path: pathlib.Path, held_path: pathlib.Path, hold_s: float = 60.0):
    self.starts_path = pathlib.Path(starts_path)
    self.held_path = pathlib.Path(held_path)
    self.hold_s = hold_s

  def __call__(self, name: str, num_classes: int, pretrained: bool) -> torch.nn.Module:
    line = f"{os.getpid()}\n".encode()
    # One short O_APPEND write per line: lines from concurrent workers never interleave.
    fd = os.open(self.starts_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
      os.write(fd, line)
    finally:
      os.close(fd)
    try:  # O_EXCL: exactly one job, in whichever worker, gets to create it
      fd = os.open(self.held_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
      return finetune_fixtures.tiny_cnn(name, num_classes, pretrained)
    try:
      os.write(fd, line)
    finally:
      os.close(fd)
    time.sleep(self.hold_s)
    return finetune_fixtures.tiny_cnn(name, num_classes, pretrained)


def square_unless(job: int, context: int) -> int:
  """A generic job: `job ** 2`, or a `ValueError` when `job == context`."""
  if job == context:
    raise ValueError(f"job {job} fails on purpose")
  return job * job
