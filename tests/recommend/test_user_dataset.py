"""User datasets: folders (unreadable files skipped and listed), named datasets, the plan."""

import numpy as np
import pytest

from guidedrec_jax.benchmark import user_dataset
from tests.recommend.folders import write_folder


def test_folder_plan_round_trip_keeps_only_readable_files(tmp_path):
  root = write_folder(tmp_path / "data", per_class=(4, 3), broken=2)
  (root / "class_1" / "notes.txt").write_text("not an image, not counted")
  user = user_dataset.load_user_dataset(f"folder:{root}", image_size=24)
  assert len(user.dataset) == 7 and user.dataset.class_names == ("class_0", "class_1")
  assert sorted(p.split("/")[-1] for p in user.skipped) == ["broken_0.png", "broken_1.png"]
  rebuilt = user_dataset.from_plan(user_dataset.to_plan(user, seed=0))
  assert rebuilt.name == user.name and np.array_equal(rebuilt.labels, user.dataset.labels)
  assert rebuilt.images[np.arange(7)].shape == (7, 24, 24, 3)
  assert np.array_equal(rebuilt.images[np.arange(7)], user.dataset.images[np.arange(7)])


def test_named_dataset_is_loaded_under_the_user_prefix():
  user = user_dataset.load_user_dataset("procedural/counting", seed=0)
  assert user.name == "user/procedural-counting" and user.skipped == ()
  assert user.dataset.name == user.name and user.dataset.split == "train"
  rebuilt = user_dataset.from_plan(user_dataset.to_plan(user, seed=0))
  assert np.array_equal(rebuilt.labels, user.dataset.labels)


def test_bad_specs():
  with pytest.raises(ValueError, match="non-empty spec"):
    user_dataset.load_user_dataset("  ")
  with pytest.raises(ValueError, match="not a known dataset"):
    user_dataset.load_user_dataset("no_such_dataset")
