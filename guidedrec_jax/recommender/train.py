"""Training LR / FM / FFM on `EncodedPairs`: one jitted epoch, early stopping, save and load.

An epoch is a single jitted call (`steps.train_epoch`): the rows live on the device, padded
once to a multiple of `batch_size` (padding rows carry weight 0 and the sentinel feature id
n); each epoch the host draws a shuffled batch order and the epoch runs `lax.scan` over it.
Its shapes depend only on the data size, so it traces once per fit, never across epochs.

Targets are standardised for the squared loss, so learning rates do not depend on the target
scale; `fit` folds mean and std back into the parameters (`models.scale_to_units`), so
`predict` and `models.apply` return target units. For the logistic loss scores are logits;
for the pairwise and listwise losses they are ranking scores, comparable within a group only.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from guidedrec_jax import io
from guidedrec_jax.recommender import models, sparse_update, steps
from guidedrec_jax.recommender.pairs import EncodedPairs

PREDICT_CHUNK = 4096


class TrainConfig(NamedTuple):
  """How to fit a model.

  Attributes:
    model: "lr", "fm" or "ffm".
    rank: latent dimension k of FM/FFM.
    optimizer: "sgd", "adagrad" or "adam".
    learning_rate: step size (targets are standardised for the squared loss).
    l2: L2 penalty on w and v (not the bias); 0.5·l2·‖θ‖² per step, on touched rows only
      when `row_sparse`.
    epochs: maximum number of passes over the training rows.
    batch_size: rows per step.
    loss: "squared"; "logistic" (targets in {0, 1}); "pairwise" (RankNet: softplus of the
      negated score margin, over pairs of rows of one group within a batch whose targets
      differ; batches keep the rows of a group together); "listwise" (ListNet: cross-entropy
      between the softmax over a group's rows in the batch of the targets and of the scores;
      use within-group targets such as `dataset_z`, since the softmax has temperature 1).
    patience: stop after this many epochs without a better validation loss; 0 trains all
      `epochs` and, without `val`, carves no holdout (the last epoch is returned; with `val`
      the best one still is).
    holdout_fraction: share of the training rows held out for early stopping if `val` is None.
    seed: seeds initialisation, holdout and shuffling.
    row_sparse: update only the rows a batch touches (see `sparse_update`); else dense optax.
    init_scale: standard deviation of the initial latent vectors.
  """
  model: str = "fm"
  rank: int = 8
  optimizer: str = "adam"
  learning_rate: float = 0.01
  l2: float = 0.0
  epochs: int = 20
  batch_size: int = 256
  loss: str = "squared"
  patience: int = 3
  holdout_fraction: float = 0.1
  seed: int = 0
  row_sparse: bool = True
  init_scale: float = 0.1


class FitResult(NamedTuple):
  """What `fit` returns.

  Attributes:
    params: numpy float32 parameters of the best epoch, in target units (see module doc).
    history: one dict per epoch: epoch (1-based), train_loss, val_loss (None without
      validation), seconds and cpu_seconds (wall and process CPU time of the training pass;
      the first epoch's include compilation).
    best_epoch: the epoch `params` come from.
    target_mean, target_std: the standardisation used in training (0 and 1 unless squared).
  """
  params: dict[str, np.ndarray]
  history: list[dict[str, Any]]
  best_epoch: int
  target_mean: float
  target_std: float


def check_config(config: TrainConfig) -> TrainConfig:
  """Returns `config` or raises `ValueError` naming the first bad key."""
  models.check_model(config.model)
  choices = {"optimizer": sparse_update.OPTIMIZERS, "loss": steps.LOSSES}
  for key, allowed in choices.items():
    if getattr(config, key) not in allowed:
      raise ValueError(f"{key} must be one of {allowed}, got {getattr(config, key)!r}")
  positive = ("rank", "learning_rate", "epochs", "batch_size", "init_scale")
  for key in positive:
    value = getattr(config, key)
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
      raise ValueError(f"{key} must be a positive number, got {value!r}")
  for key in ("l2", "patience"):
    value = getattr(config, key)
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
      raise ValueError(f"{key} must be >= 0, got {value!r}")
  if not 0 < config.holdout_fraction < 1:
    raise ValueError(f"holdout_fraction must lie in (0, 1), got {config.holdout_fraction!r}")
  return config


def _batch_order(rng: np.random.Generator, num_rows: int, padded_rows: int, batch_size: int,
                 groups: np.ndarray | None = None) -> np.ndarray:
  """Row indices int32 [num_batches, B]: shuffled, padding last, groups kept contiguous.

  Drawn on the host: a NumPy permutation costs ~1 ms for 100k rows, the same shuffle as a
  device sort ~30 ms, more than the rest of an FM epoch.

  Args:
    rng: the fit's generator, advanced once per epoch.
    num_rows: real rows, stored first; rows num_rows..padded_rows-1 are padding.
    padded_rows: a multiple of `batch_size`.
    batch_size: B.
    groups: dense group index [num_rows] (pairwise loss: groups in random order, rows
      shuffled within), or None to shuffle freely.
  """
  if groups is None:
    order = rng.permutation(num_rows)
  else:
    order = np.lexsort((rng.random(num_rows), rng.random(groups.max() + 1)[groups]))
  order = np.concatenate([order, np.arange(num_rows, padded_rows)])
  return order.astype(np.int32).reshape(-1, batch_size)


def _device_data(pairs: EncodedPairs, mean: float, std: float, batch_size: int):
  """Pads rows to a multiple of `batch_size` (weight 0, feature id n); groups made dense."""
  order = np.argsort(pairs.groups, kind="stable")  # contiguous groups for pairwise eval
  rows = len(order)
  padded = -(-rows // batch_size) * batch_size
  def pad(array, fill):
    out = np.full((padded,) + array.shape[1:], fill, array.dtype)
    out[:rows] = array[order]
    return jnp.asarray(out)
  _, dense_groups = np.unique(pairs.groups, return_inverse=True)
  return {
      "feature_ids": pad(pairs.feature_ids.astype(np.int32), pairs.num_features),
      "values": pad(pairs.values.astype(np.float32), 0.0),
      "targets": pad(((pairs.targets - mean) / std).astype(np.float32), 0.0),
      "weights": pad(np.ones(rows, np.float32), 0.0),
      "groups": pad(dense_groups.reshape(-1).astype(np.int32), 0),
  }


def _check_pairs(pairs: EncodedPairs, name: str, like: EncodedPairs | None = None) -> None:
  try:
    pairs.validate()
  except ValueError as e:
    raise ValueError(f"{name}: {e}") from e
  if len(pairs.targets) == 0:
    raise ValueError(f"{name} has no rows")
  if like is not None and (pairs.num_features, pairs.field_names) != (like.num_features,
                                                                     like.field_names):
    raise ValueError(f"{name} must share num_features and field_names with train")


def _prepare(train: EncodedPairs, config: TrainConfig, val: EncodedPairs | None,
             rng: np.random.Generator) -> tuple[EncodedPairs, EncodedPairs | None, float, float]:
  """Checks the inputs, carves the holdout; returns (train, val, target mean, target std)."""
  check_config(config)
  _check_pairs(train, "train")
  if val is not None:
    _check_pairs(val, "val", like=train)
  if config.loss == "logistic" and not np.all(np.isin(train.targets, (0.0, 1.0))):
    raise ValueError("loss='logistic' needs train targets in {0, 1}")
  if val is None and config.patience > 0:
    if len(train.targets) < 2:
      raise ValueError("train needs at least 2 rows to carve a holdout (or set patience=0)")
    perm = rng.permutation(len(train.targets))
    held = max(1, round(config.holdout_fraction * len(perm)))
    train, val = train.take(np.sort(perm[held:])), train.take(np.sort(perm[:held]))
  if config.loss != "squared":
    return train, val, 0.0, 1.0
  std = float(np.std(train.targets))
  return train, val, float(np.mean(train.targets)), std if std > 0 else 1.0


def fit(train: EncodedPairs, config: TrainConfig, val: EncodedPairs | None = None,
        interact: np.ndarray | None = None) -> FitResult:
  """Fits `config.model` to `train`, early-stopping on `val` (or a seeded holdout).

  Args:
    train: the training rows.
    config: see `TrainConfig`.
    val: rows for early stopping, with train's features; None carves `holdout_fraction` of
      `train` when `patience` > 0.
    interact: float [F] interaction weight per field (`models.apply_rows`); None: all 1.
      `FeatureEncoder.interaction_weights()` gives the encoder's; pass the same to `predict`.

  Returns:
    A `FitResult`; deterministic given `config.seed`.

  Raises:
    ValueError: a bad config key, or `train`/`val` breaking the `EncodedPairs` contract.
    FloatingPointError: the training loss became NaN or infinite.
  """
  rng = np.random.default_rng(config.seed)
  train, val, mean, std = _prepare(train, config, val, rng)
  spec = steps.StepSpec(config.model, config.loss, config.optimizer, bool(config.row_sparse),
                        int(config.batch_size))
  data = _device_data(train, mean, std, spec.batch_size)
  val_data = None if val is None else _device_data(val, mean, std, spec.batch_size)
  num_rows, padded_rows = len(train.targets), data["weights"].shape[0]
  groups = (np.asarray(data["groups"])[:num_rows] if config.loss in ("pairwise", "listwise")
            else None)
  interact = _interact(interact, train.num_fields)
  hyper = {"learning_rate": jnp.float32(config.learning_rate), "l2": jnp.float32(config.l2),
           "interact": interact}
  params = models.init_params(config.model, train.num_features, train.num_fields, config.rank,
                              jax.random.key(config.seed), config.init_scale)
  state = steps.init_state(spec, params)
  best = (math.inf, 0, jax.device_get(params))  # (val loss, epoch, host copy of params)
  history = []
  for epoch in range(1, config.epochs + 1):
    order = _batch_order(rng, num_rows, padded_rows, spec.batch_size, groups)
    start, start_cpu = time.perf_counter(), time.process_time()
    params, state, train_loss = steps.train_epoch(spec, params, state, data, hyper, order)
    train_loss = float(train_loss)  # waits for the epoch, so `seconds` times training only
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    val_loss = None if val_data is None else float(steps.eval_loss(spec, params, val_data,
                                                                         interact))
    history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                    "seconds": seconds, "cpu_seconds": cpu_seconds})
    if not math.isfinite(train_loss):
      raise FloatingPointError(f"training diverged at epoch {epoch}; lower learning_rate")
    if val_loss is None or val_loss < best[0]:
      # A host copy: the next epoch donates (overwrites) the device buffers.
      best = (math.inf if val_loss is None else val_loss, epoch, jax.device_get(params))
    elif config.patience and epoch - best[1] >= config.patience:
      break
  in_units = models.scale_to_units(config.model, best[2], mean, std)
  params = {name: np.asarray(value, np.float32) for name, value in models.to_dict(in_units).items()}
  return FitResult(params, history, best[1], mean, std)


def _interact(interact: np.ndarray | None, num_fields: int) -> jax.Array:
  """float32 [F] interaction weights (all ones for None), checked."""
  if interact is None:
    return jnp.ones((num_fields,), jnp.float32)
  interact = np.asarray(interact, np.float32)
  if interact.shape != (num_fields,) or not np.all(np.isfinite(interact)):
    raise ValueError(f"interact must be finite with shape ({num_fields},) (one weight per "
                     f"field), got shape {interact.shape}")
  return jnp.asarray(interact)


def predict(model: str, params, pairs: EncodedPairs,
            interact: np.ndarray | None = None) -> np.ndarray:
  """Scores rows in chunks of `PREDICT_CHUNK` (bounded memory: FFM gathers [B, F, F, k]).

  Args:
    model: "lr", "fm" or "ffm".
    params: from `fit` or `load_params`.
    pairs: rows encoded like the training rows.
    interact: the fit's interaction weights per field ([F]; None: all 1).

  Returns:
    float32 [R]: target units for squared-loss fits, logits for logistic, ranking scores for
    pairwise.

  Raises:
    ValueError: unknown model, or `pairs` whose feature ids or fields do not fit `params`.
  """
  models.check_model(model)
  num_features = np.shape(params["w"])[0] if "w" in params else 0
  if pairs.feature_ids.size and not (0 <= pairs.feature_ids.min()
                                     and pairs.feature_ids.max() < num_features):
    raise ValueError(f"pairs.feature_ids must lie in 0..{num_features - 1} (the params' features)")
  params = models.from_dict(model, params, pairs.num_fields)  # checks tables and shapes
  rows = len(pairs.targets)
  if rows == 0:
    return np.zeros((0,), np.float32)
  chunk = min(PREDICT_CHUNK, rows)
  padded = -(-rows // chunk) * chunk
  ids = np.zeros((padded, pairs.num_fields), np.int32)  # padding rows: id 0, value 0
  values = np.zeros((padded, pairs.num_fields), np.float32)
  ids[:rows], values[:rows] = pairs.feature_ids, pairs.values
  interact = _interact(interact, pairs.num_fields)
  out = [steps.apply(model, params, ids[i:i + chunk], values[i:i + chunk], interact)
         for i in range(0, padded, chunk)]
  return np.asarray(jnp.concatenate(out))[:rows]


def save_params(path, params, meta: dict[str, Any]) -> None:
  """Saves `params` to `path` (.npz, no pickle) with `meta` (e.g. the config) in its sidecar."""
  io.save_arrays(path, {name: np.asarray(value) for name, value in params.items()}, meta)


def load_params(path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """Returns (params, meta) written by `save_params`."""
  return io.load_arrays(path)
