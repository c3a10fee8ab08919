"""LFC: the fixture's re-implementation, the N×N definition, properties and the contract."""

import numpy as np
import pytest

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import lfc, registry
from tests.scores import fixtures


@pytest.mark.parametrize("case", fixtures.CASES)
def test_matches_fixture(case):
  inputs = fixtures.load_case(case)
  np.testing.assert_allclose(lfc.lfc(inputs["features"], inputs["labels"]),
                             fixtures.official(case, "reimpl.lfc(frobenius)")["value"], rtol=1e-6)


def _dense_lfc(features, labels):
  """The definition with explicit N×N kernel and label matrices."""
  kernel = features @ features.T
  target = np.where(labels[:, None] == labels[None, :], 1.0, -1.0)
  kernel, target = kernel - kernel.mean(), target - target.mean()
  return np.sum(kernel * target) / (np.linalg.norm(kernel) * np.linalg.norm(target))


@pytest.mark.parametrize("shape", fixtures.SHAPES.values(), ids=fixtures.SHAPES.keys())
def test_matches_dense_definition(shape):
  features, labels = fixtures.planted(*shape, fixtures.NUM_CLASSES, seed=1, offset=1.0)
  np.testing.assert_allclose(lfc.lfc(features, labels), _dense_lfc(features, labels),
                             rtol=1e-9)


def test_separable_features_align_better_than_random():
  good, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=2, signal=8.0)
  random, _ = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=3, signal=0.0)
  assert lfc.lfc(good, labels) > lfc.lfc(random, labels) + 0.1


def test_label_permutation_invariance():
  (features, labels), (moved, renamed) = fixtures.permuted_pair()
  np.testing.assert_allclose(lfc.lfc(moved, renamed), lfc.lfc(features, labels), rtol=1e-10)


@pytest.mark.parametrize("kind", sorted(fixtures.degenerate_cases()))
def test_degenerate_features_give_finite_score(kind):
  value = lfc.lfc(*fixtures.degenerate_cases()[kind])
  assert np.isfinite(value) and -1.0 <= value <= 1.0
  if kind == "constant":
    assert value == 0.0


def test_pad_invariance():
  assert registry.get_score("lfc").pad_invariant
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=4)
  padded = np.pad(features, ((0, 0), (0, fixtures.WIDE[1] - fixtures.TALL[1])))
  np.testing.assert_allclose(lfc.lfc(padded, labels), lfc.lfc(features, labels), rtol=1e-10)


@pytest.mark.parametrize("bad", fixtures.bad_inputs(), ids=fixtures.case_id)
def test_bad_input_raises_naming_argument(bad):
  with pytest.raises(ValueError, match=bad[3]):
    lfc.lfc(bad[1], bad[2])


def test_vmap_over_models_matches_single_calls():
  stack, labels = fixtures.model_stack()
  np.testing.assert_allclose(fixtures.vmapped("lfc", stack, labels),
                             [lfc.lfc(f, labels) for f in stack], rtol=1e-10)


def test_jitted_core_does_not_retrace():
  features, labels = fixtures.planted(*fixtures.TALL, fixtures.NUM_CLASSES, seed=5)
  fixtures.assert_no_retrace(checked.jitted(lfc.LFC), lfc.lfc, features, labels)
