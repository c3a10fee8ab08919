"""NLEEP (Li et al., CVPR 2021, "Ranking Neural Checkpoints"): LEEP with a Gaussian mixture as
the source head.

As the reference implementations (google-research `stable_transfer`, TencentARC/SFDA):
features → PCA keeping 80 % of the variance (sklearn `PCA(0.8)`) → `GaussianMixture` with
5·K components and sklearn's default **full** covariance (`covariance="diag"` is offered too,
as `nleep_diag`) → LEEP (`leep.leep_core`, mean log-likelihood) with the component posteriors
p(z | x) in place of the source softmax.

Determinism: the references start EM from sklearn's k-means with a random seed, which no
port can reproduce; we start from a seeded, host-drawn initialisation (`prepare_nleep`):
means at M = 5·K distinct samples drawn by `RandomState(seed)`, equal weights, and every
component's covariance the data covariance. From that start the EM is sklearn's exactly
(M-step with `reg_covar` 1e-6 and the 10·eps count floor, Cholesky precisions, mean
log-likelihood change < 1e-3 or 100 iterations), so `GaussianMixture(means_init=...,
weights_init=..., precisions_init=...)` gives the same posteriors (tested).

Static shapes: the 80 % cut k depends on the data, so the PCA keeps a static `max_dims`
(default 64) and zeroes the components past k. A zeroed axis has mean 0 and variance
`reg_covar` in every component, so it adds the same constant to every component's
log-density and leaves the posteriors unchanged: exact while k ≤ max_dims, and the first
max_dims components otherwise.

Cost: each EM iteration is O(N·M·d²) for full covariances (O(N·M·d) diagonal), up to 100
iterations; at N=2000, K=100 (M=500), d=64 that is ~4 GFLOP per iteration, as in sklearn. It
is therefore not in `configs/score_zoo.py`'s default list; ask for "nleep" or "nleep_diag".
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from guidedrec_jax.scores import checked, leep, registry

VARIANCE_KEPT = 0.8
COMPONENTS_PER_CLASS = 5
MAX_DIMS = 64
SEED = 0
MAX_ITER = 100
TOL = 1e-3
REG_COVAR = 1e-6
COVARIANCES = ("full", "diag")
_COMPONENT_BATCH = 16  # components per step of the full-covariance E-step (memory M·N·d)


def prepare_nleep(num_samples: int, dim: int, num_classes: int, seed: int = SEED
                  ) -> dict[str, np.ndarray]:
  """Host-side start: {"init_index": int32 [5·K]} distinct sample indices of the means.

  Raises:
    ValueError: N < 5·K (a mixture needs at least one sample per component).
  """
  del dim
  components = COMPONENTS_PER_CLASS * num_classes
  if num_samples < components:
    raise ValueError(f"NLEEP fits {components} mixture components (5·K) and needs at least as "
                     f"many samples, got N={num_samples}")
  index = np.random.RandomState(seed).choice(num_samples, components, replace=False)
  return {"init_index": index.astype(np.int32)}


def reduce_features(features: jax.Array, max_dims: int) -> jax.Array:
  """PCA scores [N, min(max_dims, N, D)] with the components past sklearn's `PCA(0.8)` cut
  zeroed (the exact eigendecomposition of the smaller Gram matrix; signs do not matter)."""
  num_samples, dim = features.shape
  centred = features - jnp.mean(features, axis=0)
  small = centred @ centred.T if num_samples <= dim else centred.T @ centred
  eigenvalues, vectors = jnp.linalg.eigh(small)  # ascending
  eigenvalues, vectors = jnp.maximum(eigenvalues[::-1], 0.0), vectors[:, ::-1]
  keep = min(max_dims, num_samples, dim)
  if num_samples <= dim:
    scores = vectors[:, :keep] * jnp.sqrt(eigenvalues[:keep])
  else:
    scores = centred @ vectors[:, :keep]
  ratio = jnp.cumsum(eigenvalues) / jnp.sum(eigenvalues)
  # sklearn: k = searchsorted(cumulative ratio, 0.8, side="right") + 1.
  cut = jnp.searchsorted(ratio, VARIANCE_KEPT, side="right") + 1
  return jnp.where(jnp.arange(keep) < cut, scores, 0.0)


def _precision_cholesky(covariances: jax.Array, covariance: str) -> jax.Array:
  """sklearn's `_compute_precision_cholesky`: [M, d, d] (full) or [M, d] (diag)."""
  if covariance == "diag":
    return 1.0 / jnp.sqrt(covariances)
  chol = jnp.linalg.cholesky(covariances)
  eye = jnp.eye(covariances.shape[-1], dtype=covariances.dtype)
  return jnp.swapaxes(jax.vmap(lambda c: jsl.solve_triangular(c, eye, lower=True))(chol), 1, 2)


def _log_gaussian(x: jax.Array, means: jax.Array, prec_chol: jax.Array, covariance: str
                  ) -> jax.Array:
  """log N(x_i | μ_m, Σ_m) [N, M] from the Cholesky factors of the precisions."""
  dim = x.shape[1]
  if covariance == "diag":
    log_det = jnp.sum(jnp.log(prec_chol), axis=1)  # [M]
    precisions = prec_chol ** 2
    sq = (jnp.sum(means ** 2 * precisions, axis=1) - 2.0 * x @ (means * precisions).T
          + (x ** 2) @ precisions.T)
  else:
    log_det = jnp.sum(jnp.log(jnp.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)
    sq = jax.lax.map(lambda mp: jnp.sum(((x - mp[0]) @ mp[1]) ** 2, axis=1),
                     (means, prec_chol), batch_size=_COMPONENT_BATCH).T  # [N, M]
  return -0.5 * (dim * jnp.log(2 * jnp.pi) + sq) + log_det


def _m_step(x: jax.Array, resp: jax.Array, covariance: str):
  """sklearn's `_estimate_gaussian_parameters` + weights: (weights, means, covariances)."""
  counts = resp.sum(axis=0) + 10 * jnp.finfo(resp.dtype).eps  # [M]
  means = resp.T @ x / counts[:, None]  # [M, d]
  if covariance == "diag":
    covariances = resp.T @ (x * x) / counts[:, None] - means ** 2 + REG_COVAR
  else:
    def one(mean_resp_count):
      mean, r, count = mean_resp_count
      diff = x - mean
      return (r[:, None] * diff).T @ diff / count
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    covariances = jax.lax.map(one, (means, resp.T, counts),
                              batch_size=_COMPONENT_BATCH) + REG_COVAR * eye
  return counts / x.shape[0], means, covariances


def _e_step(x, weights, means, prec_chol, covariance):
  """(mean log-likelihood, log responsibilities [N, M])."""
  weighted = _log_gaussian(x, means, prec_chol, covariance) + jnp.log(weights)
  norm = jax.nn.logsumexp(weighted, axis=1)
  return jnp.mean(norm), weighted - norm[:, None]


def initial_parameters(x: jax.Array, init_index: jax.Array, covariance: str):
  """The seeded start: (weights [M], means [M, d], covariances) as in the module docstring."""
  components = init_index.shape[0]
  centred = x - jnp.mean(x, axis=0)
  if covariance == "diag":
    base = jnp.mean(centred ** 2, axis=0) + REG_COVAR  # [d]
  else:
    base = centred.T @ centred / x.shape[0] + REG_COVAR * jnp.eye(x.shape[1], dtype=x.dtype)
  weights = jnp.full((components,), 1.0 / components, x.dtype)
  return weights, x[init_index], jnp.broadcast_to(base, (components,) + base.shape)


def fit_mixture(x: jax.Array, init_index: jax.Array, covariance: str = "full"):
  """sklearn's `GaussianMixture.fit` EM from `initial_parameters`, in a `lax.while_loop`.

  Returns:
    (posteriors p(z | x) [N, M], iterations run).
  """
  weights, means, covariances = initial_parameters(x, init_index, covariance)
  state = (weights, means, _precision_cholesky(covariances, covariance),
           jnp.asarray(-jnp.inf, x.dtype), jnp.asarray(jnp.inf, x.dtype), jnp.asarray(0))

  def not_done(state):
    *_, change, iteration = state
    return (jnp.abs(change) >= TOL) & (iteration < MAX_ITER)

  def step(state):
    weights, means, prec_chol, lower_bound, _, iteration = state
    new_bound, log_resp = _e_step(x, weights, means, prec_chol, covariance)
    weights, means, covariances = _m_step(x, jnp.exp(log_resp), covariance)
    return (weights, means, _precision_cholesky(covariances, covariance), new_bound,
            new_bound - lower_bound, iteration + 1)

  weights, means, prec_chol, *_, iterations = jax.lax.while_loop(not_done, step, state)
  _, log_resp = _e_step(x, weights, means, prec_chol, covariance)
  return jnp.exp(log_resp), iterations


def nleep_core(features: jax.Array, labels: jax.Array, num_classes: int,
               source_probs: jax.Array | None = None, *, init_index: jax.Array,
               covariance: str = "full", max_dims: int = MAX_DIMS) -> jax.Array:
  """NLEEP of one model, pure `jnp`, no validation.

  Args:
    features: [N, D] float.
    labels: [N] int32 in 0..K-1.
    num_classes: K (static).
    source_probs: unused.
    init_index: int32 [5·K] from `prepare_nleep`.
    covariance: "full" (the references' sklearn default) or "diag" (static).
    max_dims: static cap on the PCA dimension (see the module docstring).

  Returns:
    scalar NLEEP ≤ 0; higher is better.
  """
  del source_probs
  x = reduce_features(features, max_dims)
  posteriors, _ = fit_mixture(x, init_index, covariance)
  return leep.leep_core(None, labels, num_classes, posteriors)


_STATIC = ("covariance", "max_dims")
NLEEP = registry.register(registry.ScoreSpec(name="nleep", core=nleep_core,
                                             prepare=prepare_nleep, static_argnames=_STATIC))
NLEEP_DIAG = registry.register(registry.ScoreSpec(
    name="nleep_diag", core=functools.partial(nleep_core, covariance="diag"),
    prepare=prepare_nleep))


def nleep(features, labels, covariance: str = "full", max_dims: int = MAX_DIMS) -> float:
  """Checked NLEEP (float64).

  Args:
    features: [N, D] float array.
    labels: [N] integers in 0..K-1 with every class present; N ≥ 5·K.
    covariance: "full" (default, as the references) or "diag".
    max_dims: cap on the PCA dimension kept by the 80 % rule (≥ 1).

  Returns:
    Python float ≤ 0; higher is better.

  Raises:
    ValueError: bad features, labels or options (the message names the argument), N < 5·K.
  """
  if covariance not in COVARIANCES:
    raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
  if not (isinstance(max_dims, int) and max_dims >= 1):
    raise ValueError(f"max_dims must be a positive int, got {max_dims!r}")
  return checked.score(NLEEP, features, labels, covariance=covariance, max_dims=max_dims)
