"""Scores a zoo of cached feature files on one probe set (the project's main scoring job).

Default (offline, seeded): writes a synthetic zoo of 8 models with D in {192, 384, 768, 1024,
2048}, N=1000, K=50 into `<workdir>/cache`, then scores it with every score family:

  .venv/bin/python scripts/score_zoo.py --config=configs/score_zoo.py --workdir=workdir/score_zoo

Expected: `scores.csv` (dataset, model, score, value; 8 models × 11 scores = 88 rows) and
`scores_wide.md`. The planted class signal grows with the model index, and LEEP, NCE, LFC,
PARC, GBC and NCTI rank synthetic_07_d768 first. LogME as released ranks synthetic_04_d2048
first (with N=1000 < D=2048 its fixed-point evidence is inflated, see
shared/fixtures/ms/README.md), and H-score saturates at K−1 = 49 when N ≤ D.

Compilation dominates a fresh CPU process, so the persistent compilation cache is on by
default (`compilation_cache`, see guidedrec_jax/compilation_cache.py) and pad-invariant scores
share D buckets (`pad_dims`: grid 2^k, 1.5·2^k, never across N; this zoo's D are all on the
grid). A warm cache makes a fresh process several times faster than a cold one, with an
identical scores.csv.

Variants (comma-separated after the file name, see configs/common.py:parse_arg):
  smoke                 4 small models (D 64/96, N=240, K=6), 3 scores; a few seconds.
  synthetic=false,cache_dir=PATH,dataset=NAME   score real cached features instead.
"""

import ml_collections

from configs import common

ALL_SCORES = ("logme", "lfc", "parc", "hscore", "transrate", "gbc", "leep", "nce", "sfda",
              "ncti", "etran")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, smoke=False, synthetic=True, cache_dir="", dataset="synthetic",
                         seed=0)
  config = ml_collections.ConfigDict()
  config.seed = arg.seed
  config.dataset = arg.dataset
  config.cache_dir = arg.cache_dir  # "" -> <workdir>/cache
  config.scores = ALL_SCORES
  config.normalization = "none"  # "none" | "standardize" | "l2"
  # "buckets" | "max" | "none": zero-pad pad-invariant scores to share compilations across D.
  config.pad_dims = "buckets"
  # JAX persistent compilation cache: "default" ($GUIDEDREC_CACHE or ~/.cache/guidedrec_jax
  # /jax_compilation), "off", or a folder.
  config.compilation_cache = "default"
  config.shard = "auto"  # "auto" | "on" | "off": shard the model axis over devices
  # Working-set budget (bytes) of one scored chunk of a group; 0 = 1/8 of this machine's memory.
  config.max_bytes = 0
  config.synthetic = ml_collections.ConfigDict(dict(
      enabled=arg.synthetic, num_models=8, dims=(192, 384, 768, 1024, 2048),
      num_samples=1000, num_classes=50, source_classes=100))
  if arg.smoke:
    config.scores = ("logme", "leep", "etran")
    config.synthetic.update(dict(num_models=4, dims=(64, 96), num_samples=240,
                                 num_classes=6, source_classes=10))
  return config
