#!/usr/bin/env bash
# The fine-tuning / extraction benchmark's GPU run (configs/bench_finetune.py, targets checked)
# in one command, for a bare GPU machine that has torch, timm and absl but neither
# ml_collections nor a package index: ml_collections' wheel travels in `.whl`, made once on a
# machine with an index:
#
#   .venv/bin/python -m pip download --no-deps --only-binary=:all: -d .whl ml_collections==1.1.0
#
# (`.whl/` kept out of git, e.g. in .git/info/exclude). Then, on the GPU machine, in the
# repository root: `bash scripts/bench_finetune_gpu.sh`. It writes under $OUT (default
# workdir/bench_finetune_gpu) eight files: bench.log (the GPU, the versions, the rates and one
# `target ... met|MISSED` line each) and bench/ (bench.csv|md, targets.csv|md, throughput.csv,
# metrics.jsonl with the run record, config.json). The measured rows of bench/throughput.csv
# go into guidedrec_jax/cost/throughput.csv, replacing its estimates.
#
# PYTHON picks the interpreter (default python3), CONFIG_ARG a config variant (":smoke" runs
# it on a CPU in seconds), BENCH_TIMEOUT_S bounds the benchmark; further arguments go to
# scripts/bench_finetune.py.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=${OUT:-workdir/bench_finetune_gpu}
if compgen -G ".whl/*.whl" > /dev/null; then
  site=$(mktemp -d)
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$out"
{
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
  "$python" -c 'import sys, torch, timm; print("python", sys.version.split()[0], "torch", torch.__version__, "timm", timm.__version__, "cuda", torch.cuda.is_available())'
  timeout "${BENCH_TIMEOUT_S:-330}" "$python" scripts/bench_finetune.py \
      --config="configs/bench_finetune.py${CONFIG_ARG:-}" --workdir="$out/bench" "$@"
} 2>&1 | tee "$out/bench.log"
