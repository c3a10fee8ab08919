"""Every binary in scripts/ turns a user error into one `error:` line and exit code 2.

Each binary runs once as a subprocess with an input that fails before any heavy work; the
runs share a small thread pool (a JAX binary starts in a few seconds, mostly imports).
"""

import concurrent.futures
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from guidedrec_jax import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
MISSING = "/nonexistent/guidedrec_cli_test"

# binary -> (arguments, a piece of the message); {tmp} is an empty folder, {exists} one that
# exists already. Each input is a user error the library (or absl's flags) names.
CASES = {
    "bench_finetune": ([], "--workdir"),
    "bench_fm": (["--config=configs/bench_fm.py"], "--workdir"),
    "bench_ray_sweep": (["--ray_cpus=0", "--noop_jobs=1"], "at least 1"),
    "bench_scores": (["--num_samples=many"], "--num_samples"),
    "evaluate": (["--config=configs/setting3.py", f"--config.history.path={MISSING}.csv",
                  "--workdir={tmp}/evaluate"], MISSING),
    "export_image_folder": (["--dataset=digits", "--out={exists}"], "exists already"),
    "plan_cost": (["--config=configs/micro_zoo.py:smoke", "--num_gpus=x"], "--num_gpus"),
    "recommend": (["--config=configs/micro_zoo.py", "--workdir={tmp}",
                   f"--dataset=folder:{MISSING}"], "missing"),
    "regret": (["--config=configs/micro_zoo.py", "--workdir={tmp}"], "history.csv"),
    "results": (["--config=configs/results.py", "--config.runs=('{tmp}',)",
                 "--config.out={tmp}/RESULTS.md"], "no config.json"),
    "run_benchmark": (["--config=configs/micro_zoo.py:smoke", "--config.num_workers=0",
                       "--workdir={tmp}/run"], "num_workers"),
    "score_zoo": (["--config=configs/score_zoo.py", "--config.synthetic.enabled=False",
                   "--config.cache_dir={tmp}", "--workdir={tmp}/scores"], "no feature files"),
    "train_recommender": (["--config=configs/train_recommender.py",
                           f"--config.run_workdir={MISSING}", "--workdir={tmp}/rec"], MISSING),
}


def _env() -> dict[str, str]:
  # A plain run: not the two emulated host devices that conftest sets for sharding tests.
  return {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout, env=_env())


def _binary(item: pytest.Item) -> str | None:
  """The binary a collected test of this file checks (its `name` parameter), if any."""
  callspec = getattr(item, "callspec", None)
  return callspec.params.get("name") if callspec else None


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
  """binary -> its finished process, for the binaries whose tests were selected, all started
  at once on a few threads."""
  selected = {_binary(item) for item in request.session.items
              if item.module is request.module} - {None}
  def start(name: str) -> subprocess.CompletedProcess:
    tmp, exists = tmp_path_factory.mktemp(name), tmp_path_factory.mktemp(name + "_out")
    args = [a.format(tmp=tmp, exists=exists) for a in CASES[name][0]]
    return _run([f"scripts/{name}.py", *args])
  with concurrent.futures.ThreadPoolExecutor(3) as pool:
    futures = {name: pool.submit(start, name) for name in sorted(selected)}
    return {name: future.result() for name, future in futures.items()}


def test_every_binary_is_covered():
  assert sorted(CASES) == sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_user_error_is_one_line_with_exit_code_2(runs, name):
  result = runs[name]
  last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
  assert result.returncode == cli.USAGE_EXIT, result.stderr[-3000:]
  assert last.startswith("error: ") and CASES[name][1] in last, result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  # absl's INFO lines (JAX's "Unable to initialize backend 'tpu'" probe) are off by default.
  assert not any(line.startswith("I") and "]" in line for line in result.stderr.splitlines())


PROGRAM = textwrap.dedent("""
    from absl import flags, logging
    from guidedrec_jax import cli
    flags.DEFINE_string("fail", "", "value / runtime / none")
    def main(argv):
      logging.info("an info line")
      logging.warning("a warning line")
      if flags.FLAGS.fail == "value":
        raise ValueError("history.csv has no column\\n'top1'")
      if flags.FLAGS.fail == "runtime":
        raise RuntimeError("a bug")
    cli.run(main)
""")


@pytest.mark.parametrize("args, rc, last, traceback, info", [
    (["--fail=value"], 2, "error: history.csv has no column 'top1'", False, False),
    (["--fail=value", "--verbosity=1"], 1, "'top1'", True, True),
    (["--fail=runtime"], 1, "RuntimeError: a bug", True, False),
    (["--fail=none", "--verbosity=0"], 0, "a warning line", False, True),
    (["--nope"], 2, "error: Unknown command line flag 'nope'", False, False),
])
def test_wrapper_keeps_tracebacks_of_bugs_and_logs_info_only_when_asked(args, rc, last,
                                                                        traceback, info):
  result = _run(["-c", PROGRAM, *args], timeout=60)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == rc, result.stderr
  assert lines[-1].startswith(last) or lines[-1].endswith(last), result.stderr
  assert ("Traceback" in result.stderr) == traceback
  assert ("an info line" in result.stderr) == info
  assert ("a warning line" in result.stderr) == (args[0] != "--nope")


def test_config_file_errors_are_one_line():
  result = _run(["scripts/regret.py", "--config=configs/micro_zoo.py:bogus",
                 "--workdir=/tmp"], timeout=60)
  assert result.returncode == cli.USAGE_EXIT and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "error: flag --config=configs/micro_zoo.py:bogus: Error whilst parsing config file: "
      "ValueError: unknown config argument 'bogus'; known: ['smoke']")
  result = _run(["scripts/regret.py", f"--config={MISSING}.py", "--workdir=/tmp"], timeout=60)
  assert result.returncode == cli.USAGE_EXIT and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith(f"error: flag --config={MISSING}.py")


@pytest.mark.parametrize("args, piece", [
    (["--task=digits", "--families=resnet"], "--families apply to --dataset"),
    (["--task=digits", f"--dataset=folder:{MISSING}"], "exclude each other")])
def test_recommend_refuses_flags_of_the_other_request(args, piece, tmp_path):
  result = _run(["scripts/recommend.py", "--config=configs/micro_zoo.py",
                 f"--workdir={tmp_path}", *args])
  assert result.returncode == 2 and piece in result.stderr, result.stderr[-500:]
