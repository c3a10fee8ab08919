"""Test-wide settings, applied before JAX or torch is imported by any test module."""

import os

# Two host "devices" so the sharded zoo-scoring path runs on a CPU-only machine.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
# One thread per process: on a shared 2-core box more threads are slower, not faster.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(var, "1")

import pytest  # noqa: E402

from tests.shared_data import require_shared  # noqa: E402


@pytest.fixture(scope="session")
def shared_dir():
  """The shared reference data folder: skipped if absent, failed if CI requires it."""
  return require_shared()
