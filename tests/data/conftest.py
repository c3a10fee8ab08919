"""Fixtures for the data tests: a private cache folder, and TFDS's generated mock data."""

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
  """Points the cache (TFDS label caches) at a fresh folder."""
  monkeypatch.setenv("GUIDEDREC_CACHE", str(tmp_path / "cache"))
  return tmp_path / "cache"


@pytest.fixture
def mock_tfds(private_cache):
  """TFDS data sources that read generated examples (no download, no TensorFlow).

  Yields the number of examples every mock split holds.
  """
  import tensorflow_datasets as tfds  # a dependency: a missing one fails
  with tfds.testing.mock_data(num_examples=40):
    yield 40
