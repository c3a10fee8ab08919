"""A fitted recommender: everything prediction needs, and its plain-data state.

API (what a saved recommender builds on):

  fitted = method.fit(train_frame)            # methods.RecommenderMethod / RidgeMethod
  scores = fitted.predict(frame)              # float64 [len(frame)], higher = better model
  arrays, meta = fitted.to_state()            # dict[str, np.ndarray], JSON-able dict
  io.save_arrays(path, arrays, meta)
  arrays, meta = io.load_arrays(path)
  fitted = Fitted.from_state(arrays, meta)    # ValueError on any mismatch

  method = registry.build(block)              # recommender/registry.py

`frame` is a history table (`history/schema.py` columns, `top1` not needed) holding rows of
any datasets, also ones never seen in training — e.g. every zoo model on a user's new dataset,
including models without history (known only by their meta features: unknown categories
encode as the shared "unknown" id). Per-dataset score normalisation (`preprocess`) is computed
within `frame`'s own datasets, so predict a new dataset's models together in one frame.
Predictions are in the units of the fitted target (`preprocess.target`: raw top-1, or a
within-dataset z-score / rank): compare them only within a dataset.

`Fitted` holds: `kind` (`lr`, `fm`, `ffm` or `ridge`; ridge predicts with the LR formula),
the fitted `FeatureEncoder`, the parameters with a leading member axis (an ensemble over
training seeds predicts the mean of its members; one fit has one member), the `Preprocess`
choices, and `info` (JSON data describing the fit: method name, field spec, train config).
A state round trip predicts bitwise identically: the same float32 arrays, the same code path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.recommender import field_encoding
from guidedrec_jax.recommender import train as train_lib
from guidedrec_jax.recommender.preprocess import Preprocess

KINDS = ("lr", "fm", "ffm", "ridge")
STATE_VERSION = 1
_PREFIX = "param_"  # array names in the state: param_bias, param_w, param_v


def param_names(kind: str) -> tuple[str, ...]:
  """The parameter tables of a kind, in state order."""
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  return ("bias", "w") if kind in ("lr", "ridge") else ("bias", "w", "v")


def _model(kind: str) -> str:
  return "lr" if kind == "ridge" else kind


@dataclasses.dataclass(frozen=True, eq=False)
class Fitted:
  """A fitted recommender (see the module docstring)."""
  kind: str
  encoder: field_encoding.FeatureEncoder
  params: dict[str, np.ndarray]
  preprocess: Preprocess
  info: dict[str, Any] = dataclasses.field(default_factory=dict)
  STATE_TYPE = "encoded"

  def __post_init__(self):
    _check_params(self.kind, self.params, self.encoder)

  @property
  def num_members(self) -> int:
    return int(self.params["bias"].shape[0])

  def member(self, index: int) -> dict[str, np.ndarray]:
    """Parameters of one ensemble member, as `train.predict` takes them."""
    return {name: value[index] for name, value in self.params.items()}

  def predict(self, frame: pd.DataFrame) -> np.ndarray:
    """Scores the rows of `frame` (see the module docstring); float64 [len(frame)]."""
    if not isinstance(frame, pd.DataFrame):
      raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
      return np.zeros((0,), np.float64)
    pairs = self.encoder.transform(self.preprocess.features(frame.reset_index(drop=True)))
    out = np.zeros(len(frame), np.float64)
    for index in range(self.num_members):
      out += train_lib.predict(_model(self.kind), self.member(index), pairs,
                               self.encoder.interaction_weights()).astype(np.float64)
    return out / self.num_members

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta): float32 parameters and plain JSON data; see `from_state`."""
    arrays = {_PREFIX + name: np.asarray(self.params[name], np.float32)
              for name in param_names(self.kind)}
    meta = {"fitted_state_version": STATE_VERSION, "kind": self.kind,
            "encoder": self.encoder.get_state(), "preprocess": self.preprocess.to_json(),
            "info": self.info, "num_members": self.num_members}
    return arrays, meta

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "Fitted":
    """Rebuilds `to_state()`'s recommender; raises ValueError on a mismatch of any part."""
    if not isinstance(meta, dict) or meta.get("fitted_state_version") != STATE_VERSION:
      found = meta.get("fitted_state_version") if isinstance(meta, dict) else None
      raise ValueError(f"meta must be a Fitted state of version {STATE_VERSION}, got {found!r}")
    kind = meta.get("kind")
    names = param_names(kind)
    given = sorted(k for k in arrays if k.startswith(_PREFIX))
    expected = sorted(_PREFIX + n for n in names)
    if given != expected:
      raise ValueError(f"arrays must hold {expected} for kind {kind!r}, got {given}")
    preprocess = Preprocess.from_json(meta.get("preprocess") or {})
    encoder = field_encoding.FeatureEncoder.from_state(meta.get("encoder"))
    params = {n: np.asarray(arrays[_PREFIX + n]) for n in names}
    fitted = cls(kind, encoder, params, preprocess, dict(meta.get("info") or {}))
    if fitted.num_members != meta.get("num_members"):
      raise ValueError(f"meta says {meta.get('num_members')} members, the arrays hold "
                       f"{fitted.num_members}")
    return fitted


def _check_params(kind: str, params: dict[str, np.ndarray],
                  encoder: field_encoding.FeatureEncoder) -> None:
  """Raises ValueError unless `params` fit `kind` and the encoder (member axis first)."""
  names = param_names(kind)
  if sorted(params) != sorted(names):
    raise ValueError(f"params must hold {list(names)} for kind {kind!r}, got {sorted(params)}")
  if not encoder.offsets:
    raise ValueError("encoder must be fitted")
  bias, w = np.asarray(params["bias"]), np.asarray(params["w"])
  members = bias.shape[0] if bias.ndim == 1 else -1
  if members < 1 or w.shape != (members, encoder.num_features):
    raise ValueError(f"params must be bias [S], w [S, {encoder.num_features}] with S >= 1, got "
                     f"{bias.shape} and {w.shape}")
  if "v" in params:
    v, fields = np.asarray(params["v"]), len(encoder.fields)
    want = (members, encoder.num_features) + ((fields,) if kind == "ffm" else ())
    if v.ndim != len(want) + 1 or v.shape[:-1] != want:
      raise ValueError(f"params['v'] must have shape {want} + (rank,), got {v.shape}")
  for name, value in params.items():
    if np.asarray(value).dtype != np.float32 or not np.all(np.isfinite(value)):
      raise ValueError(f"params[{name!r}] must be finite float32")


def stack_members(member_params: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Stacks per-member parameter dicts along a new leading member axis (float32)."""
  if not member_params:
    raise ValueError("member_params must not be empty")
  return {name: np.stack([np.asarray(p[name], np.float32) for p in member_params])
          for name in member_params[0]}

