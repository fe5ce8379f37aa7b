#!/usr/bin/env bash
# Keeps a copy of the weights of every checkpoint a run writes (the trainer keeps only the latest), so a
# learning curve can be measured afterwards (scripts/nll_curve.py). Stops when the run has its final model.
#
#   bash scripts/snapshot_checkpoints.sh runs/zoo/mnist-vae runs/zoo/mnist-vae-curve &
set -euo pipefail
RUN=$1 SNAPSHOTS=$2 INTERVAL=${INTERVAL:-20}
mkdir -p "$SNAPSHOTS"
while true; do
  if [ -f "$RUN/checkpoints/latest" ]; then
    name=$(cat "$RUN/checkpoints/latest")
    if [ ! -d "$SNAPSHOTS/$name" ] && [ -f "$RUN/checkpoints/$name/model.safetensors" ]; then
      mkdir -p "$SNAPSHOTS/.$name" && cp "$RUN/checkpoints/$name/config.json" "$RUN/checkpoints/$name/model.safetensors" \
        "$RUN/checkpoints/$name/trainer_state.json" "$SNAPSHOTS/.$name/" 2>/dev/null \
        && mv "$SNAPSHOTS/.$name" "$SNAPSHOTS/$name" || rm -rf "$SNAPSHOTS/.$name"
    fi
  fi
  [ -f "$RUN/model.safetensors" ] && [ -f "$RUN/metrics.json" ] && exit 0
  sleep "$INTERVAL"
done
