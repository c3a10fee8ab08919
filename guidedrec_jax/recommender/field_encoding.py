"""History rows -> `EncodedPairs`: the fields of a (dataset, model) pair and their encoding.

A field is one column of `EncodedPairs` and has one of three kinds:

* `categorical`: one-hot; the feature id of the row's category, value 1. Categories are those
  of the training split plus one shared "unknown" id per field, valued 0: an unseen model or
  dataset is predicted from its other fields alone. (Valued 1, the unknown id's parameters —
  never trained, since no training row has it — would add their random initial latent
  vectors to every interaction of the row.)
* `numeric`: one feature id; the value is the column (log-transformed where marked) minus the
  training mean over the training standard deviation. Missing values become 0, the mean. A
  column constant over the training rows (one training dataset's `num_classes`) is 0
  everywhere, for the same reason: nothing was learned about it.
* `binned`: a numeric column cut at `bins`-quantiles of the training rows (edges fitted on
  the training split, kept in the state), one-hot like a category; a missing value is the
  unknown id. It gives LR/FM/FFM a step function of size (the nonlinearity a tree finds)
  and lets FM interact each size band with the other fields.
* `prior`: the mean training target of the row's category (`column`, the model ID for
  `model_prior`) over the training datasets other than the row's own (`priors.PriorTable`):
  the "model mean" heuristic as a feature, standardised like a numeric field, so that a
  recommender can weigh it and interact it (`source_match x model_prior`).
* `cross`: a categorical column times a numeric one (`family x log params`): the feature id of
  the category, valued with the standardised numeric column. It gives a linear model one
  slope per category, the interaction an FM learns from its latent vectors.

Each field belongs to a group of the paper's Fig. 5: `d` (dataset), `m` (model), `S`
(model-selection scores). Field sets are written as the paper's tables do: `d,m` or
`d,m,S_logme`; a token may also name a single field (`source_data`) or `S` (every score).
Statistics are fitted on the training split only (`FeatureEncoder.fit`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema
from guidedrec_jax.recommender import priors
from guidedrec_jax.recommender.pairs import EncodedPairs

KINDS = ("categorical", "numeric", "cross", "binned", "prior")
# Kinds encoded as one feature id valued by a standardised number.
SCALAR_KINDS = ("numeric", "prior")
UNKNOWN = "<unknown>"
# Bumped whenever `get_state`'s layout or the meaning of an encoded value changes.
STATE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Field:
  """One encoded column: `column` (and `numeric_column` for crosses) of the history table."""
  name: str
  column: str
  kind: str
  group: str
  log: bool = False
  numeric_column: str | None = None
  # False: the field enters FM/FFM as a main effect only (see `models.apply_rows`).
  interact: bool = True
  bins: int = 0  # `binned` fields: number of quantile bins (>= 2)
  # A categorical field whose values are looked up among another categorical field's
  # categories, with its ids (and so its parameters): `target_as_source` reads the target
  # dataset's name as a source dataset, so FM's <v_target, v_source> for a new target is
  # learned from the rows where the two roles were swapped.
  shared_with: str | None = None


FIELDS = {f.name: f for f in (
    Field("dataset_id", "dataset", "categorical", "d"),
    Field("num_train", "num_train", "numeric", "d", log=True),
    Field("num_classes", "num_classes", "numeric", "d", log=True),
    Field("difficulty", "difficulty", "numeric", "d"),
    Field("model_id", "model", "categorical", "m"),
    Field("family", "family", "categorical", "m"),
    Field("pretrain_domain", "pretrain_domain", "categorical", "m"),
    Field("input_size", "input_size", "numeric", "m", log=True),
    Field("params", "params_m", "numeric", "m", log=True),
    Field("gmacs", "gmacs", "numeric", "m", log=True),
    # Optional model fields of some histories (PARC).
    Field("source_data", "source_data", "categorical", "m"),
    Field("target_as_source", "dataset", "categorical", "d", shared_with="source_data"),
    Field("source_images", "source_images", "numeric", "m", log=True),
    Field("layers", "layers", "numeric", "m", log=True),
    Field("arch_imagenet_top1", "arch_imagenet_top1", "numeric", "m"),
    # The model's mean training target on the other training datasets (priors.py).
    Field("model_prior", "model", "prior", "m"),
    # Size bands (quantile bins of the training rows), for a nonlinear size effect.
    Field("params_bin", "params_m", "binned", "m", bins=8),
    Field("gmacs_bin", "gmacs", "binned", "m", bins=8),
    Field("input_size_bin", "input_size", "binned", "m", bins=8),
    # Interactions for linear models.
    Field("family_x_params", "family", "cross", "m", log=True, numeric_column="params_m"),
    Field("family_x_gmacs", "family", "cross", "m", log=True, numeric_column="gmacs"),
    Field("family_x_input_size", "family", "cross", "m", log=True, numeric_column="input_size"),
    Field("domain_x_params", "pretrain_domain", "cross", "m", log=True, numeric_column="params_m"),
)}
# The `d` and `m` tokens: the paper's meta features, where the history has the column.
GROUP_FIELDS = {
    "d": ("dataset_id", "num_train", "num_classes", "difficulty"),
    "m": ("model_id", "family", "pretrain_domain", "input_size", "params", "gmacs"),
}


def score_field(score: str) -> Field:
  """The numeric field `S_<score>` reading the joined column `ms_<score>`."""
  return Field(f"S_{score}", schema.SCORE_PREFIX + score, "numeric", "S")


def extra_fields(declared: dict[str, dict] | tuple | list) -> tuple[Field, ...]:
  """Fields of declared extra columns (`history.generic.declared_fields` descriptions)."""
  items = declared.values() if isinstance(declared, dict) else declared
  return tuple(item if isinstance(item, Field) else Field(**item) for item in items)


def resolve_fields(spec: str, columns: list[str] | pd.Index,
                   extra: tuple[Field, ...] = ()) -> tuple[Field, ...]:
  """Turns a field-set spec such as `d,m,S_logme` into fields.

  Args:
    spec: comma-separated tokens: `d`, `m` (their fields whose columns exist, declared
      `extra` fields of the group included), `S` (every `ms_*` column and declared `S`
      fields), `S_<score>`, or the name of a field of `extra` or `FIELDS`; a token ending in
      `?` is optional: skipped where the history lacks its columns (or, for a shared field,
      its owner field).
    columns: the history table's columns.
    extra: declared fields of this history (`extra_fields`); a name shared with `FIELDS`
      takes the declared meaning.

  Raises:
    ValueError: an unknown token, or a named field whose column the history lacks.
  """
  columns = list(columns)
  extra = tuple(extra)
  declared = {f.name: f for f in extra}
  tokens = [t.strip() for t in spec.split(",") if t.strip()]
  if not tokens:
    raise ValueError(f"spec must name at least one field, got {spec!r}")
  fields: list[Field] = []
  optional: set[str] = set()
  for token in tokens:
    if token.endswith("?"):  # optional: left out where the history lacks its columns
      try:
        chosen = resolve_fields(token[:-1], columns, extra)
      except ValueError:
        continue
      optional |= {f.name for f in chosen}
      fields += [f for f in chosen if f not in fields]
      continue
    if token in GROUP_FIELDS:
      chosen = [declared.get(n, FIELDS[n]) for n in GROUP_FIELDS[token]
                if declared.get(n, FIELDS[n]).column in columns]
      chosen += [f for f in extra if f.group == token and f not in chosen]
    elif token == "S":
      chosen = [score_field(c[len(schema.SCORE_PREFIX):]) for c in schema.score_columns(columns)]
      # A declared score may only give the direction of a joined `ms_<name>` column.
      chosen += [f for f in extra if f.group == "S" and f.column in columns]
    elif token in declared:
      chosen = [declared[token]]
    elif token.startswith("S_"):
      chosen = [score_field(token[2:])]
    elif token in FIELDS:
      chosen = [FIELDS[token]]
    else:
      raise ValueError(f"spec token {token!r} is not d, m, S, S_<score> or one of "
                       f"{sorted(set(FIELDS) | set(declared))}")
    for field in chosen:
      for column in (field.column, field.numeric_column):
        if column is not None and column not in columns:
          raise ValueError(f"spec token {token!r}: the history has no column {column!r}")
    fields += [f for f in chosen if f not in fields]
  names = {f.name for f in fields}
  return tuple(f for f in fields
               if not (f.name in optional and f.shared_with and f.shared_with not in names))


D_INTERACTIONS = ("all", "id_only")


def with_dataset_interactions(fields: tuple[Field, ...], mode: str) -> tuple[Field, ...]:
  """`fields` with the dataset descriptors' interactions as `mode` says.

  `all`: every field interacts. `id_only`: the numeric / binned `d` fields (num_train,
  num_classes, difficulty: one value per training dataset) become main effects only. With a
  handful of training datasets, such a descriptor interacting with every model field is a
  disguised dataset ID that extrapolates arbitrarily to a new dataset's value; as a main
  effect it is constant within a dataset and cannot disturb a ranking. `dataset_id` keeps its
  interactions: they absorb each training dataset's own model preferences (noise for the
  others), and a new dataset's id is the unknown one, valued 0.
  """
  if mode not in D_INTERACTIONS:
    raise ValueError(f"d_interactions must be one of {D_INTERACTIONS}, got {mode!r}")
  if mode == "all":
    return tuple(fields)
  return tuple(dataclasses.replace(f, interact=False)
               if f.group == "d" and f.kind in ("numeric", "binned") else f for f in fields)


def _numeric(frame: pd.DataFrame, column: str, log: bool) -> np.ndarray:
  values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
  if log:
    # Non-positive counts carry no usable size: treat them as missing (imputed below).
    values = np.log(np.where(values > 0, values, np.nan))
  return values


class FeatureEncoder:
  """Encodes history rows; category lists and numeric statistics come from `fit`'s rows."""

  def __init__(self, fields: tuple[Field, ...]):
    if not fields:
      raise ValueError("fields must not be empty")
    bad = [f.name for f in fields if f.kind not in KINDS
           or (f.kind == "cross") != (f.numeric_column is not None)
           or (f.kind == "binned") != (f.bins >= 2)]
    if bad:
      raise ValueError(f"fields {bad} need a kind in {KINDS}, a numeric_column iff 'cross' "
                       "and bins >= 2 iff 'binned'")
    owners = {f.name: f for f in fields if f.kind == "categorical" and not f.shared_with}
    bad = [f.name for f in fields if f.shared_with and (f.kind != "categorical"
                                                        or f.shared_with not in owners)]
    if bad:
      raise ValueError(f"fields {bad}: shared_with must name another categorical field of the "
                       "set (itself not shared), and only categorical fields share")
    self.fields = tuple(fields)
    self.categories: dict[str, list[str]] = {}
    self.stats: dict[str, tuple[float, float]] = {}
    self.edges: dict[str, list[float]] = {}
    self.priors: dict[str, priors.PriorTable] = {}
    self.offsets: list[int] = []
    self.num_features = 0

  def fit(self, frame: pd.DataFrame) -> "FeatureEncoder":
    """Learns categories and (mean, std) of numeric columns from the training rows `frame`."""
    if frame.empty:
      raise ValueError("frame must hold at least one training row")
    self._check_columns(frame)
    if any(f.kind == "prior" for f in self.fields) and schema.TARGET_COLUMN not in frame:
      raise ValueError(f"frame needs a {schema.TARGET_COLUMN!r} column to fit prior fields "
                       f"{[f.name for f in self.fields if f.kind == 'prior']}")
    self.offsets, offset = [], 0
    for field in self.fields:
      self.offsets.append(offset)
      if field.shared_with:
        continue  # uses its owner's ids, set below
      if field.kind == "binned":
        values = _numeric(frame, field.column, False)
        finite = values[np.isfinite(values)]
        quantiles = np.linspace(0, 1, field.bins + 1)[1:-1]
        self.edges[field.name] = (np.unique(np.quantile(finite, quantiles)).tolist()
                                  if finite.size else [])
      if field.kind not in SCALAR_KINDS:
        seen = self._labels(frame, field)
        sharers = [f.column for f in self.fields if f.shared_with == field.name]
        seen = pd.concat([seen] + [frame[c].astype(str) for c in sharers])
        self.categories[field.name] = sorted(seen[seen != UNKNOWN].unique()) + [UNKNOWN]
        offset += len(self.categories[field.name])
      else:
        offset += 1
      if field.kind == "prior":
        self.priors[field.name] = priors.PriorTable.fit(
            frame["dataset"], frame[field.column], frame[schema.TARGET_COLUMN])
      if field.kind in ("numeric", "cross", "prior"):
        values = self._scalar(frame, field)
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
        std = float(np.nanstd(values)) if np.isfinite(values).sum() > 1 else 0.0
        # std = inf turns a constant column into zeros (see the module docstring).
        self.stats[field.name] = (mean, std if std > 1e-12 else float("inf"))
    names = [f.name for f in self.fields]
    for j, field in enumerate(self.fields):
      if field.shared_with:
        self.offsets[j] = self.offsets[names.index(field.shared_with)]
        self.categories[field.name] = self.categories[field.shared_with]
    self.num_features = offset
    return self

  def transform(self, frame: pd.DataFrame) -> EncodedPairs:
    """Encodes rows of a history table.

    Targets are `top1` (0 where the column is absent); groups number the datasets of `frame`
    in sorted order.
    """
    if not self.offsets:
      raise ValueError("FeatureEncoder.transform called before fit")
    self._check_columns(frame)
    rows = len(frame)
    ids = np.zeros((rows, len(self.fields)), np.int32)
    values = np.ones((rows, len(self.fields)), np.float32)
    for j, field in enumerate(self.fields):
      if field.kind not in SCALAR_KINDS:
        lookup = {c: i for i, c in enumerate(self.categories[field.name])}
        unknown = len(lookup) - 1
        codes = self._labels(frame, field).map(lambda c: lookup.get(c, unknown)).to_numpy()
        ids[:, j] = self.offsets[j] + codes.astype(np.int32)
        values[:, j] = (codes != unknown).astype(np.float32)
      else:
        ids[:, j] = self.offsets[j]
      if field.kind in ("numeric", "cross", "prior"):
        mean, std = self.stats[field.name]
        scaled = np.nan_to_num((self._scalar(frame, field) - mean) / std, nan=0.0)
        values[:, j] = values[:, j] * scaled if field.kind == "cross" else scaled
    # Rows to recommend from have no accuracy yet: their targets are 0 and unused.
    targets = (frame[schema.TARGET_COLUMN].to_numpy(np.float32)
               if schema.TARGET_COLUMN in frame.columns else np.zeros(rows, np.float32))
    groups = pd.factorize(frame["dataset"], sort=True)[0].astype(np.int32)
    return EncodedPairs(ids, values, targets, groups, tuple(f.name for f in self.fields),
                        self.num_features).validate()

  def _scalar(self, frame: pd.DataFrame, field: Field) -> np.ndarray:
    """The raw number of a numeric / cross / prior field for each row (NaN = missing)."""
    if field.kind == "prior":
      return self.priors[field.name].values(frame["dataset"], frame[field.column])
    return _numeric(frame, field.numeric_column or field.column, field.log)

  def _labels(self, frame: pd.DataFrame, field: Field) -> pd.Series:
    """The category label of each row: the column as text, or a `binned` field's band."""
    if field.kind != "binned":
      return frame[field.column].astype(str)
    values = _numeric(frame, field.column, False)
    band = np.searchsorted(np.asarray(self.edges[field.name], np.float64), values, side="right")
    return pd.Series(np.where(np.isfinite(values), [f"band{b:03d}" for b in band], UNKNOWN),
                     index=frame.index)

  def _check_columns(self, frame: pd.DataFrame) -> None:
    needed = {"dataset"} | {c for f in self.fields for c in (f.column, f.numeric_column) if c}
    missing = sorted(needed - set(frame.columns))
    if missing:
      raise ValueError(f"frame is missing columns {missing}")

  def get_state(self) -> dict[str, Any]:
    """The fitted encoder as plain JSON data (no pickle): fields, categories, statistics.

    `FeatureEncoder.from_state(encoder.get_state())` encodes every frame exactly as `encoder`
    does; a saved recommender stores this beside its parameters.
    """
    if not self.offsets:
      raise ValueError("FeatureEncoder.get_state called before fit")
    return {
        "state_version": STATE_VERSION,
        "fields": [dataclasses.asdict(f) for f in self.fields],
        "categories": {name: list(cats) for name, cats in self.categories.items()},
        # JSON has no infinity: a constant column's std (inf, see the module docstring) is None.
        "stats": {name: [mean, None if np.isinf(std) else std]
                  for name, (mean, std) in self.stats.items()},
        "edges": {name: list(map(float, edges)) for name, edges in self.edges.items()},
        "priors": {name: table.to_state() for name, table in self.priors.items()},
        "offsets": list(self.offsets),
        "num_features": int(self.num_features),
    }

  @classmethod
  def from_state(cls, state: dict[str, Any]) -> "FeatureEncoder":
    """Rebuilds a fitted encoder from `get_state()`'s output; raises ValueError on a mismatch."""
    if not isinstance(state, dict) or state.get("state_version") != STATE_VERSION:
      found = state.get("state_version") if isinstance(state, dict) else type(state).__name__
      raise ValueError(f"state must be a FeatureEncoder state of version {STATE_VERSION}, "
                       f"got version {found!r}")
    encoder = cls(tuple(Field(**f) for f in state["fields"]))
    encoder.categories = {name: list(cats) for name, cats in state["categories"].items()}
    encoder.stats = {name: (float(mean), float("inf") if std is None else float(std))
                     for name, (mean, std) in state["stats"].items()}
    encoder.edges = {name: [float(e) for e in edges]
                     for name, edges in state.get("edges", {}).items()}
    encoder.priors = {name: priors.PriorTable.from_state(table)
                      for name, table in state.get("priors", {}).items()}
    encoder.offsets = [int(o) for o in state["offsets"]]
    encoder.num_features = int(state["num_features"])
    names = {f.name for f in encoder.fields}
    needed_cats = {f.name for f in encoder.fields if f.kind not in SCALAR_KINDS}
    needed_stats = {f.name for f in encoder.fields if f.kind in ("numeric", "cross", "prior")}
    if not {f.name for f in encoder.fields if f.kind == "binned"} <= set(encoder.edges):
      raise ValueError("state is inconsistent: a binned field has no edges")
    if not {f.name for f in encoder.fields if f.kind == "prior"} <= set(encoder.priors):
      raise ValueError("state is inconsistent: a prior field has no table")
    if (len(encoder.offsets) != len(encoder.fields) or not needed_cats <= set(encoder.categories)
        or not needed_stats <= set(encoder.stats) or not set(encoder.stats) <= names):
      raise ValueError("state is inconsistent: offsets, categories or statistics do not match "
                       "its fields")
    return encoder

  def interaction_weights(self) -> np.ndarray:
    """float32 [F]: 1 for fields that enter FM/FFM interactions, 0 for main effects only."""
    return np.array([1.0 if f.interact else 0.0 for f in self.fields], np.float32)

  def fit_transform(self, frame: pd.DataFrame) -> EncodedPairs:
    return self.fit(frame).transform(frame)

  def feature_names(self) -> list[str]:
    """Names of the feature ids in order: `field=category`, or the field name if numeric."""
    if not self.offsets:
      raise ValueError("FeatureEncoder.feature_names called before fit")
    names: list[str] = []
    for field in self.fields:
      if field.shared_with:
        continue  # no ids of its own
      if field.kind in SCALAR_KINDS:
        names.append(field.name)
      else:
        names += [f"{field.name}={c}" for c in self.categories[field.name]]
    return names

  def feature_ids(self, field_name: str) -> np.ndarray:
    """The feature ids of one field (categories, unknown last; or the single numeric id)."""
    names = [f.name for f in self.fields]
    if field_name not in names:
      raise ValueError(f"field_name {field_name!r} is not one of {names}")
    if not self.offsets:
      raise ValueError("FeatureEncoder.feature_ids called before fit")
    j = names.index(field_name)
    size = 1 if self.fields[j].kind in SCALAR_KINDS else len(self.categories[field_name])
    return np.arange(self.offsets[j], self.offsets[j] + size)
