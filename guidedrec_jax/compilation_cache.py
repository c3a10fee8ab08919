"""JAX's persistent compilation cache, on by default in every JAX binary.

On CPU, XLA compilation dominates a fresh process (a zoo of 5 distinct D × 11 scores is ~55
compilations); with the cache a second process loads the executables from disk. Each binary
calls `enable(...)` first thing in `main()`; the value comes from its config when it has one,
else from `$GUIDEDREC_COMPILATION_CACHE`:

  "default" (or unset)  `paths.cache_dir()/jax_compilation`, i.e.
                        `$GUIDEDREC_CACHE/jax_compilation` or `~/.cache/guidedrec_jax/...`
  "off" / "" / "none"   disabled (every process compiles again)
  any other string      that folder

This module imports JAX lazily and never imports torch, so torch-only processes may import it.
"""

from __future__ import annotations

import logging
import os
import pathlib

from guidedrec_jax import paths

ENV = "GUIDEDREC_COMPILATION_CACHE"
DEFAULT = "default"
OFF = ("off", "", "none", "false")
SUBDIR = "jax_compilation"


def resolve(setting: str | None = None) -> pathlib.Path | None:
  """The cache folder that `setting` names (None: `$GUIDEDREC_COMPILATION_CACHE`), or None
  when it turns the cache off."""
  if setting is None:
    setting = os.environ.get(ENV, DEFAULT)
  if not isinstance(setting, str):
    raise ValueError(f"compilation cache setting must be a string ('default', 'off' or a "
                     f"folder), got {setting!r}")
  if setting.strip().lower() in OFF:
    return None
  if setting.strip().lower() == DEFAULT:
    return paths.cache_dir() / SUBDIR
  return pathlib.Path(setting).expanduser()


def enable(setting: str | None = None) -> pathlib.Path | None:
  """Turns JAX's persistent compilation cache on (or off) for this process.

  Every compilation is cached, however short or small: on CPU the many sub-second compiles of
  the score cores add up to most of a fresh process's time.

  Args:
    setting: "default", "off" or a folder; None reads `$GUIDEDREC_COMPILATION_CACHE`.

  Returns:
    the cache folder, or None when disabled (also when the folder cannot be created: a
    read-only home must not stop a binary; a warning says so).
  """
  import jax  # lazily: importing this module must not initialise JAX

  folder = resolve(setting)
  if folder is not None:
    try:
      folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
      logging.warning("compilation cache disabled: cannot create %s (%s)", folder, error)
      folder = None
  if folder is None:
    jax.config.update("jax_enable_compilation_cache", False)
    return None
  jax.config.update("jax_enable_compilation_cache", True)
  jax.config.update("jax_compilation_cache_dir", str(folder))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return folder
