#!/usr/bin/env bash
# Trains the zoo on real data (MNIST, Fashion-MNIST) one model after another, at the lowest priority and
# on one thread, each resumable: a run folder with checkpoints is resumed, a finished one skipped.
#
#   vaestudio data get mnist && vaestudio data get fashion-mnist    # once
#   bash scripts/train_real_zoo.sh mnist-vae-2d mnist-cvae           # or no names: all of them
#
# Runs go to runs/zoo/NAME, logs to runs/zoo/NAME.log; ship with scripts/ship_zoo.py (see docs/data.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${RUNS:-runs/zoo}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$RUNS"
NAMES=${*:-mnist-vae-2d mnist-cvae fashion-vae mnist-vae mnist-iwae}
for name in $NAMES; do
  out="$RUNS/$name" resume=()
  if [ -f "$out/model.safetensors" ] && [ -f "$out/metrics.json" ]; then echo "== $name: done"; continue; fi
  if [ -d "$out/checkpoints" ]; then resume=(--resume); fi
  echo "== $name: vaestudio train recipes/$name.toml --out $out ${resume[*]}"
  nice -n 19 "$PYTHON" -m vaestudio.cli train "recipes/$name.toml" --out "$out" --quiet "${resume[@]}" > "$out.log" 2>&1
done
