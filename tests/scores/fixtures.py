"""Loads the official-output fixtures in `shared/fixtures/ms` for the score tests.

Usage from any test module (pytest runs with `--import-mode=importlib` from the repo root):

  from tests.scores import fixtures
  case = fixtures.load_case("main")        # features, labels, source_probs, num_classes
  want = fixtures.official("main", "hscore.tllib")["value"]

The fixture inputs are float32 [N, D] features, int labels [N] and float32 source
probabilities [N, Cs]; the outputs JSON holds what each official implementation returned.

The second half holds synthetic inputs and contract checks every score test shares:
planted class signal (`planted`), the bad inputs each public score must reject
(`bad_inputs`), permuted / degenerate / multi-model cases, `vmapped` (a registered core
under `vmap`) and `assert_no_retrace`. Tests reuse the shapes TALL / WIDE so each jitted
core compiles once per shape.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrec_jax import paths
from guidedrec_jax.scores import registry
from tests.shared_data import require_shared

CASES = ("main", "small")
FIXTURE_DIR = ("fixtures", "ms")


def _require_shared() -> None:
  require_shared()  # skips, or fails under GUIDEDREC_REQUIRE_SHARED=1


@functools.lru_cache(maxsize=None)
def _inputs() -> dict[str, np.ndarray]:
  with np.load(paths.shared_path(*FIXTURE_DIR, "fixture_inputs.npz"), allow_pickle=False) as data:
    return {key: data[key] for key in data.files}


@functools.lru_cache(maxsize=None)
def _outputs() -> dict[str, Any]:
  with open(paths.shared_path(*FIXTURE_DIR, "fixture_outputs.json")) as handle:
    return json.load(handle)


def load_case(name: str) -> dict[str, Any]:
  """Returns one fixture case as host arrays (skips the test if the shared folder is absent).

  Args:
    name: "main" (N=2000) or "small" (N=500); both have D=1024, K=50, Cs=100.

  Returns:
    dict with `features` float32 [N, D], `labels` int32 [N], `source_probs` float32 [N, Cs]
    and `num_classes` (int K). The arrays are read-only views shared between tests.
  """
  if name not in CASES:
    raise ValueError(f"name must be one of {CASES}, got {name!r}")
  _require_shared()
  data = _inputs()
  case = {
      "features": data[f"{name}_features"],
      "labels": data[f"{name}_labels"].astype(np.int32),
      "source_probs": data[f"{name}_source_probs"],
  }
  for array in case.values():
    array.setflags(write=False)
  case["num_classes"] = int(case["labels"].max()) + 1
  return case


def official(case: str, key: str) -> dict[str, Any]:
  """Returns the official outputs entry `cases.<case>.scores.<key>` (e.g. {"value": ...}).

  Args:
    case: "main" or "small".
    key: implementation key as in fixtures/ms/README.md, e.g. "logme.thuml.fixed_point(default)".

  Raises:
    KeyError: naming the known keys when `key` is absent.
  """
  _require_shared()
  scores = _outputs()["cases"][case]["scores"]
  if key not in scores:
    raise KeyError(f"no official output {key!r} for case {case!r}; known: {sorted(scores)}")
  return scores[key]


# ---- synthetic inputs and contract checks shared by the score tests -------------------------

# Tests reuse these shapes so each jitted core compiles once per shape (compiles dominate).
NUM_CLASSES = 4
TALL = (48, 20)  # N > D
WIDE = (48, 80)  # N < D; TALL zero-padded by 60 columns has this shape
SHAPES = {"N>D": TALL, "N<D": WIDE}


def planted(num_samples: int, dim: int, num_classes: int, seed: int = 0, signal: float = 3.0,
            offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
  """Class-conditional Gaussian features with a planted class signal.

  Args:
    num_samples: N (every class gets at least N // K samples).
    dim: D.
    num_classes: K.
    seed: RNG seed.
    signal: norm of the class means relative to unit noise; 0 gives label-free features.
    offset: constant added to every entry (post-ReLU-like features have a positive mean).

  Returns:
    (features float64 [N, D], labels int32 [N]).
  """
  rng = np.random.default_rng(seed)
  labels = rng.permutation(np.arange(num_samples) % num_classes).astype(np.int32)
  means = rng.normal(size=(num_classes, dim)) * signal / np.sqrt(dim)  # ‖mean‖ ≈ signal
  features = means[labels] + rng.normal(size=(num_samples, dim)) + offset
  return features, labels


def bad_inputs() -> list[tuple[str, np.ndarray, np.ndarray, str]]:
  """(case id, features, labels, argument the ValueError must name) for the input checks.

  Use as `@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)` and
  `with pytest.raises(ValueError, match=bad[3]): score(bad[1], bad[2])`.
  """
  features, labels = planted(12, 5, 3)
  nan_features = features.copy()
  nan_features[2, 1] = np.nan
  gap = labels.copy()
  gap[gap == 1] = 3  # class 1 empty
  return [
      ("length_mismatch", features, labels[:-1], "labels"),
      ("empty_class", features, gap, "labels"),
      ("single_class", features, np.zeros_like(labels), "labels"),
      ("nan_features", nan_features, labels, "features"),
      ("one_sample", features[:1], labels[:1], "features"),
      ("features_1d", features[:, 0], labels, "features"),
  ]


def case_id(case) -> str:
  """pytest id of a `bad_inputs()` entry."""
  return case[0]


def assert_no_retrace(jitted, score_fn, features, labels, **options) -> None:
  """Repeated calls with equal shapes must not add entries to `jitted`'s trace cache."""
  score_fn(features, labels, **options)
  size = jitted._cache_size()
  for shift in (1.0, 2.0):
    score_fn(features + shift, labels, **options)
  assert jitted._cache_size() == size


def vmapped(name: str, stack: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Scores a stack of models [M, N, D] in one call of the registered core under `vmap`."""
  spec = registry.get_score(name)
  num_classes = int(labels.max()) + 1
  prepared = spec.prepare(*stack.shape[1:], num_classes) if spec.prepare else {}
  if spec.prepare_labels:
    prepared.update(spec.prepare_labels(labels, num_classes))
  with registry.precision(spec.float64):
    core = functools.partial(spec.core, num_classes=num_classes,
                             **{k: jnp.asarray(v) for k, v in prepared.items()})
    dtype = jnp.float64 if spec.float64 else jnp.float32
    return np.asarray(jax.jit(jax.vmap(core, in_axes=(0, None)))(
        jnp.asarray(stack, dtype), jnp.asarray(labels)))


Case = tuple[np.ndarray, np.ndarray]  # (features [N, D], labels [N])


def permuted_pair(seed: int = 5) -> tuple[Case, Case]:
  """A TALL case and the same samples reordered with class ids renamed; scores must agree."""
  features, labels = planted(*TALL, NUM_CLASSES, seed=seed)
  rename = np.random.default_rng(seed).permutation(NUM_CLASSES).astype(np.int32)
  order = np.random.default_rng(seed + 1).permutation(len(labels))
  return (features, labels), (features[order], rename[labels][order])


def degenerate_cases() -> dict[str, Case]:
  """Constant, rank-deficient and duplicated features (TALL/WIDE shapes) with labels."""
  (num_samples, tall), (_, wide) = TALL, WIDE
  features, labels = planted(num_samples, wide, NUM_CLASSES, seed=6)
  rng = np.random.default_rng(0)
  return {
      "constant": (np.full((num_samples, tall), 3.0), labels),
      "rank2_tall": (rng.normal(size=(num_samples, 2)) @ rng.normal(size=(2, tall)), labels),
      "rank2_wide": (rng.normal(size=(num_samples, 2)) @ rng.normal(size=(2, wide)), labels),
      "duplicate_rows": (np.repeat(features[: num_samples // 2], 2, axis=0), labels),
  }


def model_stack(num_models: int = 3, shape: tuple[int, int] = WIDE
                ) -> tuple[np.ndarray, np.ndarray]:
  """[M, N, D] features of models of increasing quality sharing one label vector."""
  labels = planted(*shape, NUM_CLASSES, seed=0)[1]
  stack = []
  for seed in range(num_models):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(NUM_CLASSES, shape[1])) * seed / np.sqrt(shape[1])
    stack.append(means[labels] + rng.normal(size=shape) + 0.5)
  return np.stack(stack), labels
