"""A missing shared folder skips on a developer's machine and fails under CI's variable."""

import pytest

from guidedrec_jax import paths
from tests import shared_data


@pytest.fixture
def no_shared(monkeypatch):
  monkeypatch.setattr(paths, "shared_dir", lambda required=True: None)


def test_missing_shared_skips_without_the_variable(no_shared, monkeypatch):
  monkeypatch.delenv(shared_data.REQUIRE_VARIABLE, raising=False)
  with pytest.raises(pytest.skip.Exception, match="shared data folder not found"):
    shared_data.require_shared()


def test_missing_shared_fails_under_the_variable(no_shared, monkeypatch):
  monkeypatch.setenv(shared_data.REQUIRE_VARIABLE, "1")
  with pytest.raises(pytest.fail.Exception, match="GUIDEDREC_REQUIRE_SHARED"):
    shared_data.require_shared()


def test_ci_sets_the_variable():
  ci = (paths.PROJECT_ROOT / ".ci" / "run").read_text()
  assert f"{shared_data.REQUIRE_VARIABLE}=1 .venv/bin/python -m pytest" in ci


def test_present_shared_is_returned(tmp_path, monkeypatch):
  monkeypatch.setattr(paths, "shared_dir", lambda required=True: tmp_path)
  monkeypatch.setenv(shared_data.REQUIRE_VARIABLE, "1")
  assert shared_data.require_shared() == tmp_path
