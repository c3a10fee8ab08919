"""The jitted pieces of training: one update, one epoch (`lax.scan` over batches), evaluation.

Everything here is specialised on a `StepSpec` (static: model, loss, optimizer, path, batch
size); learning rate, L2 and the fields' interaction weights (`hyper["interact"]` [F],
see `models.apply_rows`) are traced arguments, so a hyperparameter sweep reuses one
compilation per data shape. `TRACES` counts how often each function is traced, for tests.

Batches are dicts of row arrays: feature_ids int32 [B, F], values float32 [B, F], targets
float32 [B], weights float32 [B] (0 marks padding), groups int32 [B] (dense group index).
"""

from __future__ import annotations

import collections
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from guidedrec_jax.recommender import models, sparse_update

LOSSES = ("squared", "logistic", "pairwise", "listwise")
TRACES: collections.Counter = collections.Counter()


class StepSpec(NamedTuple):
  """The static part of a config: what the jitted functions are specialised on."""
  model: str
  loss: str
  optimizer: str
  row_sparse: bool
  batch_size: int


def _loss_sum(loss: str, scores, targets, weights, groups):
  """Returns (sum of losses, number of terms) of one batch; all inputs [B]."""
  if loss == "squared":
    return jnp.sum(weights * jnp.square(scores - targets)), jnp.sum(weights)
  if loss == "logistic":
    return jnp.sum(weights * (jax.nn.softplus(scores) - targets * scores)), jnp.sum(weights)
  same = weights[:, None] * weights[None, :] * (groups[:, None] == groups[None, :])  # [B, B]
  if loss == "listwise":
    # ListNet: cross-entropy between the softmax of the targets and of the scores over the
    # rows of each group in the batch; one term per group (the target weights sum to 1).
    def group_log_softmax(x):
      # Row i: the rows of i's group; the diagonal keeps padding rows finite (no NaN grads).
      member = (same > 0) | jnp.eye(x.shape[0], dtype=bool)
      masked = jnp.where(member, x[None, :], -jnp.inf)
      return x - jax.scipy.special.logsumexp(masked, axis=1)
    live = weights > 0
    log_p = jnp.where(live, group_log_softmax(targets), -jnp.inf)
    log_q = jnp.where(live, group_log_softmax(scores), 0.0)
    p = jnp.exp(log_p)
    return -jnp.sum(p * log_q), jnp.sum(p)
  pair = same * (targets[:, None] > targets[None, :])              # [B, B], i ranked above j
  margins = scores[:, None] - scores[None, :]
  return jnp.sum(pair * jax.nn.softplus(-margins)), jnp.sum(pair)


def init_state(spec: StepSpec, params: models.Params):
  """Returns the optimizer state of `params` for the path and optimizer of `spec`."""
  if spec.row_sparse:
    return sparse_update.init_state(spec.optimizer, params)
  return sparse_update.transform(spec.optimizer).init(params)


def _step(spec: StepSpec, params: models.Params, state, batch, hyper):
  """One update on `batch` (dict of [B, ...] arrays); returns (params, state, (sum, count))."""
  model = models.get(spec.model)

  def loss_of_rows(bias, rows):
    scores = model.apply_rows(bias, rows, batch["values"], hyper["interact"])
    total, count = _loss_sum(spec.loss, scores, batch["targets"], batch["weights"],
                             batch["groups"])
    return total / jnp.maximum(count, 1.0), (total, count)

  if spec.row_sparse:
    return sparse_update.sparse_step(spec.optimizer, params, state, batch["feature_ids"],
                                     loss_of_rows, hyper["learning_rate"], hyper["l2"])

  def loss_of_params(p: models.Params):
    mean, aux = loss_of_rows(p.bias, models.gather_rows(p, batch["feature_ids"]))
    penalty = sum(jnp.sum(jnp.square(table)) for table in p.tables.values())
    return mean + 0.5 * hyper["l2"] * penalty, aux

  grads, aux = jax.grad(loss_of_params, has_aux=True)(params)
  updates, state = sparse_update.transform(spec.optimizer).update(grads, state, params)
  params = jax.tree.map(lambda p, u: p - hyper["learning_rate"] * u, params, updates)
  return params, state, aux


@functools.partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def train_epoch(spec: StepSpec, params: models.Params, state, data, hyper, order):
  """One pass over the batches `order` [num_batches, B]; returns (params, state, loss).

  `params` and `state` are donated: the epoch updates the tables in place instead of
  copying them (callers keep the returned ones; `fit` copies the best epoch's to the host).
  """
  TRACES["train_epoch"] += 1

  def body(carry, rows):
    params, state = carry
    batch = {name: value[rows] for name, value in data.items()}
    params, state, (total, count) = _step(spec, params, state, batch, hyper)
    return (params, state), (total, count)

  (params, state), (totals, counts) = jax.lax.scan(body, (params, state), order)
  return params, state, jnp.sum(totals) / jnp.maximum(jnp.sum(counts), 1.0)


@functools.partial(jax.jit, static_argnums=0)
def eval_loss(spec: StepSpec, params, data, interact):
  """Mean loss over `data` in stored order (groups contiguous), batch by batch."""
  TRACES["eval_loss"] += 1

  def body(_, batch):
    scores = models.apply(spec.model, params, batch["feature_ids"], batch["values"], interact)
    return None, _loss_sum(spec.loss, scores, batch["targets"], batch["weights"], batch["groups"])

  batches = jax.tree.map(lambda a: a.reshape(-1, spec.batch_size, *a.shape[1:]), data)
  _, (totals, counts) = jax.lax.scan(body, None, batches)
  return jnp.sum(totals) / jnp.maximum(jnp.sum(counts), 1.0)


@functools.partial(jax.jit, static_argnums=0)
def apply(model: str, params: models.Params, feature_ids, values, interact):
  """Jitted `models.apply`: float32 [B] scores of feature_ids int32 [B, F], values [B, F],
  interaction weights `interact` float32 [F]."""
  TRACES["predict"] += 1
  return models.apply(model, params, feature_ids, values, interact)
