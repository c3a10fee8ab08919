"""Benchmarks a small fine-tuning sweep on a local Ray against the same sweep in this process.

One run measures, in this order:
  1. one-off costs: the start of Ray, and the first job of each process, in this process and
     in each Ray worker (imports, see `warm_up`);
  2. per-job overhead: `--noop_jobs` jobs that do nothing, through Ray vs in this process;
  3. the sweep in this process, then through Ray ("sequential then Ray"), and again through
     Ray, then in this process ("Ray then sequential"), each sweep in a fresh workdir;
and checks that every run logged the same results. On a shared machine other work limits
any speed-up; the script measures that ceiling too (CPU-bound loops in processes at once,
no Ray), before and after the runs. Each job trains a small CNN on a
procedural task with one torch thread; Ray runs `--ray_cpus` such jobs at once.

Usage:
  python scripts/bench_ray_sweep.py --ray_cpus=2 --lrs=0.01,0.02,0.05,0.1
"""

import functools
import importlib
import multiprocessing
import os
import statistics
import pathlib
import tempfile
import time

# One thread per process: set before torch is imported, and inherited by Ray's workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from absl import flags
import torch

from guidedrec_jax import cli, io, provenance
from guidedrec_jax.data import procedural
from guidedrec_jax.distributed import make_executor
from guidedrec_jax.finetune import InputSpec, JobsLog, ModelInfo, hpo_grid, run_sweep

flags.DEFINE_integer("ray_cpus", 2, "CPUs of the local Ray (= jobs at once).")
flags.DEFINE_list("tasks", ["procedural/shape", "procedural/position"], "Procedural tasks.")
flags.DEFINE_list("lrs", ["0.01", "0.02", "0.05", "0.1"], "Learning rates (jobs per task).")
flags.DEFINE_integer("num_train", 600, "Training images per task.")
flags.DEFINE_integer("epochs", 2, "Epochs per job.")
flags.DEFINE_integer("width", 24, "Channels of the CNN (job length).")
flags.DEFINE_integer("noop_jobs", 200, "No-op jobs for the per-job overhead.")
FLAGS = flags.FLAGS
MODEL = ModelInfo("bench_cnn", "cnn", InputSpec(32), 0.03, 0.02, "none")


def make_cnn(w: int, name: str, num_classes: int, pretrained: bool) -> torch.nn.Module:
  """A three-block CNN of width `w` for 32 px inputs; `pretrained` is ignored (random
  initialisation). Bound to `w` with `functools.partial`: Ray's workers see no flags."""
  del name, pretrained
  def block(c_in: int, c_out: int) -> list[torch.nn.Module]:
    return [torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.BatchNorm2d(c_out),
            torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
  return torch.nn.Sequential(*block(3, w), *block(w, 2 * w), *block(2 * w, 2 * w),
                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                             torch.nn.Linear(2 * w, num_classes))


def noop(job: int, context: None) -> int:
  """A job that does nothing: what is left of its time is the executor's overhead."""
  del context
  return job


def warm_up(job: int, context: None) -> int:
  """Pays a process's one-off costs of a fine-tuning job: importing the fine-tuning code and
  torch, and the first optimizer (which imports torch._dynamo, seconds on a busy machine).
  Holds the worker a moment, so that every worker gets one of these before the timings."""
  del context
  importlib.import_module("guidedrec_jax.finetune")
  torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
  time.sleep(0.2)
  return job


def time_noops(executor) -> float:
  """Seconds per no-op job through `executor`."""
  start = time.perf_counter()
  assert len(list(executor.map_unordered(noop, range(FLAGS.noop_jobs), None))) == FLAGS.noop_jobs
  return (time.perf_counter() - start) / FLAGS.noop_jobs


def spin(job: int) -> int:
  """A pure-Python CPU-bound loop of about 0.3 s on an idle core."""
  total = 0
  for i in range(3_000_000):
    total += i ^ job
  return total


def parallel_ceiling(n: int, repeats: int = 3) -> float:
  """The speed-up the machine allows now: `n` spins one after another in this process vs at
  once in `n` processes (plain multiprocessing, no Ray, no torch); median of `repeats`."""
  ratios = []
  with multiprocessing.Pool(n) as pool:
    pool.map(spin, range(n))  # starts the pool's processes
    for _ in range(repeats):
      start = time.perf_counter()
      for job in range(n):
        spin(job)
      one_by_one = time.perf_counter() - start
      start = time.perf_counter()
      pool.map(spin, range(n))
      ratios.append(one_by_one / (time.perf_counter() - start))
  return statistics.median(ratios)


def time_sweep(executor, root: pathlib.Path, name: str
               ) -> tuple[float, float, dict[str, float]]:
  """Runs the sweep in a fresh workdir; returns (seconds, the jobs' summed seconds, job key
  -> top-1)."""
  datasets = {t: procedural.generate(t, "train", seed=0, per_class=200) for t in FLAGS.tasks}
  grid = hpo_grid([float(lr) for lr in FLAGS.lrs], epochs=FLAGS.epochs, batch_size=32)
  workdir = root / name
  start = time.perf_counter()
  summary = run_sweep(datasets, [MODEL], functools.partial(make_cnn, FLAGS.width), grid,
                      workdir, num_train=FLAGS.num_train, num_val=100, executor=executor,
                      device="cpu", progress=False)
  seconds = time.perf_counter() - start
  assert summary.executed == summary.planned
  records = JobsLog(workdir / "jobs.jsonl").read()
  return (seconds, sum(record["wall_s"] for record in records.values()),
          {key: record["top1"] for key, record in records.items()})


def main(argv):
  del argv
  load_before = provenance.load_average()
  ceiling_before = parallel_ceiling(FLAGS.ray_cpus)
  sequential = make_executor("")
  start = time.perf_counter()
  ray_executor = make_executor("local", local_num_cpus=FLAGS.ray_cpus)
  with tempfile.TemporaryDirectory() as tmp, ray_executor:
    root = pathlib.Path(tmp)
    list(ray_executor.map_unordered(warm_up, range(4 * FLAGS.ray_cpus), None))
    ray_start = time.perf_counter() - start
    list(sequential.map_unordered(warm_up, range(1), None))
    noop_ray = time_noops(ray_executor)
    noop_local = time_noops(sequential)
    runs = [("sequential, then Ray", sequential), ("sequential, then Ray", ray_executor),
            ("Ray, then sequential", ray_executor), ("Ray, then sequential", sequential)]
    rows, results = [], []
    for i, (order, executor) in enumerate(runs):
      seconds, job_seconds, top1 = time_sweep(executor, root, f"run{i}")
      results.append(top1)
      # jobs_at_once: the jobs' own time over the sweep's; near ray_cpus if Ray keeps its
      # workers busy, and job_s (the mean job) shows how much slower each job ran.
      rows.append({"order": order, "executor": "ray" if executor is ray_executor else "sequential",
                   "jobs": len(top1), "sweep_s": seconds, "job_s": job_seconds / len(top1),
                   "jobs_at_once": job_seconds / seconds})
  by_kind = {kind: [r["sweep_s"] for r in rows if r["executor"] == kind]
             for kind in ("sequential", "ray")}
  print(io.markdown_table(rows, float_format="{:.2f}"))
  for order in ("sequential, then Ray", "Ray, then sequential"):
    pair = {r["executor"]: r["sweep_s"] for r in rows if r["order"] == order}
    print(f"speed-up ({order}): {pair['sequential'] / pair['ray']:.2f}x")
  print(f"speed-up (both orders): {sum(by_kind['sequential']) / sum(by_kind['ray']):.2f}x "
        f"with {FLAGS.ray_cpus} Ray workers")
  print(f"ceiling: {FLAGS.ray_cpus} CPU-bound processes at once vs one after another: "
        f"{ceiling_before:.2f}x before, {parallel_ceiling(FLAGS.ray_cpus):.2f}x after the runs")
  print(f"identical results in all runs: {all(r == results[0] for r in results)}")
  print(f"per-job overhead: Ray {1e3 * noop_ray:.2f} ms, in-process {1e3 * noop_local:.4f} ms "
        f"(no-op jobs, warm workers); one-off Ray start + worker warm-up: {ray_start:.1f} s")
  load_after = provenance.load_average()
  print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after} on "
        f"{os.cpu_count()} cores")


if __name__ == "__main__":
  cli.run(main)
