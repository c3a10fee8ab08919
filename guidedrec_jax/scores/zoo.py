"""Scores a whole model zoo on one probe set in a few jitted calls.

Models are grouped by feature dimension D (and by source-head size when a score reads source
probabilities); each group is stacked to [M, N, D] once and each score's core runs on it under
`jax.vmap` (`lax.map` on CPU, see `_group_function`) in one jitted call, with each score's
`prepare` computed once per D and `prepare_labels` once per zoo. Every distinct group shape is
one XLA compilation, which dominates a fresh CPU process, so shapes are shared where that is
exact: scores whose spec is `pad_invariant` (each claim tested) are zero-padded to the next
D of the grid 2^k, 1.5·2^k (`pad_dims="buckets"`, the default: at most 1.5× the work of a
D-sized kernel, never across N, where the Gram side and so the cost changes, never past the
zoo's largest D) or all to the largest D ("max"); scores that do not read features (LEEP,
NCE) group by source-head size alone. With several devices the model axis of a group is sharded over a 1-D mesh.

Memory: a group is scored in near-equal chunks along the model axis so that each chunk's
estimated working set (`cost.memory.group_bytes`: the stacked inputs, a few copies) stays
under `max_bytes` (default: 1/8 of the machine's memory). The last chunk is padded with
repeats of its first model, so every chunk of a group shares one compilation; each model's
score is computed on its own slice (`lax.map` / `vmap`), so the results equal the unsplit
call's. Each chunk is stacked straight into its dtype (no float32 stack cast afterwards).

Zoo-level scores (NCTI, ETran) min-max normalise per-model components across the zoo; asking
for "ncti" or "etran" computes their registered components and combines them.
"""

from __future__ import annotations

import functools
import pathlib
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from guidedrec_jax import io
from guidedrec_jax.contracts import feature_cache
from guidedrec_jax.cost import memory
from guidedrec_jax.contracts.feature_cache import feature_cache_dir
from guidedrec_jax.scores import checks
from guidedrec_jax.scores import etran
from guidedrec_jax.scores import ncti
from guidedrec_jax.scores import normalize
from guidedrec_jax.scores import registry

# name -> (registered component scores, combine(components {name: [M]}) -> [M]).
ZOO_LEVEL_SCORES: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {
    "ncti": (ncti.COMPONENTS, ncti.ncti_from_components),
    "etran": (etran.COMPONENTS, etran.etran_from_components),
}
MODEL_AXIS = "models"
PAD_MODES = ("none", "buckets", "max")


def dim_bucket(dim: int, largest: int, num_samples: int) -> int:
  """The padded D of a pad-invariant score under "buckets".

  The next value ≥ `dim` of the grid 2^k, 1.5·2^k, capped at N when `dim` ≤ N (so the
  smaller Gram side, and with it the cost, does not change) and at the zoo's `largest` D
  (padding past every real model gains nothing); never below `dim`.
  """
  power = 1 << max(dim - 1, 1).bit_length()  # next power of two ≥ dim (≥ 2)
  bucket = power * 3 // 4 if power * 3 // 4 >= dim else power
  if dim <= num_samples:
    bucket = min(bucket, num_samples)
  return max(dim, min(bucket, largest))


class _Group(NamedTuple):
  """Models scored by one jitted call: same (possibly padded) D and source-head size.

  `probs_dim` is that source-head width Cs, 0 when no score of the group reads source
  probabilities: it keys the grouping, so every model of the group has it.
  """
  models: tuple[str, ...]
  specs: tuple[registry.ScoreSpec, ...]
  dim: int
  float64: bool
  probs_dim: int


def _score_units(scores: Sequence[str]) -> list[tuple[str, ...]]:
  """Registered names to compute, in jit units; checks every name up front.

  A zoo-level score's components form one unit, so their shared work (NCTI's PCA and LDA)
  is traced once and deduplicated by XLA; every other score is its own unit. One jit per
  unit, rather than one for everything, keeps XLA compile time linear in the number of scores.
  """
  if isinstance(scores, str) or not scores:
    raise ValueError(f"scores must be a non-empty sequence of score names, got {scores!r}")
  if len(set(scores)) != len(scores):
    raise ValueError(f"scores contains duplicates: {list(scores)}")
  units: list[tuple[str, ...]] = []
  for name in scores:
    unit = ZOO_LEVEL_SCORES[name][0] if name in ZOO_LEVEL_SCORES else (name,)
    for part in unit:
      registry.get_score(part)  # ValueError listing the known names
    units.append(unit)
  computed = {name for unit in units if len(unit) > 1 for name in unit}
  return [u for u in units if len(u) > 1 or u[0] not in computed]


def _group_dim(dim: int, largest: int, num_samples: int, specs, pad_dims: str) -> int:
  """The D a model is scored at: 0 when no score reads features, padded where exact."""
  if not any(s.reads_features for s in specs):
    return 0
  if pad_dims == "none" or not all(s.pad_invariant for s in specs):
    return dim
  return largest if pad_dims == "max" else dim_bucket(dim, largest, num_samples)


def _groups(dims: Mapping[str, int], heads: Mapping[str, int], units, pad_dims: str,
            num_samples: int) -> list[_Group]:
  groups = []
  largest = max(dims.values())
  for unit in units:
    specs = tuple(registry.get_score(name) for name in unit)
    reads_probs = any(s.needs_source_probs for s in specs)
    keys: dict[tuple[int, int], list[str]] = {}
    for model, dim in dims.items():
      key = (_group_dim(dim, largest, num_samples, specs, pad_dims),
             heads[model] if reads_probs else 0)
      keys.setdefault(key, []).append(model)
    groups += [_Group(tuple(models), specs, dim, any(s.float64 for s in specs), probs_dim)
               for (dim, probs_dim), models in sorted(keys.items())]
  return groups


def _model_mesh() -> Mesh:
  return Mesh(np.array(jax.devices()), (MODEL_AXIS,))


@functools.lru_cache(maxsize=None)
def _group_function(names: tuple[str, ...], num_classes: int, sharded: bool
                    ) -> Callable[..., jax.Array]:
  """The jitted scorer of a stacked group for the named cores; cached per (names, K, sharded).

  On accelerators the cores run under `jax.vmap`. On CPU they run under `lax.map` (a loop in
  the same compiled call): jaxlib 0.10.2 runs a batched LAPACK call (e.g. the Cholesky that
  vmap makes of SFDA's) as `ParallelBatchMap` tasks on XLA's intra-op pool and blocks a pool
  thread waiting for them, which deadlocks when the pool is busy; we saw it hang the main job
  (gdb: `CholeskyFactorization` → `ParallelBatchMap` → `BlockingCounter::Wait`). Sharded, each
  device scores its own slice of the model axis under `shard_map`, with no collective.
  """
  specs = [registry.get_score(name) for name in names]

  def one_model(features, source_probs, labels, prepared):
    values = [spec.core(features, labels, num_classes,
                        source_probs if spec.needs_source_probs else None, **prepared[spec.name])
              for spec in specs]
    return jnp.stack([jnp.asarray(v, dtype=features.dtype) for v in values])

  def scores(features, labels, source_probs, prepared):
    # features [M, N, D], source_probs [M, N, Cs] or None -> [M, len(names)]
    if jax.default_backend() == "cpu":
      return jax.lax.map(lambda fp: one_model(*fp, labels, prepared), (features, source_probs))
    return jax.vmap(one_model, in_axes=(0, 0, None, None))(features, source_probs, labels,
                                                            prepared)
  if sharded:
    models, replicated = PartitionSpec(MODEL_AXIS), PartitionSpec()
    # check_vma=False: cores with `lax.while_loop` (LogME) carry per-model state whose
    # varying-axis type the checker cannot reconcile with their replicated initial values.
    scores = jax.shard_map(scores, mesh=_model_mesh(),
                           in_specs=(models, replicated, models, replicated),
                           out_specs=models, check_vma=False)
  return jax.jit(scores)


def _stack(arrays: list[np.ndarray], width: int, dtype) -> np.ndarray:
  """[M, N, width] of `dtype`: each array's first `width` columns, zero-padded to `width`
  (the same values as padding, stacking and casting, without a float32 stack in between)."""
  out = np.zeros((len(arrays), arrays[0].shape[0], width), dtype)
  for row, array in zip(out, arrays):
    row[:, :min(width, array.shape[1])] = array[:, :width]
  return out


def _chunks(group: _Group, num_samples: int, max_bytes: int) -> list[tuple[str, ...]]:
  """The group's models in near-equal chunks whose working set fits `max_bytes`.

  Raises:
    ValueError: one model alone exceeds `max_bytes`.
  """
  per_model = memory.group_bytes(1, num_samples, group.dim, group.probs_dim,
                                 8 if group.float64 else 4)
  if per_model == 0:  # nothing stacked
    return [group.models]
  sizes, start, chunks = memory.chunk_sizes(len(group.models), per_model, max_bytes), 0, []
  for size in sizes:
    chunks.append(group.models[start:start + size])
    start += size
  return chunks


def _run_group(group: _Group, models: Sequence[str], pad_to: int, features, labels,
               num_classes, source_probs, prepared, shard) -> np.ndarray:
  """Scores `models` (a chunk of `group`, padded to `pad_to` models); [len(models), scores].

  `pad_to` covers both paddings at once: every chunk of the group to its first's size (one
  compilation) and, sharded, the model axis to a multiple of the device count.
  """
  dtype = np.float64 if group.float64 else np.float32
  # Repeats of a real model (not zeros) keep the padded rows finite for every score.
  padded = list(models) + [models[0]] * (pad_to - len(models))
  # group.dim = 0 for scores that read no features: [M, N, 0].
  stacked = _stack([features[m] for m in padded], group.dim, dtype)  # [M, N, D]
  probs = None
  if any(s.needs_source_probs for s in group.specs):
    probs = _stack([source_probs[m] for m in padded], group.probs_dim, dtype)  # [M, N, Cs]
  names = tuple(s.name for s in group.specs)
  args = {s.name: prepared[(s.name, group.dim)] for s in group.specs}
  with registry.precision(group.float64):
    values = _group_function(names, num_classes, shard)(stacked, labels, probs, args)
  del stacked, probs
  return np.asarray(values, dtype=np.float64)[: len(models)]


def score_zoo(features: Mapping[str, Any], labels, scores: Sequence[str], *,
              source_probs: Mapping[str, Any] | None = None,
              normalization: str = "none", pad_dims: str | bool = "buckets",
              shard: bool | None = None, max_bytes: int | None = None
              ) -> dict[str, dict[str, float]]:
  """Scores every model of a zoo on one labelled probe set.

  Args:
    features: model name -> [N, D_m] features; N is shared, D may differ between models.
    labels: int [N] labels using every class 0..K-1.
    scores: registered score names and/or zoo-level names ("ncti", "etran").
    source_probs: model name -> [N, Cs_m] source softmax, needed by LEEP / NCE.
    normalization: a feature normalisation name known to `normalize` ("none", "standardize",
      "l2"), applied to every model before scoring.
    pad_dims: how scores whose spec is `pad_invariant` share compilations across D:
      "buckets" (next power of two), "max" (one group at the largest D) or "none"; True /
      False mean "max" / "none".
    shard: shard each group's model axis over all devices; None shards when there are
      several accelerator devices. Forced CPU host devices only serve tests: concurrent
      LAPACK calls on them can deadlock in jaxlib 0.10.2 (seen with NCTI).
    max_bytes: the working-set budget of one jitted call (see the module docstring); None:
      `cost.memory.default_max_bytes()` (1/8 of this machine's memory).

  Returns:
    model -> score name -> value, in the order of `features` and `scores`.

  Raises:
    ValueError: before any work, for an empty zoo, unknown score or normalisation names,
      bad or mismatched arrays, missing source probabilities, a score's own shape limits
      (from its `prepare`), a zoo-level score with fewer than 2 models, or a `max_bytes`
      below one model's working set.
  """
  max_bytes = memory.resolve_max_bytes(max_bytes)
  if not features:
    raise ValueError("features must map at least one model name to its [N, D] features")
  units = _score_units(scores)
  pad_dims = {True: "max", False: "none"}.get(pad_dims, pad_dims)
  if pad_dims not in PAD_MODES:
    raise ValueError(f"pad_dims must be one of {PAD_MODES} (or a bool), got {pad_dims!r}")
  normalize.get_normalizer(normalization)  # ValueError for an unknown name
  specs = [registry.get_score(name) for unit in units for name in unit]
  hosts = {m: checks.check_features(f, name=f"features[{m!r}]") for m, f in features.items()}
  num_samples = next(iter(hosts.values())).shape[0]
  for model, array in hosts.items():
    if array.shape[0] != num_samples:
      raise ValueError(f"features[{model!r}] has N={array.shape[0]} rows, the first model "
                       f"N={num_samples}: a zoo is scored on one probe set")
  labels, num_classes = checks.check_labels(labels, num_samples)
  probs: dict[str, np.ndarray] = {}
  if any(s.needs_source_probs for s in specs):
    missing = [m for m in hosts if m not in (source_probs or {})]
    if missing:
      readers = [s.name for s in specs if s.needs_source_probs]
      raise ValueError(f"source_probs are needed by {readers} but missing for models {missing}")
    probs = {m: checks.check_probabilities(source_probs[m], num_samples,
                                           name=f"source_probs[{m!r}]") for m in hosts}
  zoo_level = [s for s in scores if s in ZOO_LEVEL_SCORES]
  if zoo_level and len(hosts) < 2:
    raise ValueError(f"{zoo_level} normalise across the zoo and need at least 2 models")
  dims = {m: f.shape[1] for m, f in hosts.items()}
  probs_dims = {m: p.shape[1] for m, p in probs.items()}
  groups = _groups(dims, probs_dims, units, pad_dims, num_samples)
  chunks = [_chunks(g, num_samples, max_bytes) for g in groups]  # checks max_bytes
  # Label-derived arrays (PARC's released ties) are made once and shared by every group.
  by_labels = {s.name: s.prepare_labels(labels, num_classes) for s in specs if s.prepare_labels}
  prepared = {(s.name, g.dim): {**(s.prepare(num_samples, g.dim, num_classes) if s.prepare
                                   else {}), **by_labels.get(s.name, {})}
              for g in groups for s in g.specs}
  if shard is None:
    shard = jax.device_count() > 1 and jax.default_backend() != "cpu"
  if normalization != "none":
    hosts = {m: normalize.normalize_features(f, normalization) for m, f in hosts.items()}

  devices = jax.device_count() if shard else 1
  values: dict[str, dict[str, float]] = {m: {} for m in hosts}
  for group, parts in zip(groups, chunks):
    pad_to = -(-len(parts[0]) // devices) * devices  # the largest chunk, rounded up once
    for part in parts:
      table = _run_group(group, part, pad_to, hosts, labels, num_classes, probs, prepared,
                         shard)
      for row, model in zip(table, part):
        values[model].update(zip((s.name for s in group.specs), row.tolist()))
  models = list(hosts)
  for name in zoo_level:
    components, combine = ZOO_LEVEL_SCORES[name]
    combined = combine({c: [values[m][c] for m in models] for c in components})
    for model, value in zip(models, combined):
      values[model][name] = float(value)
  return {m: {name: values[m][name] for name in scores} for m in models}


def scores_table_rows(results: Mapping[str, Mapping[str, float]], dataset: str
                      ) -> list[dict[str, Any]]:
  """Long-form rows (dataset, model, score, value) of a `score_zoo` result: the scores CSV."""
  return [{"dataset": dataset, "model": model, "score": name, "value": value}
          for model, by_score in results.items() for name, value in by_score.items()]


def _peak_rss_bytes() -> int:
  """This process's peak resident set size so far (Linux `ru_maxrss` is in KiB)."""
  import resource  # POSIX only; imported where it is used
  return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def load_feature_zoo(cache_root: io.PathLike, dataset: str
                     ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
  """Reads every `<model>.npz` (+ sidecar) of one dataset's feature cache.

  Returns:
    (model -> features [N, D], labels [N], model -> source_probs [N, Cs] for the models
    that have them), models in sorted order.

  Raises:
    FileNotFoundError: no feature files for `dataset`.
    ValueError: models disagree on the probe-set labels.
    io.CacheError: a damaged cache file.
  """
  # The layout and the loading are the contract module's (shared with the torch half).
  return tuple(feature_cache.load_task(feature_cache.task_files(cache_root, dataset)))


def make_synthetic_zoo(cache_root: io.PathLike, dataset: str, num_models: int,
                       dims: Sequence[int], num_samples: int, num_classes: int,
                       source_classes: int, seed: int) -> list[str]:
  """Writes a seeded zoo of feature files with a planted class structure; returns the names.

  Every model sees the same labelled probe set: class means in a 16-dimensional latent space
  plus noise. Model i mixes the class signal with weight (i + 1) / num_models into the
  noise, so models rank by construction; each embeds the latent into its own D (cycling
  through `dims`) with a random map, a ReLU and an offset, like penultimate features, and
  gets a fixed random source head for `source_probs`.
  """
  rng = np.random.default_rng(seed)
  labels = np.arange(num_samples) % num_classes
  rng.shuffle(labels)
  latent_means = rng.normal(size=(num_classes, 16)) * 2.0  # [K, 16]
  noise = rng.normal(size=(num_samples, 16))  # [N, 16]
  names = []
  for index in range(num_models):
    dim = int(dims[index % len(dims)])
    quality = (index + 1) / num_models
    latent = quality * latent_means[labels] + noise  # [N, 16]
    embed = rng.normal(size=(16, dim)) / 4.0
    features = np.maximum(latent @ embed + 0.3 * rng.normal(size=(num_samples, dim)), 0) + 0.1
    logits = features @ rng.normal(size=(dim, source_classes)) / np.sqrt(dim)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    name = f"synthetic_{index:02d}_d{dim}"
    io.save_arrays(feature_cache_dir(cache_root, dataset) / f"{name}.npz",
                   {"features": features.astype(np.float32), "labels": labels.astype(np.int64),
                    "source_probs": (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)},
                   {"model": name, "dataset": dataset, "split": "synthetic", "probe_seed": seed,
                    "N": num_samples, "D": dim, "quality": quality})
    names.append(name)
  return names


def run_score_zoo(config: Any, workdir: io.PathLike) -> dict[str, dict[str, float]]:
  """The `scripts/score_zoo.py` job: (optionally synthesise,) load, score, write tables.

  Writes `workdir/config.json`, `metrics.jsonl`, `scores.csv|md` (long form: dataset, model,
  score, value) and `scores_wide.csv|md` (one row per model).

  Args:
    config: see `configs/score_zoo.py`.
    workdir: output folder.

  Returns:
    the `score_zoo` result.
  """
  workdir = pathlib.Path(workdir)
  io.write_config(workdir, config)
  metrics = io.MetricsWriter(workdir)
  cache_root = pathlib.Path(config.cache_dir) if config.cache_dir else workdir / "cache"
  if config.synthetic.enabled:
    synthetic = config.synthetic
    make_synthetic_zoo(cache_root, config.dataset, synthetic.num_models, synthetic.dims,
                       synthetic.num_samples, synthetic.num_classes, synthetic.source_classes,
                       config.seed)
  features, labels, source_probs = load_feature_zoo(cache_root, config.dataset)
  shard = {"auto": None, "on": True, "off": False}[config.shard]
  start = time.perf_counter()
  # 0: the machine's default, resolved once and recorded as used.
  max_bytes = memory.resolve_max_bytes(config.max_bytes or None)
  results = score_zoo(features, labels, list(config.scores), source_probs=source_probs or None,
                      normalization=config.normalization, pad_dims=config.pad_dims, shard=shard,
                      max_bytes=max_bytes)
  metrics.write(event="scored", dataset=config.dataset, num_models=len(features),
                scores=list(config.scores), seconds=time.perf_counter() - start,
                max_bytes=max_bytes,
                peak_rss_bytes=_peak_rss_bytes())
  io.write_table(workdir, "scores", scores_table_rows(results, config.dataset))
  io.write_table(workdir, "scores_wide", [{"model": m, **v} for m, v in results.items()])
  return results
