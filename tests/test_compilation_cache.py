"""The persistent compilation cache: settings, and a fresh process that fills then reuses it."""

import os
import pathlib
import subprocess
import sys

import pytest

from guidedrec_jax import compilation_cache, paths

_PROGRAM = """
import jax, jax.numpy as jnp
from guidedrec_jax import compilation_cache
compilation_cache.enable({setting!r})
f = jax.jit(lambda x: jnp.linalg.eigh(x @ x.T)[0].sum())
print(float(f(jnp.ones((7, 5)))))
"""


def _run(setting: str, env: dict) -> None:
  subprocess.run([sys.executable, "-c", _PROGRAM.format(setting=setting)], check=True,
                 env=env, capture_output=True, timeout=120)


def test_resolve_settings(monkeypatch, tmp_path):
  monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path))
  monkeypatch.delenv(compilation_cache.ENV, raising=False)
  assert compilation_cache.resolve() == tmp_path / "jax_compilation"
  assert compilation_cache.resolve("default") == tmp_path / "jax_compilation"
  for off in ("off", "", "none", "OFF"):
    assert compilation_cache.resolve(off) is None
  assert compilation_cache.resolve(str(tmp_path / "x")) == tmp_path / "x"
  monkeypatch.setenv(compilation_cache.ENV, "off")
  assert compilation_cache.resolve() is None
  with pytest.raises(ValueError, match="compilation cache"):
    compilation_cache.resolve(3)


def test_fresh_processes_write_the_cache_when_on_and_nothing_when_off(tmp_path):
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}  # the package is installed (editable)
  on, off = tmp_path / "on", tmp_path / "off"
  _run(str(on), env)
  entries = sorted(p.name for p in on.iterdir())
  assert entries  # the executable was written
  _run(str(on), env)  # a second process reads it back (and adds nothing new for it)
  assert sorted(p.name for p in on.iterdir()) == entries
  _run("off", {**env, "GUIDEDREC_CACHE": str(off)})
  assert not off.exists()


def test_an_uncreatable_folder_disables_the_cache_with_a_warning(tmp_path, caplog):
  import jax
  before = jax.config.jax_enable_compilation_cache
  blocker = tmp_path / "file"
  blocker.write_text("not a folder")
  try:
    assert compilation_cache.enable(str(blocker / "cache")) is None
    assert "compilation cache disabled" in caplog.text
    assert not jax.config.jax_enable_compilation_cache
  finally:
    jax.config.update("jax_enable_compilation_cache", before)  # leave other tests alone


def test_module_does_not_import_torch_or_jax():
  code = ("import sys; from guidedrec_jax import compilation_cache; "
          "assert 'torch' not in sys.modules and 'jax' not in sys.modules")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


_IMPORTS_JAX = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("script", {path!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print("jax" in sys.modules)
"""


def test_every_binary_that_loads_jax_enables_the_cache():
  """ARCHITECTURE.md: the cache is on by default in every JAX binary: each script whose
  imports load JAX calls `compilation_cache.enable`, and those that do not load it."""
  root = pathlib.Path(__file__).resolve().parents[1]
  scripts = sorted((root / "scripts").glob("*.py"))
  runs = {p: subprocess.Popen([sys.executable, "-c", _IMPORTS_JAX.format(path=str(p))],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for p in scripts}
  loads_jax = {}
  for path, run in runs.items():
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, f"{path.name}: {err[-2000:]}"
    loads_jax[path.name] = out.strip().splitlines()[-1] == "True"
  enables = {p.name: "compilation_cache.enable(" in p.read_text() for p in scripts}
  assert loads_jax == enables
  assert sum(loads_jax.values()) >= 8 and not loads_jax["plan_cost.py"]
