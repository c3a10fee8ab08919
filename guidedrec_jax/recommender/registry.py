"""Every recommender kind a user can ask for, built from one plain-data block.

A block is a dict such as `dict(type="fm", fields="d,m,S", train=dict(l2=1e-2))`. `DEFAULTS`
is the one table of defaults: a key a block leaves out takes its type's default, a key its
type lacks is an error. `build(block)` returns a method with `fit(frame) -> fitted` and the
fitted object's `predict(frame)` / `to_state()` (`recommender/state.py` saves any of them);
`label(block)` is the row name a table shows for it. Adding a kind touches this file, and
`state.py`'s loader list when the kind brings a new fitted class.

Types:
  model_mean        a model's mean within-dataset z-scored accuracy on the training datasets
  similar_datasets  the model mean weighted by each training dataset's resemblance (tau)
  column            one column of the rows to rank: a raw MS score (`ms_<name>`, signed by
                    the history's declaration or the scores registry) or a meta column
  ridge             closed-form ridge regression on the encoded `fields`
  trees             gradient-boosted trees on the encoded `fields`
  lr, fm, ffm       the paper's models (Optax), `num_seeds` training seeds averaged
  blend             a stacked blend of `members` (blocks), `recommender/blend.py`; `gate`
                    (default True) gives the similar-datasets member its closeness gate

`fields` is a field-set spec (`field_encoding.resolve_fields`) or `label=spec`, the label naming a
long spec in tables. The history's declared columns (`history.fields`) reach every kind
through `build(..., declared=...)`: extra encoder fields and score directions.
"""

from __future__ import annotations

import copy
from typing import Any

import ml_collections

from guidedrec_jax.history import generic, schema
from guidedrec_jax.recommender import baselines, blend, methods, neighbors, trees
from guidedrec_jax.recommender import train as train_lib
from guidedrec_jax.recommender.preprocess import Preprocess, score_sign

_TRAIN = {k: v for k, v in train_lib.TrainConfig()._asdict().items() if k not in ("model", "seed")}
_ENCODED = dict(fields="d,m", target="dataset_z", score_norm="dataset_z")
COMMON = dict(type="", name="", seed=0)
DEFAULTS: dict[str, dict[str, Any]] = {
    "model_mean": {},
    "similar_datasets": dict(tau=1.0, similarity="auto"),
    "column": dict(column="", sign=0.0),  # sign 0: the score's direction (+1 for meta columns)
    "ridge": dict(_ENCODED, l2=1.0),
    "trees": dict(_ENCODED, max_iter=200, learning_rate=0.05, min_samples_leaf=10),
    "lr": dict(_ENCODED, d_interactions="id_only", num_seeds=1, train=_TRAIN),
    "fm": dict(_ENCODED, d_interactions="id_only", num_seeds=1, train=_TRAIN),
    "ffm": dict(_ENCODED, d_interactions="id_only", num_seeds=1, train=_TRAIN),
    # The weighting's defaults are the blend's own (recommender/blend.py).
    "blend": dict(members=(), **{k: getattr(blend.BlendMethod, k)
                                 for k in ("penalty", "shrink", "max_inner_folds", "gate")}),
}
TYPES = tuple(DEFAULTS)


def _plain(block: Any) -> dict[str, Any]:
  if isinstance(block, ml_collections.ConfigDict):
    return block.to_dict()
  if not isinstance(block, dict):
    raise ValueError(f"a method block must be a dict, got {type(block).__name__}: {block!r}")
  return copy.deepcopy(dict(block))


def resolve(block: Any) -> dict[str, Any]:
  """`block` over its type's defaults; ValueError naming an unknown type or key."""
  given = _plain(block)
  kind = given.get("type")
  if kind not in DEFAULTS:
    raise ValueError(f"method block {given!r}: type must be one of {TYPES}, got {kind!r}")
  defaults = {**COMMON, **copy.deepcopy(DEFAULTS[kind])}
  unknown = sorted(set(given) - set(defaults))
  if unknown:
    raise ValueError(f"method block of type {kind!r} has unknown keys {unknown}; known: "
                     f"{sorted(defaults)}")
  out = {**defaults, **given}
  if "train" in defaults:
    train = dict(given.get("train") or {})
    bad = sorted(set(train) - set(_TRAIN))
    if bad:
      raise ValueError(f"method block of type {kind!r}: train has unknown keys {bad}; known: "
                       f"{sorted(_TRAIN)}")
    out["train"] = {**_TRAIN, **train}
  if kind == "blend":
    if not out["members"]:
      raise ValueError("a blend block needs members (a list of method blocks)")
    out["members"] = [resolve(m) for m in out["members"]]
    if not isinstance(out["gate"], bool):
      raise ValueError(f"a blend block's gate must be true or false, got {out['gate']!r}")
  if kind == "column" and not out["column"]:
    raise ValueError("a column block needs column (a history column such as ms_logme)")
  return out


def _fields(spec: str) -> tuple[str, str]:
  """(label, spec) of `label=spec`, or (spec, spec)."""
  label, eq, rest = str(spec).partition("=")
  return (label.strip(), rest) if eq else (spec, spec)


def label(block: Any) -> str:
  """The row name of a block: its `name`, else one derived from its type and settings."""
  b = resolve(block)
  if b["name"]:
    return b["name"]
  kind = b["type"]
  if kind == "model_mean":
    return "model mean"
  if kind == "similar_datasets":
    return f"similar datasets (tau={b['tau']:g})"
  if kind == "column":
    column = b["column"]
    return "S_" + column[len(schema.SCORE_PREFIX):] if column.startswith(
        schema.SCORE_PREFIX) else column
  if kind == "blend":
    return "blend (" + ", ".join(label(m) for m in b["members"]) + ")"
  name = kind if kind in ("ridge", "trees") else kind.upper()
  return f"{name} ({_fields(b['fields'])[0]})"


def column_sign(column: str, declared: dict[str, str] | str = "") -> float:
  """Direction of a column: a score's (`ms_*` or a declared `S` column) is its declared or
  registered one (`preprocess.score_sign`: refused if neither), a meta column's +1."""
  signs = dict(generic.declared_signs(declared))
  if column.startswith(schema.SCORE_PREFIX):
    return score_sign(column[len(schema.SCORE_PREFIX):], signs)
  if any(f["column"] == column and f["group"] == "S"
         for f in generic.declared_fields(declared)):
    return score_sign(column, signs)
  return 1.0


def build(block: Any, declared: dict[str, str] | str = "", seed: int | None = None) -> Any:
  """The method a block describes.

  Args:
    block: a method block (see the module docstring).
    declared: the history's declared columns (`history.fields`): extra fields and directions.
    seed: overrides the block's seed (and its members') when given.

  Raises:
    ValueError: a bad block, naming the key.
  """
  b = resolve(block)
  seed = int(b["seed"] if seed is None else seed)
  extra, signs = generic.declared_fields(declared), generic.declared_signs(declared)
  name, kind = label(b), b["type"]
  if kind == "model_mean":
    return baselines.ModelMeanMethod(name)
  if kind == "similar_datasets":
    return neighbors.NeighborMethod(name, float(b["tau"]), b["similarity"], signs)
  if kind == "column":
    sign = float(b["sign"]) or column_sign(b["column"], declared)
    return baselines.ColumnMethod(name, b["column"], sign)
  if kind == "blend":
    members = [build(m, declared, seed) for m in b["members"]]
    return blend.BlendMethod(name, members, [m.name for m in members], shrink=float(b["shrink"]),
                             max_inner_folds=int(b["max_inner_folds"]), seed=seed,
                             penalty=float(b["penalty"]), signs=signs, gate=bool(b["gate"]))
  fields = _fields(b["fields"])[1]
  Preprocess(b["target"], b["score_norm"])  # a bad choice is refused here, before any fit
  common = dict(target=b["target"], score_norm=b["score_norm"], extra_fields=extra, signs=signs)
  if kind == "ridge":
    return methods.RidgeMethod(name, fields, float(b["l2"]), **common)
  if kind == "trees":
    return trees.TreeMethod(name, fields, max_iter=int(b["max_iter"]),
                            learning_rate=float(b["learning_rate"]),
                            min_samples_leaf=int(b["min_samples_leaf"]), seed=seed, **common)
  config = train_lib.check_config(train_lib.TrainConfig(**b["train"], model=kind, seed=seed))
  return methods.RecommenderMethod(name, fields, config, num_seeds=int(b["num_seeds"]),
                                   d_interactions=b["d_interactions"], **common)


def score_columns(history, declared: dict[str, str] | str = "") -> list[dict[str, Any]]:
  """A `column` block for every MS score of `history` (joined `ms_*` and declared `S`
  columns): the raw-score rows of every table."""
  columns = schema.score_columns(history)
  columns += [f["column"] for f in generic.declared_fields(declared) if f["group"] == "S"
              and f["column"] in history.columns and f["column"] not in columns
              and schema.SCORE_PREFIX + f["column"] not in columns]
  return [dict(type="column", column=c) for c in columns]
