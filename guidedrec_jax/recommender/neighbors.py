"""Similar datasets rank models alike: the model mean, weighted by each training dataset's
similarity to the new one.

`NeighborMethod.fit(train)` keeps the training history as a table of within-dataset z-scored
accuracies `z[dataset, model]`. For a new dataset `t` it predicts

    score(t, m) = sum_d w_d z[d, m] / sum_d w_d [z[d, m] observed],
    w = softmax(standardised similarity(t, d) / tau)

— with equal similarities, the "model mean" heuristic (`baselines.ModelMeanMethod`). The
similarity of `t` to a training dataset `d` is read from what the history and the new rows hold
(`similarity="auto"` takes the first available):

* `transfer`: models of the zoo pre-trained on `t` itself (`source_data == t`, a multi-source
  zoo): their mean z-score on `d`, each less the mean z-score on `d` of the models sharing its
  architecture (`GROUP_COLUMNS`; a model without peers keeps its own z-score). A source whose
  models beat their architecture's other sources on `d` resembles `d` — not an architecture
  that is good everywhere — and datasets that resemble each other rank the zoo alike (e.g. a
  pets-trained model does best on the other pet dataset, whose ranking is then the one to
  follow).
* `scores`: the new rows' MS scores (`ms_*`, signed higher-is-better): the mean over scores of
  the Pearson correlation, across shared models, between `t`'s and `d`'s score profiles.
* `uniform`: none of the above: the model mean.

Similarities are z-scored over the training datasets before the softmax, so `tau` is in units
of their spread whatever their source; a training dataset without a similarity gets the mean.

Models pre-trained on the target itself (a row whose `source_data` equals its `dataset`) or
on data like it (the one source whose models' source-head scores — LEEP, NCE — lead the zoo's
others on the dataset by `SOURCE_MARGIN` z-scores: a user's images from a source's domain)
are the one case the weighted mean gets backwards: such a model is often poor elsewhere and
best here. The training rows say how to treat them: if in at least half of the training
datasets with such rows a matched model was the best (ties count), matched models are ranked
first (ordered by their own scores; `first_rows`, which the blend follows too); otherwise
they get the mean z-score of the matched training rows, on the scale of the other models'
standardised scores.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from guidedrec_jax.history import schema
from guidedrec_jax.recommender import baselines
from guidedrec_jax.recommender.preprocess import Preprocess, within_dataset

SIMILARITIES = ("auto", "transfer", "scores", "uniform")
STATE_VERSION = 1
MIN_SHARED_MODELS = 3  # a score correlation needs at least this many shared models


SOURCE_MARGIN = 1.0  # z-score lead of one source's models in the source-head scores
GROUP_COLUMNS = ("architecture", "family")  # the first present groups models by architecture
FIRST_MARGIN = 0.1  # how far above the rest the models to try first are placed
FIRST_SPREAD = 0.01  # their spread there, per unit of their own: ordered, not stretched


def lift_first(score: np.ndarray, first: np.ndarray, datasets: np.ndarray) -> np.ndarray:
  """`score` with each dataset's `first` rows placed just above its other rows, in their own
  order but squeezed (`FIRST_SPREAD`), so that the rest keep their scale: the models the
  training history says to try first."""
  score, datasets = np.array(score, np.float64), np.asarray(datasets)
  for name in np.unique(datasets[first]):
    rows = datasets == name
    lift, rest = rows & first, rows & ~first
    if rest.any():
      score[lift] = (score[rest].max() + FIRST_MARGIN
                     + FIRST_SPREAD * (score[lift] - score[lift].min()))
  return score


def _per_model(train: pd.DataFrame, column: str, models: list[str]) -> tuple[str, ...]:
  """Each model's value of a model column (its first row's; "" where missing)."""
  first = train.drop_duplicates("model")
  lookup = dict(zip(first["model"].astype(str), first[column]))
  return tuple("" if pd.isna(lookup.get(m)) else str(lookup[m]) for m in models)


def source_head_columns(frame: pd.DataFrame) -> list[str]:
  """The `ms_*` columns of scores computed from the source head (LEEP, NCE)."""
  from guidedrec_jax import scores  # pylint: disable=import-outside-toplevel
  return [c for c in schema.score_columns(frame)
          if getattr(scores.SCORES.get(c[len(schema.SCORE_PREFIX):]), "needs_source_probs",
                     False)]


def _source_like(frame: pd.DataFrame, sources: pd.Series) -> np.ndarray:
  """bool [rows]: the models of the one source whose source head fits the row's dataset far
  better than the zoo's others (mean within-dataset z of the source-head scores at least
  `SOURCE_MARGIN` and that far above the next source's): pre-trained on data like it."""
  columns = source_head_columns(frame)
  out = np.zeros(len(frame), bool)
  if not columns:
    return out
  z = _signed_scores(frame[["dataset", *columns]])[columns].mean(axis=1, skipna=True)
  named = sources.fillna("").astype(str).to_numpy()
  for _, index in frame.groupby(frame["dataset"].astype(str)).indices.items():
    keep = index[(named[index] != "") & np.isfinite(z.to_numpy()[index])]
    if not len(keep):
      continue
    by_source = pd.Series(z.to_numpy()[keep]).groupby(named[keep]).mean().sort_values()
    lead = by_source.iloc[-1] - (by_source.iloc[-2] if len(by_source) > 1 else 0.0)
    if by_source.iloc[-1] >= SOURCE_MARGIN and lead >= SOURCE_MARGIN:
      out[index] = named[index] == by_source.index[-1]
  return out


def _matched(frame: pd.DataFrame) -> np.ndarray:
  """bool [rows]: the row's model was pre-trained on the row's dataset (`source_data`), or
  on data like it by its source head (`_source_like`, sources from `source_data`, else
  `pretrain_domain`)."""
  frame = frame.reset_index(drop=True)
  exact = np.zeros(len(frame), bool)
  if "source_data" in frame.columns:
    exact = (frame["source_data"].astype(str).to_numpy()
             == frame["dataset"].astype(str).to_numpy())
  column = "source_data" if "source_data" in frame.columns else "pretrain_domain"
  if column not in frame.columns:
    return exact
  return exact | _source_like(frame, frame[column])


def _signed_scores(frame: pd.DataFrame, signs: tuple = ()) -> pd.DataFrame:
  """The `ms_*` columns of `frame`, signed higher-is-better and z-scored within each dataset."""
  columns = schema.score_columns(frame)
  return Preprocess(score_norm="dataset_z", signs=tuple(signs)).features(
      frame[["dataset", *columns]])[columns]


def _pivot(frame: pd.DataFrame, values: pd.Series, datasets: list[str], models: list[str]
           ) -> np.ndarray:
  table = pd.DataFrame({"d": frame["dataset"].astype(str), "m": frame["model"].astype(str),
                        "v": values.to_numpy(np.float64)})
  return table.pivot_table(index="d", columns="m", values="v", aggfunc="mean", dropna=False
                           ).reindex(index=datasets, columns=models).to_numpy(np.float64)


def _transfer(z: np.ndarray, sources: tuple[str, ...], groups: tuple[str, ...],
              dataset: str) -> np.ndarray:
  """float64 [D]: the `transfer` similarity of `dataset` to each training dataset (module
  docstring); all NaN when no model was pre-trained on `dataset`."""
  cols = [j for j, s in enumerate(sources) if s == dataset]
  if not cols:
    return np.full(z.shape[0], np.nan)
  lifted = z[:, cols].copy()
  named = np.asarray(groups if groups else ("",) * len(sources))
  with np.errstate(all="ignore"):
    for k, j in enumerate(cols):
      same = named == named[j] if named[j] else np.arange(len(sources)) == j
      if same.sum() > 1:  # the architecture's mean on each dataset, this model included
        lifted[:, k] -= np.nanmean(z[:, same], 1)
    counts = np.isfinite(lifted).sum(1)
    return np.where(counts > 0, np.nansum(lifted, 1) / np.maximum(counts, 1), np.nan)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
  ok = np.isfinite(a) & np.isfinite(b)
  if ok.sum() < MIN_SHARED_MODELS or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
    return np.nan
  return float(np.corrcoef(a[ok], b[ok])[0, 1])


@dataclasses.dataclass(frozen=True, eq=False)
class NeighborFitted:
  """A fitted `NeighborMethod`: the training tables and the match rule (module docstring)."""
  datasets: tuple[str, ...]
  models: tuple[str, ...]
  z: np.ndarray                   # float64 [D, M], NaN where a pair was not trained on
  sources: tuple[str, ...]        # each model's source dataset ("" if none)
  score_names: tuple[str, ...]    # the `ms_*` columns of `scores`
  scores: np.ndarray              # float64 [D, M, S], signed, z-scored within each dataset
  tau: float
  similarity: str
  match_value: float | None       # mean z of matched training rows (None: no such rows)
  match_first: bool
  info: dict[str, Any] = dataclasses.field(default_factory=dict)
  kind: str = "neighbors"
  signs: tuple = ()               # declared score directions (preprocess.Preprocess.signs)
  groups: tuple[str, ...] = ()    # each model's architecture ("" if none; () = unknown)
  STATE_TYPE = "neighbors"

  def dataset_similarity(self, dataset: str, rows: pd.DataFrame) -> tuple[np.ndarray, str]:
    """(float64 [D] similarity to each training dataset, the source used) for one dataset."""
    order = ("transfer", "scores") if self.similarity == "auto" else (self.similarity,)
    for source in order:
      sims = np.full(len(self.datasets), np.nan)
      if source == "transfer":
        sims = _transfer(self.z, self.sources, self.groups, dataset)
      elif source == "scores" and self.score_names:
        new = _signed_scores(rows, self.signs)
        index = {m: j for j, m in enumerate(self.models)}
        corr = np.full((len(self.score_names), len(self.datasets)), np.nan)
        for s, column in enumerate(self.score_names):
          if column not in new.columns:
            continue
          profile = np.full(len(self.models), np.nan)
          for model, value in zip(rows["model"].astype(str), new[column].to_numpy(np.float64)):
            if model in index:
              profile[index[model]] = value
          corr[s] = [_correlation(profile, self.scores[d, :, s])
                     for d in range(len(self.datasets))]
        counts = np.isfinite(corr).sum(0)
        sims = np.where(counts > 0, np.nansum(corr, 0) / np.maximum(counts, 1), np.nan)
      if np.isfinite(sims).sum() >= 2:
        return sims, source
    return np.zeros(len(self.datasets)), "uniform"

  def first_rows(self, frame: pd.DataFrame) -> np.ndarray:
    """bool [rows]: rows of models pre-trained on the row's own dataset, when the training
    history says such models come first (`match_first`); all False otherwise."""
    if self.match_value is None or not self.match_first:
      return np.zeros(len(frame), bool)
    return _matched(frame.reset_index(drop=True))

  def closeness(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(float64 [rows], str [rows]): each row's dataset's largest raw similarity to a training
    dataset and the similarity it was read from; NaN and "uniform" when none applies."""
    frame = frame.reset_index(drop=True)
    values, sources = np.full(len(frame), np.nan), np.full(len(frame), "uniform", dtype=object)
    for dataset, rows in frame.groupby(frame["dataset"].astype(str), sort=False):
      sims, source = self.dataset_similarity(dataset, rows)
      if source != "uniform" and np.isfinite(sims).any():
        values[rows.index.to_numpy()] = np.nanmax(sims)
        sources[rows.index.to_numpy()] = source
    return values, sources.astype(str)

  def weights(self, similarity: np.ndarray) -> np.ndarray:
    """float64 [D]: softmax of the standardised similarities over `tau`."""
    finite = np.isfinite(similarity)
    spread = similarity[finite].std() if finite.sum() > 1 else 0.0
    scaled = np.where(finite, (similarity - similarity[finite].mean()) / spread, 0.0) \
        if spread > 0 else np.zeros_like(similarity)
    logits = scaled / self.tau
    w = np.exp(logits - logits.max())
    return w / w.sum()

  def predict(self, frame: pd.DataFrame) -> np.ndarray:
    """Scores the rows of `frame` (any datasets, unseen ones included); float64 [rows]."""
    if not isinstance(frame, pd.DataFrame):
      raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    out = np.zeros(len(frame), np.float64)
    frame = frame.reset_index(drop=True)
    index = {m: j for j, m in enumerate(self.models)}
    matched_all = _matched(frame)
    for dataset, rows in frame.groupby(frame["dataset"].astype(str), sort=False):
      weights = self.weights(self.dataset_similarity(dataset, rows)[0])
      observed = np.isfinite(self.z)
      num = np.nansum(self.z * weights[:, None], 0)
      den = (observed * weights[:, None]).sum(0)
      per_model = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
      cols = rows["model"].astype(str).map(index)
      values = np.array([per_model[int(c)] if pd.notna(c) else np.nan for c in cols])
      # A model without history: the median, neither first nor last for lack of data.
      values = baselines.fill_missing(values)
      matched = matched_all[rows.index.to_numpy()]
      if self.match_value is not None and matched.any():
        others = values[~matched]
        spread = others.std() if others.size > 1 and others.std() > 0 else 1.0
        centre = others.mean() if others.size else 0.0
        values = (values - centre) / spread
        if self.match_first:
          values = lift_first(values, matched, np.full(len(values), dataset))
        else:
          values[matched] = self.match_value
      out[rows.index.to_numpy()] = values
    return out

  def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta): the float64 tables and plain JSON data; see `from_state`."""
    arrays = {"neighbors_z": np.asarray(self.z, np.float64),
              "neighbors_scores": np.asarray(self.scores, np.float64)}
    meta = {"neighbors_state_version": STATE_VERSION, "kind": self.kind,
            "datasets": list(self.datasets), "models": list(self.models),
            "sources": list(self.sources), "score_names": list(self.score_names),
            "tau": self.tau, "similarity": self.similarity, "match_value": self.match_value,
            "match_first": self.match_first, "info": self.info,
            "signs": [[n, float(v)] for n, v in self.signs], "groups": list(self.groups)}
    return arrays, meta

  @classmethod
  def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> "NeighborFitted":
    """Rebuilds `to_state()`'s fit; raises ValueError on a mismatch of any part."""
    if not isinstance(meta, dict) or meta.get("neighbors_state_version") != STATE_VERSION:
      raise ValueError(f"meta must be a NeighborFitted state of version {STATE_VERSION}")
    try:
      fitted = cls(tuple(meta["datasets"]), tuple(meta["models"]),
                   np.asarray(arrays["neighbors_z"], np.float64), tuple(meta["sources"]),
                   tuple(meta["score_names"]), np.asarray(arrays["neighbors_scores"], np.float64),
                   float(meta["tau"]), str(meta["similarity"]), meta["match_value"],
                   bool(meta["match_first"]), dict(meta.get("info") or {}),
                   signs=tuple((str(n), float(v)) for n, v in meta.get("signs", ())),
                   groups=tuple(map(str, meta.get("groups", ()))))
    except KeyError as error:
      raise ValueError(f"a NeighborFitted state lacks {error}") from error
    fitted.check()
    return fitted

  def check(self) -> "NeighborFitted":
    """Raises ValueError unless the tables agree with the names (shapes, values, choices)."""
    shape = (len(self.datasets), len(self.models))
    if self.z.shape != shape or self.scores.shape != shape + (len(self.score_names),):
      raise ValueError(f"z must be {shape} and scores {shape + (len(self.score_names),)}, got "
                       f"{self.z.shape} and {self.scores.shape}")
    if len(self.sources) != len(self.models) or len(self.groups) not in (0, len(self.models)):
      raise ValueError("sources (and groups, if any) must name one per model")
    if not self.tau > 0 or self.similarity not in SIMILARITIES:
      raise ValueError(f"tau must be > 0 and similarity one of {SIMILARITIES}, got "
                       f"{self.tau}, {self.similarity!r}")
    return self


@dataclasses.dataclass
class NeighborMethod:
  """The similarity-weighted model mean (module docstring) as a method of the protocols."""
  name: str
  tau: float = 1.0
  similarity: str = "auto"
  signs: tuple = ()  # declared score directions (preprocess.Preprocess.signs)

  def __post_init__(self):
    if not self.tau > 0:
      raise ValueError(f"method {self.name!r}: tau must be > 0, got {self.tau}")
    if self.similarity not in SIMILARITIES:
      raise ValueError(f"method {self.name!r}: similarity must be one of {SIMILARITIES}, got "
                       f"{self.similarity!r}")

  def fit(self, train: pd.DataFrame) -> NeighborFitted:
    missing = sorted({"dataset", "model", schema.TARGET_COLUMN} - set(train.columns))
    if missing or train.empty:
      raise ValueError(f"method {self.name!r}: train must hold rows with columns dataset, "
                       f"model, {schema.TARGET_COLUMN}; missing {missing}")
    train = train.reset_index(drop=True)
    datasets = sorted(train["dataset"].astype(str).unique())
    models = sorted(train["model"].astype(str).unique())
    z_rows = within_dataset(train[schema.TARGET_COLUMN].astype(float), train["dataset"],
                            "dataset_z")
    z = _pivot(train, z_rows, datasets, models)
    signed = _signed_scores(train, self.signs)
    score_names = tuple(signed.columns)
    scores = np.stack([_pivot(train, signed[c], datasets, models) for c in score_names], -1) \
        if score_names else np.zeros((len(datasets), len(models), 0))
    sources = (_per_model(train, "source_data", models) if "source_data" in train.columns
               else ("",) * len(models))
    column = next((c for c in GROUP_COLUMNS if c in train.columns), None)
    groups = _per_model(train, column, models) if column else ()
    matched = _matched(train)
    match_value, match_first = None, False
    if matched.any():
      match_value = float(np.nanmean(z_rows.to_numpy()[matched]))
      # Was a matched model the best (or tied best) of its dataset, in most such datasets?
      top = z_rows.groupby(train["dataset"]).transform("max").to_numpy()
      is_best = pd.Series(matched & (z_rows.to_numpy() >= top - 1e-9)).groupby(
          train["dataset"].to_numpy()).any()
      with_match = train.loc[matched, "dataset"].unique()
      match_first = bool(is_best[with_match].mean() >= 0.5)
    info = {"name": self.name, "tau": self.tau, "similarity": self.similarity,
            "match_first": match_first}
    return NeighborFitted(tuple(datasets), tuple(models), z, sources, score_names, scores,
                          float(self.tau), self.similarity, match_value, match_first,
                          info, signs=tuple(self.signs), groups=groups).check()

  def fit_predict(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return self.fit(train).predict(test)
