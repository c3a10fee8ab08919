"""What `recommend.py --dataset` shows a user: the plot, the resemblance line and the report.

The ranking itself is `recommender.rank.rank`'s; this module only draws and prints it: the
bars of `predicted_top1` with their interval in the table's order (so order, column and plot
agree), the blend's weights, which history datasets the new one resembles (the saved
similar-datasets member's reading), and the table.
"""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from guidedrec_jax import io  # noqa: E402
from guidedrec_jax.recommender import neighbors, rank  # noqa: E402


def resemblance(fitted: Any, name: str, rows: pd.DataFrame) -> tuple[pd.Series, str] | None:
  """(weight of each history dataset, largest first; the similarity's source) from the
  blend's saved similar-datasets member, or None without one."""
  for member in getattr(fitted, "members", ()):
    if isinstance(member, neighbors.NeighborFitted):
      similarity, source = member.dataset_similarity(name, rows)
      weights = pd.Series(member.weights(similarity), index=list(member.datasets))
      return weights.sort_values(ascending=False), source
  return None


def plot_ranking(table: pd.DataFrame, path: pathlib.Path, title: str) -> None:
  """Horizontal bars of `predicted_top1` per model with its interval, in the table's order
  (best on top); without a top-1 scale, the ranking score."""
  column = "predicted_top1" if table["predicted_top1"].notna().all() else "score"
  fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(table)))
  order = table.iloc[::-1]
  error = None
  if column == "predicted_top1":
    error = np.stack([order[column] - order["predicted_low"],
                      order["predicted_high"] - order[column]])
  ax.barh(order["model"], order[column], xerr=error, capsize=3, color="tab:blue")
  ax.set_xlabel("predicted top-1 (%), interval: ± 1 sd" if error is not None else column)
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  with io.atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=110)
  plt.close(fig)


def report(result: dict[str, Any]) -> str:
  """What the command prints: the dataset, what was skipped and reused, the ranking, paths."""
  user, table = result["user"], result["table"]
  counts = np.bincount(user.dataset.labels, minlength=user.dataset.num_classes)
  lines = [f"dataset {user.spec} ({user.name}): {len(user.dataset)} images, "
           f"{user.dataset.num_classes} classes ({counts.min()}-{counts.max()} per class)",
           f"unreadable image files skipped: {len(user.skipped)}"
           + "".join(f"\n  {path}" for path in user.skipped[:10])
           + (f"\n  ... {len(user.skipped) - 10} more" if len(user.skipped) > 10 else ""),
           f"features: {result['extract']['computed']} models extracted, "
           f"{result['extract']['reused']} reused from the cache; scores "
           f"{'computed' if result['scores_computed'] else 'reused'}",
           "dataset features: " + ", ".join(f"{k} {v:.4g}" for k, v in
                                             result["features"].items())]
  if result["weights"]:
    lines.append("blend weights: " + ", ".join(f"{n} {w:.2f}"
                                               for n, w in result["weights"].items()))
  if result.get("neighbor_share") is not None:
    lines.append(f"similar datasets' share of this ranking (gate on closeness): "
                 f"{result['neighbor_share']:.2f}")
  if result["similar"] is not None:
    weights, source = result["similar"]
    lines.append(f"resembles ({source} similarity; weights of the history's datasets): "
                 + ", ".join(f"{d} {w:.2f}" for d, w in weights.items()))
  lines.append("")
  shown = table.drop(columns=[c for c in table.columns if c in ("pretrain_domain", "score")
                              or c.startswith(rank.VOTE_PREFIX)])
  lines.append(io.markdown_table(shown.to_dict("records")))
  csv_path, md_path, png_path = result["paths"]
  lines.append(f"written to {csv_path}, {md_path} and {png_path} "
               f"({result['seconds']:.1f} s)")
  return "\n".join(lines)
