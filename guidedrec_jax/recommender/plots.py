"""Figures of an evaluation run, as PNG (matplotlib's Agg backend, no display needed).

* `plot_per_dataset`: one group of bars per dataset, one bar per method (the paper's Fig. 4),
  averaged over repeats with the standard deviation as error bars.
* `plot_latent_covariance`: inner products <v_i, v_j> of FM latent vectors of dataset IDs
  and scalar (numeric) features (the paper's Fig. 5): the weight FM gives the interaction of
  feature i with feature j. Rows are ordered by field group (d, m, S).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from guidedrec_jax.recommender import field_encoding  # noqa: E402


def plot_per_dataset(results: pd.DataFrame, metric: str, path: str | os.PathLike,
                     title: str = "") -> None:
  """Grouped bars of `metric` per dataset and method from a protocol's results table."""
  for column in ("method", "dataset", metric):
    if column not in results.columns:
      raise ValueError(f"results has no column {column!r}")
  stats = results.groupby(["dataset", "method"], sort=False)[metric].agg(["mean", "std"])
  datasets = list(dict.fromkeys(results["dataset"]))
  methods = list(dict.fromkeys(results["method"]))
  width = 0.8 / len(methods)
  fig, ax = plt.subplots(figsize=(max(4.0, 0.4 * len(datasets) * len(methods) ** 0.5) + 3, 4))
  positions = np.arange(len(datasets))
  for i, method in enumerate(methods):
    mean = [stats["mean"].get((d, method), np.nan) for d in datasets]
    std = np.nan_to_num([stats["std"].get((d, method), np.nan) for d in datasets])
    ax.bar(positions + (i - (len(methods) - 1) / 2) * width, mean, width, yerr=std, label=method,
           capsize=2)
  ax.set_xticks(positions, datasets, rotation=45, ha="right")
  ax.set_ylabel(metric)
  ax.set_title(title)
  ax.axhline(0.0, color="black", linewidth=0.5)
  ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def latent_rows(encoder: field_encoding.FeatureEncoder, latent: np.ndarray
                ) -> tuple[np.ndarray, list[str]]:
  """Latent vectors [m, k] and names of the dataset-ID categories and the numeric fields.

  Args:
    encoder: the fitted encoder of the model.
    latent: FM's `v` [num_features, k].
  """
  if latent.ndim != 2 or latent.shape[0] != encoder.num_features:
    raise ValueError(f"latent must have shape [{encoder.num_features}, k], got {latent.shape}")
  names = encoder.feature_names()
  order = {"d": 0, "m": 1, "S": 2}
  chosen: list[int] = []
  for field in sorted(encoder.fields, key=lambda f: order.get(f.group, 3)):
    ids = encoder.feature_ids(field.name)
    if field.name == "dataset_id":
      chosen += list(ids[:-1])  # the unknown id has no training rows
    elif field.kind == "numeric":
      chosen += list(ids)
  if not chosen:
    raise ValueError("the encoder has neither a dataset_id field nor numeric fields")
  return latent[chosen], [names[i].replace("dataset_id=", "") for i in chosen]


def plot_latent_covariance(vectors: np.ndarray, names: list[str], path: str | os.PathLike,
                           title: str = "") -> None:
  """Heatmap of the inner products of `vectors` [m, k] (rows named by `names`)."""
  if vectors.ndim != 2 or vectors.shape[0] != len(names):
    raise ValueError(f"vectors must have shape [{len(names)}, k], got {vectors.shape}")
  gram = vectors @ vectors.T
  bound = float(np.max(np.abs(gram))) or 1.0
  size = max(4.0, 0.35 * len(names) + 2)
  fig, ax = plt.subplots(figsize=(size + 1, size))
  image = ax.imshow(gram, cmap="RdBu_r", vmin=-bound, vmax=bound)
  ax.set_xticks(range(len(names)), names, rotation=90, fontsize="small")
  ax.set_yticks(range(len(names)), names, fontsize="small")
  ax.set_title(title)
  fig.colorbar(image, ax=ax, shrink=0.8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
