"""LEEP and NCE against the official tllib outputs, closed-form cases and bad input."""

import numpy as np
import pytest

from guidedrec_jax.scores import checked
from guidedrec_jax.scores import leep
from tests.scores import fixtures


@pytest.mark.parametrize("case", fixtures.CASES)
@pytest.mark.parametrize("fn,key", [(leep.leep, "leep.tllib"), (leep.nce, "nce.tllib")])
def test_matches_official(case, fn, key):
  data = fixtures.load_case(case)
  want = fixtures.official(case, key)["value"]
  np.testing.assert_allclose(fn(data["source_probs"], data["labels"]), want, rtol=1e-6)


@pytest.mark.parametrize("num_classes", [2, 7])
def test_perfect_and_uninformative_predictions(num_classes):
  labels = np.repeat(np.arange(num_classes), 30)
  perfect = np.eye(num_classes)[labels]
  uniform = np.full((labels.size, 13), 1.0 / 13)
  assert abs(leep.leep(perfect, labels)) < 1e-12
  assert abs(leep.nce(perfect, labels)) < 1e-12
  np.testing.assert_allclose(leep.leep(uniform, labels), np.log(1.0 / num_classes), rtol=1e-12)
  np.testing.assert_allclose(leep.nce(uniform, labels), np.log(1.0 / num_classes), rtol=1e-12)


@pytest.mark.parametrize("fn", [leep.leep, leep.nce])
def test_invariant_to_relabelling_target_and_source_classes(fn):
  data = fixtures.load_case("small")
  rng = np.random.default_rng(0)
  target_perm = rng.permutation(data["num_classes"])
  source_perm = rng.permutation(data["source_probs"].shape[1])
  base = fn(data["source_probs"], data["labels"])
  moved = fn(data["source_probs"][:, source_perm], target_perm[data["labels"]])
  np.testing.assert_allclose(moved, base, rtol=1e-12)


def test_leep_closed_form_on_tiny_table():
  # Two samples per class; the joint table and the expectation are easy by hand.
  probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
  labels = np.array([0, 0, 1, 1])
  joint = np.array([[1.4, 0.6], [0.4, 1.6]]) / 4
  cond = joint / joint.sum(axis=0)
  want = np.mean(np.log([probs[i] @ cond[labels[i]] for i in range(4)]))
  np.testing.assert_allclose(leep.leep(probs, labels), want, rtol=1e-12)


@pytest.mark.parametrize("fn", [leep.leep, leep.nce])
def test_bad_input_raises_naming_the_argument(fn):
  probs = np.full((6, 3), 1 / 3)
  labels = np.array([0, 1, 0, 1, 0, 1])
  with pytest.raises(ValueError, match="source_probs"):
    fn(probs * 3, labels)  # logits-like rows
  with pytest.raises(ValueError, match="labels"):
    fn(probs, labels[:5])
  with pytest.raises(ValueError, match="labels"):
    fn(probs, np.array([0, 2, 0, 2, 0, 2]))  # class 1 empty


def test_no_retrace_for_same_shapes():
  labels = np.repeat(np.arange(3), 4)
  rng = np.random.default_rng(1)
  leep.leep(rng.dirichlet(np.ones(5), size=labels.size), labels)
  compiled = checked.jitted(leep.LEEP)._cache_size()
  for _ in range(2):
    leep.leep(rng.dirichlet(np.ones(5), size=labels.size), labels)
  assert checked.jitted(leep.LEEP)._cache_size() == compiled
