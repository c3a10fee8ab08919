"""score_zoo: equality with the per-model functions, sharding, no retrace, validation."""

import numpy as np
import pytest

import jax

from guidedrec_jax.cost import memory
from guidedrec_jax.scores import checked, etran, leep, ncti, parc, registry, sfda, zoo
from tests.scores import fixtures

N, K = 240, 4


def _zoo(seed=0, dims=(64, 96, 64)):
  rng = np.random.default_rng(seed)
  labels = np.arange(N) % K
  features, probs = {}, {}
  for i, dim in enumerate(dims):
    signal = rng.normal(size=(K, dim))[labels] * (0.3 + 0.3 * i)
    features[f"m{i}"] = (signal + rng.normal(size=(N, dim))).astype(np.float32)
    probs[f"m{i}"] = rng.dirichlet(np.ones(7), size=N).astype(np.float32)
  return features, labels, probs


def test_equals_per_model_functions():
  features, labels, probs = _zoo()
  got = zoo.score_zoo(features, labels, ["leep", "nce", "sfda", "etran_lda", "etran_energy"],
                      source_probs=probs, shard=False)
  for model, f in features.items():
    assert list(got[model]) == ["leep", "nce", "sfda", "etran_lda", "etran_energy"]
    want = {"leep": leep.leep(probs[model], labels), "nce": leep.nce(probs[model], labels),
            "sfda": sfda.sfda(f, labels), **etran.etran_components(f, labels)}
    for name, value in want.items():
      np.testing.assert_allclose(got[model][name], value, rtol=1e-10, err_msg=name)


def test_parc_in_the_zoo_uses_the_released_label_ties_as_the_public_function():
  features, labels, _ = _zoo()
  got = zoo.score_zoo(features, labels, ["parc"], shard=False)
  for model, f in features.items():
    np.testing.assert_allclose(got[model]["parc"], parc.parc(f, labels), rtol=1e-10)


def test_zoo_level_scores_combine_per_model_components():
  features, labels, _ = _zoo()
  got = zoo.score_zoo(features, labels, ["ncti", "ncti_ncc"], shard=False)
  components = {m: ncti.ncti_components(f, labels) for m, f in features.items()}
  want = ncti.ncti_from_components(
      {c: [components[m][c] for m in features] for c in ncti.COMPONENTS})
  np.testing.assert_allclose([got[m]["ncti"] for m in features], want, rtol=1e-8)
  np.testing.assert_allclose([got[m]["ncti_ncc"] for m in features],
                             [components[m]["ncti_ncc"] for m in features], rtol=1e-10)


@pytest.mark.parametrize("names", [["leep", "etran_lda"], ["sfda"]])
def test_sharded_equals_unsharded(names):
  # tests/conftest.py gives a CPU run 2 host devices; a one-GPU machine has only its GPU.
  if jax.device_count() < 2:
    pytest.skip(f"needs 2 devices, this backend ({jax.default_backend()}) has 1")
  features, labels, probs = _zoo(dims=(64, 64, 64, 96))  # 3 models of one D: padded to 4
  plain = zoo.score_zoo(features, labels, names, source_probs=probs, shard=False)
  sharded = zoo.score_zoo(features, labels, names, source_probs=probs, shard=True)
  for model in features:
    for name in names:
      np.testing.assert_allclose(sharded[model][name], plain[model][name], rtol=1e-10)


def test_no_retrace_for_a_second_zoo_with_the_same_shapes():
  names = ["leep", "etran_lda"]
  zoo.score_zoo(*_zoo(seed=1)[:2], names, source_probs=_zoo(seed=1)[2], shard=False)
  functions = [zoo._group_function((name,), K, False) for name in names]
  sizes = [fn._cache_size() for fn in functions]
  features, labels, probs = _zoo(seed=2)
  zoo.score_zoo(features, labels, names, source_probs=probs, shard=False)
  assert [fn._cache_size() for fn in functions] == sizes


PAD_INVARIANT = sorted(n for n, s in registry.SCORES.items() if s.pad_invariant)


def test_the_pad_invariant_claims_cover_the_expected_scores():
  assert PAD_INVARIANT == ["gbc", "hscore", "lfc", "logme_consistent", "transrate"]


@pytest.mark.parametrize("name", PAD_INVARIANT)
@pytest.mark.parametrize("extra", [5, 60])  # stays N > D; crosses to N < D (other Gram side)
def test_pad_invariant_scores_ignore_zero_columns(name, extra):
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=4, offset=0.5)
  padded = np.pad(features, ((0, 0), (0, extra)))
  spec = registry.get_score(name)
  np.testing.assert_allclose(checked.score(spec, padded, labels),
                             checked.score(spec, features, labels), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("mode", ["buckets", "max"])
def test_padding_modes_equal_unpadded_and_share_groups(mode):
  features, labels, probs = _zoo(dims=(40, 48, 100, 128, 200, 300))
  names = PAD_INVARIANT + ["leep"]
  padded = zoo.score_zoo(features, labels, names, source_probs=probs, pad_dims=mode,
                         shard=False)
  exact = zoo.score_zoo(features, labels, names, source_probs=probs, pad_dims="none",
                        shard=False)
  for model in features:
    for name in names:
      np.testing.assert_allclose(padded[model][name], exact[model][name], rtol=1e-7,
                                 atol=1e-9, err_msg=name)
  dims = {m: f.shape[1] for m, f in features.items()}
  heads = {m: p.shape[1] for m, p in probs.items()}
  groups = zoo._groups(dims, heads, [(n,) for n in names], mode, N)
  per_score = {g.specs[0].name: sorted({h.dim for h in groups if h.specs == g.specs})
               for g in groups}
  # N = 240: 40, 48 -> 48; 100, 128 -> 128; 200 -> 240 (not 256, across N); 300 -> 300 (the
  # largest D caps 384).
  assert per_score["lfc"] == ([48, 128, 240, 300] if mode == "buckets" else [300])
  assert per_score["leep"] == [0]  # LEEP reads no features: one group for every D


def test_dim_bucket():
  got = [zoo.dim_bucket(d, 4096, 10_000) for d in (1, 2, 3, 64, 65, 97, 192, 1280, 2048)]
  assert got == [1, 2, 3, 64, 96, 128, 192, 1536, 2048]
  assert zoo.dim_bucket(700, 4096, 1000) == 768
  assert zoo.dim_bucket(900, 4096, 1000) == 1000  # 1024 would cross N
  assert zoo.dim_bucket(1100, 4096, 1000) == 1536  # already past N: the grid
  assert zoo.dim_bucket(700, 720, 1000) == 720  # the largest D caps it
  for dim in range(1, 3000):
    bucket = zoo.dim_bucket(dim, 4096, 1000)
    assert dim <= bucket <= max(1.5 * dim, 2) and (dim > 1000 or bucket <= 1000)


def test_table_rows():
  rows = zoo.scores_table_rows({"a": {"leep": -1.0, "nce": -2.0}}, "cifar")
  assert rows == [{"dataset": "cifar", "model": "a", "score": "leep", "value": -1.0},
                  {"dataset": "cifar", "model": "a", "score": "nce", "value": -2.0}]


@pytest.mark.parametrize("change,match", [
    (dict(scores=["nope"]), "unknown score"),
    (dict(scores=[]), "non-empty"),
    (dict(scores=["leep"], source_probs=None), "source_probs"),
    (dict(normalization="whiten"), "name must be one of"),
    (dict(features={"a": np.ones((N - 1, 64))}), "labels"),
    (dict(features={"a": np.zeros((N, 64), np.float32) + 1}, scores=["ncti"]), "at least 2"),
    (dict(features={"a": np.full((N, 64), np.nan)}), "features\\['a'\\]"),
    (dict(features={"a": np.ones((N, 64)), "b": np.ones((N - 1, 64))}), "features\\['b'\\]"),
    (dict(features={"a": np.ones((N, 32)), "b": np.ones((N, 32))}, scores=["ncti"]), "D >= 64"),
    (dict(max_bytes=0), "max_bytes"),
    (dict(max_bytes=1.5e9), "max_bytes"),
    (dict(max_bytes=True), "max_bytes"),
    # sfda at D=96 (float64): one model is 3 copies x 8 bytes x 240 x 96 = 552,960 bytes.
    (dict(max_bytes=552_959), "max_bytes=552959 is below one model"),
])
def test_validation_before_any_work(change, match):
  features, labels, probs = _zoo()
  kwargs = dict(features=features, labels=labels, scores=["sfda"], source_probs=probs)
  kwargs.update(change)
  with pytest.raises(ValueError, match=match):
    zoo.score_zoo(**kwargs)


def test_chunk_sizes_by_hand():
  assert memory.chunk_sizes(5, 10, 100) == [5]  # fits: one chunk, no padding
  assert memory.chunk_sizes(5, 10, 20) == [2, 2, 1]  # 2 a chunk -> 3 chunks
  assert memory.chunk_sizes(50, 10, 200) == [17, 17, 16]  # 20 a chunk -> 3 near-equal
  assert memory.chunk_sizes(7, 10, 10) == [1] * 7
  assert memory.group_bytes(2, 240, 96, 7, 8) == 3 * 8 * 2 * 240 * 103
  with pytest.raises(ValueError, match="max_bytes"):
    memory.chunk_sizes(3, 10, 9)
  assert memory.default_max_bytes() == memory.machine_memory_bytes() // 8 > 0


def test_split_zoo_equals_unsplit():
  # 8 models, D 64 (5 models) / 96 / 128; a budget of 2 models at D=64 splits the D=64
  # groups into chunks of 2, 2 and 1 (padded to 2), the larger D into single models; the
  # zoo-level etran combines components across the chunks.
  features, labels, probs = _zoo(seed=5, dims=(64, 96, 64, 128, 64, 96, 64, 64))
  names = ["logme", "sfda", "leep", "etran", "lfc"]
  whole = zoo.score_zoo(features, labels, names, source_probs=probs, shard=False)
  budget = memory.group_bytes(2, N, 64, 0, 8)
  split = zoo.score_zoo(features, labels, names, source_probs=probs, shard=False,
                        max_bytes=budget)
  groups = zoo._groups({m: f.shape[1] for m, f in features.items()},
                       {m: p.shape[1] for m, p in probs.items()},
                       zoo._score_units(names), "buckets", N)
  sfda_64 = next(g for g in groups if g.specs[0].name == "sfda" and g.dim == 64)
  assert zoo._chunks(sfda_64, N, budget) == [("m0", "m2"), ("m4", "m6"), ("m7",)]
  sfda_96 = next(g for g in groups if g.specs[0].name == "sfda" and g.dim == 96)
  assert zoo._chunks(sfda_96, N, budget) == [("m1",), ("m5",)]
  for model in features:
    assert list(split[model]) == names
    for name in names:
      np.testing.assert_allclose(split[model][name], whole[model][name], rtol=1e-9,
                                 err_msg=f"{model} {name}")
