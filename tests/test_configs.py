"""Configs are plain data: they import ml_collections and configs.common only, and loading any
of them imports no library module, JAX, torch or sklearn."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.py") if p.name != "__init__.py")
ALLOWED = {"ml_collections", "configs.common", "__future__"}


def _imports(path: pathlib.Path) -> set[str]:
  out = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      out |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom):
      out.add(node.module if node.module != "configs" else
              "configs." + ",".join(a.name for a in node.names))
  return out


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_imports_only_plain_data(path):
  assert _imports(path) <= ALLOWED, f"{path.name} imports {_imports(path) - ALLOWED}"


def test_loading_every_config_imports_no_library():
  names = [p.stem for p in CONFIGS if p.stem != "common"]
  code = ("import importlib, sys\n"
          f"for name in {names!r}:\n"
          "  importlib.import_module('configs.' + name).get_config()\n"
          "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
          "('jax', 'torch', 'sklearn', 'guidedrec_jax', 'matplotlib', 'optax', 'flax'))\n"
          "print(bad)\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "[]", result.stdout
