"""The three public histories: shapes, normalised names, dataset facts, measured metadata."""

import numpy as np
import pytest

from guidedrec_jax.history import public


@pytest.mark.parametrize("name,rows,datasets,models", [
    ("sfda_group1", 110, 10, 11), ("ncti_group2", 144, 12, 12), ("modelspider", 462, 7, 66)])
def test_each_history_loads_without_voc(name, rows, datasets, models):
  history = public.load_public(name)
  assert (len(history), history["dataset"].nunique(), history["model"].nunique()) == (
      rows, datasets, models)
  assert "voc2007" not in set(history["dataset"])
  assert history["top1"].between(0, 100).all() and history["params_m"].notna().all()
  assert set(history["dataset"]) <= set(public.dataset_facts().index)


def test_modelspider_sources_and_matches():
  history = public.load_public("modelspider")
  assert set(history["dataset"]) == {"stl10", "cub2011", "vlcs", "aid", "pets", "dtd",
                                     "aircraft"}
  matches = history[history["source_match"] == 1.0]
  assert len(matches) == 7 * 3 and (matches["source_data"] == matches["dataset"]).all()
  row = history[history["model"] == "FTD_resnet50_ImageNet"].iloc[0]
  assert (row["source_images"], row["source_classes"]) == (1_281_167, 1000)
  assert history.loc[history["dataset"] == "pets", "num_classes"].eq(37).all()
  assert np.isnan(history.loc[history["dataset"] == "aid", "num_train"]).all()


def test_dataset_names_normalise():
  assert public.normalize_dataset("Pet") == "pets" and public.normalize_dataset("AID") == "aid"
  with pytest.raises(ValueError, match="name must be one of"):
    public.load_public("sfda")


@pytest.mark.parametrize("arch", ["resnet50", "mobilenet_v2", "inception_v3"])
def test_metadata_matches_a_fresh_measurement(arch):
  """Re-measures the headless torchvision network (no weights), as the table was made."""
  import torch  # the test, not the JAX-side module, imports torch
  import torchvision
  from torch.utils.flop_counter import FlopCounterMode
  params_m, gmacs, size = public.ARCHITECTURES[arch]
  kwargs = {"aux_logits": False, "init_weights": False} if arch == "inception_v3" else {}
  model = getattr(torchvision.models, arch)(weights=None, **kwargs).eval()
  for head in ("fc", "classifier"):
    if hasattr(model, head):
      setattr(model, head, torch.nn.Identity())
  counter = FlopCounterMode(display=False)
  with torch.inference_mode(), counter:
    model(torch.zeros(1, 3, size, size))
  assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_m, abs=1e-4)
  assert counter.get_total_flops() / 2e9 == pytest.approx(gmacs, abs=1e-4)
