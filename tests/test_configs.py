"""Configs are plain data: they import ml_collections and configs.common only, and loading any
of them imports no library module, JAX, torch or sklearn."""

import ast
import pathlib
import subprocess
import sys

import ml_collections
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


def _recommender_blocks(config, path="config"):
  """Every `recommender` block in a config, with where it sits."""
  for key, value in config.items():
    if key == "recommender":
      yield f"{path}.{key}", value.to_dict()
    elif hasattr(value, "items"):
      yield from _recommender_blocks(value, f"{path}.{key}")


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.stem != "common"],
                         ids=lambda p: p.name)
def test_every_config_has_a_smoke_variant(path):
  import importlib  # pylint: disable=import-outside-toplevel
  module = importlib.import_module("configs." + path.stem)
  assert module.get_config("smoke").to_dict() != module.get_config().to_dict()


@pytest.mark.parametrize("smoke", [False, True])
def test_every_config_ranks_by_the_one_recommender_block(smoke):
  """One recommender behind every door: each config's `recommender` block (setting 3, the
  benchmarks, train_recommender) is `configs.common.recommender_block`. Settings 1 and 2
  rank unseen models of ImageNet alone, where the model mean and the similar datasets have
  nothing to say: their configs blend the members that protocol has (ridge, trees, FM)."""
  import importlib  # pylint: disable=import-outside-toplevel
  from configs import common  # pylint: disable=import-outside-toplevel
  want = ml_collections.ConfigDict(common.recommender_block(smoke)).to_dict()
  seen = 0
  for path in CONFIGS:
    if path.stem == "common" or path.stem.startswith(("setting1", "setting2")):
      continue
    module = importlib.import_module("configs." + path.stem)
    config = module.get_config("smoke" if smoke else None)
    for where, block in _recommender_blocks(config):
      assert block == want, f"{path.name}: {where} differs from recommender_block({smoke})"
      seen += 1
  assert seen == 7  # micro_zoo and paper_zoo (saved + table), setting3, setting3_parc, train
