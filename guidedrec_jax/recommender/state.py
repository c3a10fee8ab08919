"""One plain-data state for every fitted method: `(arrays, meta)`, no pickle.

Every fitted class has a `STATE_TYPE` and `to_state() -> (dict[str, np.ndarray], dict)` /
`from_state(arrays, meta)`. `state_of(fitted)` tags the meta with the type; `load_state`
dispatches on it. Nested states (a blend's members) go through `nest` / `unnest`, which
prefix the member's array names, so one `.npz` holds a whole recommender.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STATE_VERSION = 1


def _loaders() -> dict[str, Any]:
  # Imported here: the blend's module imports this one to save its members.
  # pylint: disable-next=import-outside-toplevel
  from guidedrec_jax.recommender import baselines, blend, fitted, neighbors, trees
  classes = (fitted.Fitted, neighbors.NeighborFitted, trees.TreeFitted, baselines.ColumnFitted,
             baselines.ModelMeanFitted, blend.BlendFitted)
  return {cls.STATE_TYPE: cls for cls in classes}


def state_of(fitted: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """(arrays, meta) of any fitted method, meta tagged with its `STATE_TYPE`."""
  arrays, meta = fitted.to_state()
  return dict(arrays), {"state_version": STATE_VERSION, "state_type": fitted.STATE_TYPE,
                        "meta": meta}


def load_state(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
  """The fitted method `state_of` described; ValueError on an unknown type or a mismatch."""
  if not isinstance(meta, dict) or meta.get("state_version") != STATE_VERSION:
    raise ValueError(f"meta must be a fitted-method state of version {STATE_VERSION}")
  loaders = _loaders()
  kind = meta.get("state_type")
  if kind not in loaders:
    raise ValueError(f"state_type must be one of {sorted(loaders)}, got {kind!r}")
  return loaders[kind].from_state(arrays, meta["meta"])


def nest(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """`arrays` with every name prefixed `<prefix>.`."""
  return {f"{prefix}.{name}": value for name, value in arrays.items()}


def unnest(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The arrays `nest(prefix, ...)` wrote, names unprefixed."""
  head = f"{prefix}."
  return {name[len(head):]: value for name, value in arrays.items() if name.startswith(head)}
