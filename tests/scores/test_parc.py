"""PARC: official outputs, sklearn's PCA paths, scipy's Spearman, properties and contract."""

import numpy as np
import pytest
import scipy.stats
from sklearn.decomposition import PCA

import jax.numpy as jnp

from guidedrec_jax.scores import checked, linalg, parc, registry
from tests.scores import fixtures

OFFICIAL = {"randomized": "parc.official.f32", "exact": "parc.official_corr_on_exact_pca32",
            "none": "parc.official.no_pca"}
VARIANTS = {"parc": "randomized", "parc_exact": "exact"}


# exact / none on `small` only: each N=2000 run costs seconds of sorting 2M dissimilarities.
@pytest.mark.parametrize("case,mode", [("main", "randomized"), ("small", "randomized"),
                                       ("small", "exact"), ("small", "none")])
def test_matches_official(case, mode):
  inputs = fixtures.load_case(case)
  # With the released label ties the agreement is ~1e-5 or better (the official PCA ran in
  # float32, ours in float64); the two-valued label dissimilarity was ~1e-3 off here.
  np.testing.assert_allclose(parc.parc(inputs["features"], inputs["labels"], mode),
                             fixtures.official(case, OFFICIAL[mode])["value"], atol=1e-4)


def _sklearn_pca(features, n_dims, mode):
  if mode == "randomized":
    return PCA(n_dims, svd_solver="randomized", random_state=parc.SEED,
               iterated_power=1).fit_transform(features)
  return PCA(n_dims, svd_solver="full").fit_transform(features)


@pytest.mark.parametrize("mode", ["randomized", "exact"])
@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_pca_reproduces_sklearn_including_signs(shape, mode):
  features, _ = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=1.0)
  n_dims = 8
  with registry.precision(True):
    x = jnp.asarray(features)
    if mode == "randomized":
      test_matrix = parc.prepare_parc(*shape, fixtures.NUM_CLASSES, n_dims=n_dims)["test_matrix"]
      got = linalg.randomized_pca(x, jnp.asarray(test_matrix), n_dims)
    else:
      got = linalg.exact_pca(x, n_dims)
  np.testing.assert_allclose(np.asarray(got), _sklearn_pca(features, n_dims, mode), atol=1e-8)


def test_correlation_matches_scipy_spearman_with_ties():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=2)
  features = np.round(features, 0)  # many tied dissimilarities
  standard = (features - features.mean(0)) / features.std(0)
  upper = np.triu_indices(len(labels), 1)
  want = 100 * scipy.stats.spearmanr((1 - np.corrcoef(standard))[upper],
                                     (labels[:, None] != labels[None, :])[upper])[0]
  with registry.precision(True):
    got = float(parc.parc_correlation(jnp.asarray(features), jnp.asarray(labels)))
  np.testing.assert_allclose(got, want, rtol=1e-9)


def _full_sort_spearman(values, indicator):
  """Reference: Spearman ρ by ranking all values with one full sort, ties averaged."""
  order = np.argsort(values, kind="stable")
  ordered = values[order]
  ranks = np.empty(len(values))
  start = 0
  for stop in np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True)) + 1:
    ranks[order[start:stop]] = (start + stop + 1) / 2  # mean of 1-based ranks start+1..stop
    start = stop
  return np.corrcoef(ranks, indicator)[0, 1]


@pytest.mark.parametrize("num_classes", [2, 4, 40])
@pytest.mark.parametrize("num_samples", [48, 49])  # even and odd N fold differently
def test_correlation_equals_full_sort_spearman_with_ties(num_samples, num_classes):
  # K = 2 makes "same class" half of the pairs, K = 40 leaves few same-class pairs.
  features, labels = fixtures.planted(num_samples, 3, num_classes, seed=7)
  features = np.round(features / 2)  # few distinct rows: many tied dissimilarities
  upper = np.triu_indices(num_samples, 1)
  with registry.precision(True):
    # The library's own arithmetic for 1 − corrcoef: numpy's rounds differently and would
    # split or merge a few ties.
    x = jnp.asarray(features)
    standard = (x - jnp.mean(x, axis=0)) / jnp.std(x, axis=0)
    rows = standard - jnp.mean(standard, axis=1, keepdims=True)
    rows = rows / jnp.linalg.norm(rows, axis=1, keepdims=True)
    dissim = np.asarray(1.0 - rows @ rows.T)[upper]
    got = float(parc.parc_correlation(x, jnp.asarray(labels)))
  assert len(np.unique(dissim)) < len(dissim) / 2
  want = 100 * _full_sort_spearman(dissim, (labels[:, None] != labels[None, :])[upper])
  np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("float64", [True, False])
@pytest.mark.parametrize("spread", [1.0, 1e300])  # PARC's range (packed keys), and wider
def test_spearman_with_indicator_equals_full_sort(spread, float64):
  rng = np.random.default_rng(8)
  dtype = np.float64 if float64 else np.float32
  spread = min(spread, float(np.finfo(dtype).max) / 4)
  # Few distinct values (many ties), both signs, and −0.0 which must tie with +0.0.
  values = (rng.integers(-3, 4, 600) / 3 * spread).astype(dtype)
  values[:20] = -0.0
  indicator = (rng.random(600) < 0.3).astype(np.int32)
  with registry.precision(True):
    x = jnp.asarray(values)
    assert bool(parc._packable(x)) == (spread == 1.0)
    got = float(parc.spearman_with_indicator(x, jnp.asarray(indicator)))
  # float32 values: ranks are summed in float32.
  np.testing.assert_allclose(got, _full_sort_spearman(values.astype(np.float64), indicator),
                             rtol=1e-9 if float64 else 1e-5)


@pytest.mark.parametrize("values", ["parc_range", "tiny"])
def test_spearman_with_groups_equals_scipy(values):
  # Several label groups (as the released label ties make), ties on both sides; "tiny" has
  # magnitudes below 2^-60, outside the packed keys' range (the float co-sort fallback).
  rng = np.random.default_rng(9)
  x = rng.integers(0, 40, 900) / 20.0 - 0.01
  x[:5] = 2.0 ** -53  # the smallest nonzero PARC dissimilarity
  if values == "tiny":
    x = x * 1e-30
  groups = rng.integers(0, 5, 900)
  with registry.precision(True):
    assert bool(parc._packable(jnp.asarray(x))) == (values == "parc_range")
    got = float(parc.spearman_with_groups(jnp.asarray(x), jnp.asarray(groups)))
  np.testing.assert_allclose(got, scipy.stats.spearmanr(x, groups)[0], rtol=1e-9)


def _official_parc(features, labels):
  """The released PARC on sklearn's PCA: the reference of the shape grid (the release fails
  when min(N, D) < 32; we clamp n_dims, as sklearn must be asked)."""
  reduced = PCA(min(parc.DEFAULT_DIMS, *features.shape), svd_solver="randomized", random_state=parc.SEED,
                iterated_power=1).fit_transform(features)
  reduced = (reduced - reduced.mean(0)) / reduced.std(0)
  upper = np.triu_indices(len(labels), 1)
  label_dissim = 1 - np.corrcoef(np.eye(labels.max() + 1)[labels])
  return 100 * scipy.stats.spearmanr((1 - np.corrcoef(reduced))[upper], label_dissim[upper])[0]


# N < D and N > D, D from 16 to 2048, K from 2 to 100, float32 and float64. Small N keeps
# the reference's O(N²) ranking fast; each shape compiles once.
GRID = [(120, 16, 2, np.float64), (300, 40, 12, np.float32), (90, 256, 7, np.float64),
        (150, 2048, 100, np.float32), (400, 64, 100, np.float64), (64, 512, 3, np.float32)]


@pytest.mark.parametrize("num_samples,dim,num_classes,dtype", GRID)
def test_randomized_mode_reproduces_sklearn_pca_and_released_correlation(
    num_samples, dim, num_classes, dtype):
  features, labels = fixtures.planted(num_samples, dim, num_classes, seed=dim, offset=1.0)
  features = features.astype(dtype)
  want = _official_parc(features, labels)
  # float32 inputs: sklearn runs its PCA in float32, we in float64.
  tol = 1e-6 if dtype == np.float64 else 1e-3
  np.testing.assert_allclose(parc.parc(features, labels), want, atol=tol)


def test_official_ties_matter_on_a_shape_where_two_values_do_not_match():
  # The shape of the issue: the released label dissimilarity splits into several tie groups
  # and the exact two-valued ranking lands ~0.7 points away.
  features, labels = fixtures.planted(1200, 256, 12, seed=0, offset=1.0)
  want = _official_parc(features, labels)
  assert len(np.unique(parc.official_label_groups(labels))) > 2
  np.testing.assert_allclose(parc.parc(features, labels), want, atol=1e-6)
  assert abs(parc.parc(features, labels, official_ties=False) - want) > 0.1


@pytest.mark.parametrize("size", range(1, 10))
def test_strict_upper_triangle_holds_each_pair_once(size):
  matrix = np.arange(size * size).reshape(size, size)
  got = np.asarray(parc.strict_upper_triangle(jnp.asarray(matrix)))
  np.testing.assert_array_equal(np.sort(got), matrix[np.triu_indices(size, 1)])


def test_separable_features_beat_random():
  good, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3, signal=8.0)
  random, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=4, signal=0.0)
  assert parc.parc(good, labels) > parc.parc(random, labels) + 10.0


@pytest.mark.parametrize("mode", parc.MODES)
def test_label_permutation_invariance(mode):
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(parc.parc(moved, renamed, mode), parc.parc(features, labels, mode),
                             rtol=1e-9)


@pytest.mark.parametrize("mode", parc.MODES)
@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind, mode):
  assert np.isfinite(parc.parc(*fixtures.degenerate_cases()[kind], mode))


def test_zero_padding_changes_exact_mode_so_it_is_not_flagged_invariant():
  # With D < n_dims, padding adds (noise) components and shifts each row's mean.
  assert not any(registry.get_score(name).pad_invariant for name in VARIANTS)
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=5)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))
  assert abs(parc.parc(padded, labels, "exact") - parc.parc(features, labels, "exact")) > 1.0


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    parc.parc(bad[1], bad[2])


@pytest.mark.parametrize("option,value", [("mode", "spectral"), ("n_dims", 0)])
def test_bad_options_raise(option, value):
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES)
  with pytest.raises(ValueError, match=option):
    parc.parc(features, labels, **{option: value})


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_vmap_over_models_matches_single_calls(name):
  stack, labels = fixtures.model_stack()
  want = [parc.parc(f, labels, VARIANTS[name]) for f in stack]
  np.testing.assert_allclose(fixtures.vmapped(name, stack, labels), want, rtol=1e-9)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=6)
  fixtures.assert_no_retrace(checked.jitted(parc._SPECS[(True, True)]), parc.parc, features,
                            labels)
