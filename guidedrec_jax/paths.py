"""Where things live: the shared reference data and the default work/cache folders.

Every reader of `../shared` goes through `shared_dir()`, so a user who downloaded the same
files elsewhere points `GUIDEDREC_SHARED` at them and nothing else changes.
"""

from __future__ import annotations

import os
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_ENV = "GUIDEDREC_SHARED"
CACHE_ENV = "GUIDEDREC_CACHE"


def shared_dir(required: bool = True) -> pathlib.Path | None:
  """Returns the shared reference-data folder.

  Looks at `$GUIDEDREC_SHARED` first, then `<project root>/../shared`.

  Args:
    required: raise `FileNotFoundError` (naming both places looked at) when absent;
      otherwise return None.
  """
  env = os.environ.get(SHARED_ENV)
  candidates = [pathlib.Path(env).expanduser()] if env else []
  candidates.append(PROJECT_ROOT.parent / "shared")
  for candidate in candidates:
    if candidate.is_dir():
      return candidate.resolve()
  if required:
    raise FileNotFoundError(
        f"shared data folder not found; looked at {[str(c) for c in candidates]}. "
        f"Set ${SHARED_ENV} to the folder holding data/ and fixtures/.")
  return None


def shared_path(*parts: str) -> pathlib.Path:
  """Returns `shared_dir()/parts...`, raising `FileNotFoundError` if it does not exist."""
  path = shared_dir().joinpath(*parts)
  if not path.exists():
    raise FileNotFoundError(f"{path} does not exist under the shared folder {shared_dir()}")
  return path


def cache_dir() -> pathlib.Path:
  """Returns the cache root: `$GUIDEDREC_CACHE` or `~/.cache/guidedrec_jax`."""
  env = os.environ.get(CACHE_ENV)
  return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "guidedrec_jax"
