"""The package is installed (editable): the main job's code and tests do not edit the import
path, and no test skips because one of the project's own modules failed to import.

Covers the folders of issue 10 (the main job, its torch half, the executors and their
tests) and the whole test tree for `importorskip`.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Built from pieces so that this file does not match itself.
PATH_EDIT = re.compile("sys" + r"\.path\.(insert|append)|" + "PYTHON" + "PATH")
OWN_IMPORTORSKIP = re.compile("importorskip" + r"\(\s*['\"](guidedrec_jax|configs|tests)")
MAIN_JOB = ("guidedrec_jax/benchmark/pipeline.py", "guidedrec_jax/benchmark/torch_stages.py",
            "guidedrec_jax/benchmark/plan.py", "guidedrec_jax/finetune",
            "guidedrec_jax/zoo", "guidedrec_jax/data", "guidedrec_jax/distributed",
            "guidedrec_jax/contracts", "scripts/run_benchmark.py", "scripts/bench_ray_sweep.py",
            "configs/micro_zoo.py", "tests/benchmark", "tests/finetune", "tests/zoo",
            "tests/data", "tests/distributed", "tests/scores", "tests/recommender")


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
