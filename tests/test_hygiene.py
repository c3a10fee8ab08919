"""The package is installed (editable): the main job's code and tests do not edit the import
path, and no test skips because one of the project's own modules failed to import.

Covers the package, the scripts, the configs and the tests.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Built from pieces so that this file does not match itself.
PATH_EDIT = re.compile("sys" + r"\.path\.(insert|append)|" + "PYTHON" + "PATH")
OWN_IMPORTORSKIP = re.compile("importorskip" + r"\(\s*['\"](guidedrec_jax|configs|tests)")
ANY_IMPORTORSKIP = re.compile("importor" + "skip")
# The whole project: every module, script, config and test.
MAIN_JOB = ("guidedrec_jax", "scripts", "configs", "tests")



def _files(parts):
  for part in parts:
    path = ROOT / part
    yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def test_no_import_path_edits():
  files = list(_files(MAIN_JOB))
  assert len(files) > 40
  offenders = [str(p.relative_to(ROOT)) for p in files if PATH_EDIT.search(p.read_text())]
  assert not offenders, f"import path edited (use the installed package, -m): {offenders}"


def test_no_importorskip_of_the_projects_own_modules():
  offenders = [str(p.relative_to(ROOT)) for p in _files(["tests"])
               if OWN_IMPORTORSKIP.search(p.read_text())]
  assert not offenders, f"importorskip hides a broken import of our own code: {offenders}"


def test_dependencies_are_imported_plainly():
  """ARCHITECTURE.md: no `importorskip` at all: a missing dependency fails, it never skips."""
  offenders = [str(p.relative_to(ROOT)) for p in _files(MAIN_JOB)
               if p.name != "test_hygiene.py" and ANY_IMPORTORSKIP.search(p.read_text())]
  assert not offenders, f"importorskip hides a missing dependency: {offenders}"


TEST_MODULE_IMPORT = re.compile(r"^\s*(from\s+tests(\.\w+)*\.test_\w+\s+import|"
                                r"from\s+tests(\.\w+)*\s+import\s+[^\n]*\btest_\w+|"
                                r"import\s+tests(\.\w+)*\.test_)", re.M)


def test_no_test_module_imports_another():
  """Shared test helpers live in helper modules (fixtures.py, histories.py, driver.py, ...),
  never in a test module that another one imports."""
  files = list(_files(["tests"]))
  offenders = [str(p.relative_to(ROOT)) for p in files if TEST_MODULE_IMPORT.search(p.read_text())]
  assert not offenders, f"a test module imports another: {offenders}"
  assert TEST_MODULE_IMPORT.search("from tests.finetune import fixtures, test_sweep\n")
  assert TEST_MODULE_IMPORT.search("from tests.benchmark.test_pipeline import DRIVER\n")
  assert not TEST_MODULE_IMPORT.search("from tests.finetune import fixtures\n")
