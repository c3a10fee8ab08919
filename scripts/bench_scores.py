"""Times every registered score at N=2000, D=2048, K=100 against its floor, and a zoo against
the sum of its per-model floors.

Single-threaded (XLA intra-op and BLAS threads off; run it under `taskset -c 0` on a shared
machine), after a warm-up compile; the median of `--repeats` runs. Each score's floor is the
dense work no implementation can skip, timed in the same run and precision: a Gram GEMM, the
Gram's eigh or Cholesky, the thin GEMMs of a randomized range finder, the [D, K] class-sum
GEMM, and for PARC also one sort of its N(N−1)/2 dissimilarities. NLEEP is left out of the
single-score table: its cost is the EM iterations (data-dependent count), for which no
kernel-level floor is meaningful.

Then a 22-model zoo (D from 192 to 2048; logme + lfc + parc) is timed three ways, each in a
fresh child process so compilation is counted honestly: "cold process" (empty persistent
compilation cache: import + compile + run), "warm process" (the cache filled by the cold one),
and "warm call" (a second call inside the warm process). The floor sum adds, over the zoo's
models, the floors of the zoo's scores at each model's D, timed in the same run.

  taskset -c 0 .venv/bin/python scripts/bench_scores.py --workdir=/tmp/bench_scores

Writes `bench_scores.csv|md`, `bench_zoo.csv|md` and `metrics.jsonl`; prints both tables.

Expected headline: per score, the ratio of its time to its floor (about 1-2.5 on one core;
sub-second kernels vary up to 2x with the load), and for the zoo a warm call within about
the floor sum. Measured figures belong in RESULTS.md and closing notes, not here.
"""

import os

# Single-threaded timing: set before JAX is imported (by the library imports below).
os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(_var, "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import flags  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from guidedrec_jax import cli, compilation_cache  # noqa: E402
from guidedrec_jax import io, provenance  # noqa: E402
from guidedrec_jax import scores  # noqa: E402  (registers every score)
from guidedrec_jax.scores import registry  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.", required=True)
_SAMPLES = flags.DEFINE_integer("num_samples", 2000, "N.")
_DIM = flags.DEFINE_integer("dim", 2048, "D of the single-model timings.")
_CLASSES = flags.DEFINE_integer("num_classes", 100, "K.")
_SOURCE_CLASSES = flags.DEFINE_integer("source_classes", 1000, "Cs of the source head.")
_ZOO_MODELS = flags.DEFINE_integer("zoo_models", 22, "Models in the zoo timing.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs after the warm-up (median).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic inputs.")
_ZOO_CHILD = flags.DEFINE_string("zoo_child", "", "Internal: run only the zoo timing in this "
                                 "process with this compilation-cache folder; print JSON.")
_SKIP_SCORES = flags.DEFINE_bool("skip_scores", False, "Skip the single-score table.")

ZOO_SCORES = ("logme", "lfc", "parc")
ZOO_DIMS = (192, 256, 384, 512, 768, 1024, 1280, 1536, 2048)


def _gram(f):
  return f @ f.T if f.shape[0] <= f.shape[1] else f.T @ f


def _range_finder(f, iterations):
  """sklearn's randomized range finder with 74 test vectors (PARC: 1 round, NCTI: 7)."""
  basis = jnp.ones((f.shape[1], 74), f.dtype)
  for _ in range(iterations):
    basis = f.T @ (f @ basis)
  return jnp.linalg.qr(f @ basis)[0]


def _cholesky(x):
  return jnp.linalg.cholesky(x.T @ x + jnp.eye(x.shape[1], dtype=x.dtype))


def _rank_pairs(x):
  gram = x[:, :32] @ x[:, :32].T  # [N, N]: N² values, about twice the N(N−1)/2 pairs
  size = x.shape[0] * (x.shape[0] - 1) // 2
  keys = jax.lax.bitcast_convert_type(gram.astype(jnp.float64), jnp.uint64).reshape(-1)[:size]
  return jax.lax.sort(keys)


# The kernel each score cannot avoid; x is the features [N, D] (or the source probs [N, Cs]).
BASELINES = {
    "gram_gemm": _gram,
    "gram_eigh": lambda x: jnp.linalg.eigh(_gram(x))[0],
    "gram_cholesky": lambda x: _cholesky(x),
    "range_finder_1": lambda x: _range_finder(x, 1),
    "range_finder_7": lambda x: _range_finder(x, 7),
    "class_gemm": lambda x: x.T @ x[:, :_CLASSES.value],  # the [D, K] class-sum GEMM
    # SFDA as released fits its shrunk LDA twice, the second time on the ConfMix features (a
    # per-sample reweighting, so its within-class scatter is a new N·D² GEMM): two of each.
    "gram_cholesky_x2": lambda x: (_cholesky(x), _cholesky(x[::-1] * 1.5)),
    # An LDA classifier: the class-sum GEMM and the [N, K] logits GEMM.
    "class_gemm_x2": lambda x: (x.T @ x[:, :_CLASSES.value], x @ x[:_CLASSES.value].T),
    # Exact-PCA PARC: the Gram's eigendecomposition and the ranking of the pairs.
    "gram_eigh_and_rank": lambda x: (jnp.linalg.eigh(_gram(x))[0], _rank_pairs(x)),
    # PARC: its range finder plus one sort of N(N−1)/2 keys, the cheapest possible ranking
    # (a single-operand integer sort; the Gram rows' bits as keys, so nothing is constant).
    "range_finder_1_and_rank": lambda x: (_range_finder(x, 1), _rank_pairs(x)),
}
SCORE_BASELINE = {
    "logme": "gram_eigh", "logme_consistent": "gram_eigh", "hscore": "gram_eigh",
    "hscore_shrinkage": "gram_eigh", "transrate": "gram_cholesky", "lfc": "gram_gemm",
    "parc": "range_finder_1_and_rank", "parc_exact": "gram_eigh_and_rank", "gbc": "gram_eigh",
    "gbc_spherical": "gram_eigh", "sfda": "gram_cholesky_x2", "ncti_ncc": "range_finder_7",
    "ncti_seli": "range_finder_7", "ncti_vc": "range_finder_7", "etran_lda": "class_gemm_x2",
    "etran_energy": "class_gemm", "leep": "class_gemm", "nce": "class_gemm",
}
PROBS_BASELINE_SCORES = ("leep", "nce")  # their operand is the source probs, not features


def _median_seconds(fn, *args) -> float:
  jax.block_until_ready(fn(*args))  # warm-up: compile
  times = []
  for _ in range(_REPEATS.value):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _planted(rng, num_samples, dim, labels, num_classes):
  means = rng.normal(size=(num_classes, dim))
  return (np.maximum(means[labels] + 2.0 * rng.normal(size=(num_samples, dim)), 0)
          + 0.1).astype(np.float32)


def _score_rows(features, labels, probs, metrics) -> list[dict]:
  rows, baseline_seconds = [], {}
  for name in sorted(registry.SCORES):
    if name.startswith("nleep"):
      continue  # see the module docstring
    spec = registry.get_score(name)
    prepared = spec.prepare(*features.shape, _CLASSES.value) if spec.prepare else {}
    if spec.prepare_labels:
      prepared.update(spec.prepare_labels(labels, _CLASSES.value))
    dtype = np.float64 if spec.float64 else np.float32
    with registry.precision(spec.float64):
      fn = jax.jit(lambda f, y, p, kw, spec=spec: spec.core(f, y, _CLASSES.value, p, **kw))
      seconds = _median_seconds(fn, features.astype(dtype), labels,
                                probs.astype(dtype) if spec.needs_source_probs else None,
                                prepared)
      base = SCORE_BASELINE.get(name, "gram_gemm")
      operand = probs if name in PROBS_BASELINE_SCORES else features
      key = (base, spec.float64, operand.shape)
      if key not in baseline_seconds:
        baseline_seconds[key] = _median_seconds(jax.jit(BASELINES[base]), operand.astype(dtype))
    base_s = baseline_seconds[key]
    row = {"score": name, "precision": "float64" if spec.float64 else "float32",
           "seconds": seconds, "baseline": base, "baseline_seconds": base_s,
           "ratio": seconds / base_s}
    metrics.write(event="score_time", **row)
    print(row, flush=True)
    rows.append(row)
  return rows


def _zoo_features(labels):
  rng = np.random.default_rng(_SEED.value + 1)
  return {f"model_{i:02d}_d{ZOO_DIMS[i % len(ZOO_DIMS)]}":
          _planted(rng, _SAMPLES.value, ZOO_DIMS[i % len(ZOO_DIMS)], labels, _CLASSES.value)
          for i in range(_ZOO_MODELS.value)}


def _zoo_child(folder: str, labels) -> None:
  """In a fresh process: the zoo's first and second `score_zoo` calls, as JSON on stdout."""
  compilation_cache.enable(folder)
  features = _zoo_features(labels)
  times = []
  for _ in range(2):
    start = time.perf_counter()
    scores.score_zoo(features, labels, list(ZOO_SCORES), shard=False)
    times.append(time.perf_counter() - start)
  print(json.dumps({"first_call": times[0], "second_call": times[1]}), flush=True)


def _run_child(folder: str) -> dict:
  start = time.perf_counter()
  done = subprocess.run(
      [sys.executable, __file__, f"--workdir={_WORKDIR.value}", f"--zoo_child={folder}",
       f"--num_samples={_SAMPLES.value}", f"--num_classes={_CLASSES.value}",
       f"--zoo_models={_ZOO_MODELS.value}", f"--seed={_SEED.value}"],
      check=True, capture_output=True, text=True)
  return {**json.loads(done.stdout.strip().splitlines()[-1]),
          "process": time.perf_counter() - start}


def _floor_sum(labels, metrics) -> float:
  """Σ over the zoo's models of the floors of `ZOO_SCORES` at each model's D (float64)."""
  features = _zoo_features(labels)
  total, per_dim = 0.0, {}
  with registry.precision(True):
    for array in features.values():
      dim = array.shape[1]
      if dim not in per_dim:
        x = array.astype(np.float64)
        per_dim[dim] = sum(_median_seconds(jax.jit(BASELINES[SCORE_BASELINE[name]]), x)
                           for name in ZOO_SCORES)
        metrics.write(event="zoo_floor", dim=dim, seconds=per_dim[dim])
      total += per_dim[dim]
  return total


def _zoo_rows(labels, metrics) -> list[dict]:
  floor = _floor_sum(labels, metrics)
  with tempfile.TemporaryDirectory() as folder:
    cold = _run_child(folder)
    warm = _run_child(folder)
  rows = []
  for label, seconds in (("cold process (empty cache; import+compile+run)", cold["process"]),
                         ("cold process, first call", cold["first_call"]),
                         ("warm process (filled cache; import+load+run)", warm["process"]),
                         ("warm process, first call", warm["first_call"]),
                         ("warm call (second call in a process)", warm["second_call"]),
                         ("floor sum (per-model floors, same run)", floor)):
    row = {"timing": label, "models": _ZOO_MODELS.value,
           "distinct_dims": len(set(ZOO_DIMS[i % len(ZOO_DIMS)]
                                    for i in range(_ZOO_MODELS.value))),
           "scores": "+".join(ZOO_SCORES), "seconds": seconds, "vs_floor_sum": seconds / floor}
    metrics.write(event="zoo_time", **row)
    print(row, flush=True)
    rows.append(row)
  return rows


def main(argv):
  del argv
  rng = np.random.default_rng(_SEED.value)
  labels = (np.arange(_SAMPLES.value) % _CLASSES.value).astype(np.int32)
  if _ZOO_CHILD.value:
    _zoo_child(_ZOO_CHILD.value, labels)
    return
  features = _planted(rng, _SAMPLES.value, _DIM.value, labels, _CLASSES.value)
  logits = rng.normal(size=(_SAMPLES.value, _SOURCE_CLASSES.value))
  probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
  metrics = io.MetricsWriter(_WORKDIR.value)
  metrics.write(event="start", load_average=provenance.load_average(),
                xla_flags=os.environ["XLA_FLAGS"],
                num_samples=_SAMPLES.value, dim=_DIM.value, num_classes=_CLASSES.value)
  score_rows = [] if _SKIP_SCORES.value else _score_rows(features, labels, probs, metrics)
  zoo_rows = _zoo_rows(labels, metrics)
  metrics.write(event="end", load_average=provenance.load_average())
  if score_rows:
    io.write_table(_WORKDIR.value, "bench_scores", score_rows)
    print(io.markdown_table(score_rows, float_format="{:.3f}"))
  io.write_table(_WORKDIR.value, "bench_zoo", zoo_rows)
  print(io.markdown_table(zoo_rows, float_format="{:.2f}"))
  print(f"load average (1, 5, 15 min) at the end: {provenance.load_average()}")


if __name__ == "__main__":
  cli.run(main)
