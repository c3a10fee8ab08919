"""The scoring stage: source-head scores (LEEP) cover only the models with a source head, so a
ranked table shows NaN LEEP for the others (the README's `–` LEEP)."""

import numpy as np
import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import score_stage
from guidedrec_jax.contracts import feature_cache


def test_leep_only_for_models_with_a_source_head(tmp_path):
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 8).astype(np.int64)
  for model, head in (("random_init", False), ("pretrained", True)):
    arrays = {"features": rng.normal(size=(len(labels), 6)).astype(np.float32),
              "labels": labels}
    if head:
      probs = rng.dirichlet(np.ones(5), size=len(labels)).astype(np.float32)
      arrays["source_probs"] = probs
    io.save_arrays(feature_cache.feature_cache_path(tmp_path, "t", model), arrays,
                   {"m": model})
  context = {"caches": {"t": feature_cache.task_files(tmp_path, "t")},
             "scores": ("logme", "leep")}
  rows = pd.DataFrame(score_stage.score_task("t", context))
  by_score = rows.groupby("score")["model"].apply(sorted).to_dict()
  assert by_score == {"logme": ["pretrained", "random_init"], "leep": ["pretrained"]}
  assert np.isfinite(rows["value"]).all()
  wide = rows.pivot(index="model", columns="score", values="value")
  assert np.isnan(wide.loc["random_init", "leep"]) and np.isfinite(wide.loc["pretrained", "leep"])
