#!/usr/bin/env bash
# Trains every shipped model with its recipe, in order, then ships them into pretrained/.
#
#   bash scripts/train_zoo.sh            # everything (about 2 hours on a shared 2-core CPU)
#   ONLY="digits digits-cvae" bash scripts/train_zoo.sh
#
# Runs go to runs/zoo/NAME (resumed from their last checkpoint when the folder holds one);
# logs to runs/zoo/NAME.log. One torch thread per run: on a small shared CPU that is the
# fastest setting. The shapes faithfulness report goes into the shapes bundle's card.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${RUNS:-runs/zoo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
mkdir -p "$RUNS"

# the Learn tab's small digits VAEs (docs/lessons.md): a beta sweep, an autoencoder, latent sizes, free bits
LESSON_MODELS="digits-vae-z10 digits-ae-z10 digits-vae-z10-b0.5 digits-vae-z10-b2 digits-vae-z10-b4
digits-vae-z10-b4-free-bits digits-vae-z2 digits-vae-z5 digits-vae-z20"
# name of the run : recipe (the order matters: priors need their VQ-VAE)
RUN_LIST="shapes-vqvae:shapes-vqvae shapes-vqvae-decoder:shapes-vqvae-decoder shapes-vqvae-continued:shapes-vqvae-continued
shapes-scorer-crisp:shapes-scorer-crisp shapes-prior:shapes-prior shapes-prior-guided:shapes-prior-guided shapes-prior-long:shapes-prior-long
shapes-prior-regional:shapes-prior-regional shapes-prior-continued:shapes-prior-continued shapes-prior-continued-more:shapes-prior-continued-more
shapes-vae:shapes-vae shapes-text-cvae:shapes-text-cvae
digits:digits-vae-2d digits-cvae:digits-cvae
emoji-vqvae:emoji-vqvae emoji-vqvae-decoder:emoji-vqvae-decoder emoji-prior:emoji-prior emoji-scorer:emoji-scorer
$(for lesson in $LESSON_MODELS; do printf '%s:%s ' "$lesson" "$lesson"; done)"

train() {  # train RUN_NAME RECIPE_NAME
  local out="$RUNS/$1" resume=()
  if [ -f "$out/model.safetensors" ] && [ -f "$out/metrics.json" ]; then echo "== $1: done"; return; fi
  if [ -d "$out/checkpoints" ]; then resume=(--resume); fi
  echo "== $1: vaestudio train recipes/$2.toml --out $out ${resume[*]}"
  "$PYTHON" -m vaestudio.cli train "recipes/$2.toml" --out "$out" --quiet "${resume[@]}" > "$RUNS/$1.log" 2>&1
}

"$PYTHON" -m vaestudio.cli data get emoji  # the emoji runs read four pinned npm tarballs (docs/data.md)
for entry in $RUN_LIST; do
  name=${entry%%:*}
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  train "$name" "${entry#*:}"
done

ship() { "$PYTHON" scripts/ship_zoo.py "$@"; }
ship model "$RUNS/shapes-vae" shapes-vae
ship model "$RUNS/shapes-text-cvae" shapes-text-cvae
ship model "$RUNS/digits" digits
ship model "$RUNS/digits-cvae" digits-cvae
for lesson in $LESSON_MODELS; do  # the reference VAE ships its log: the Learn tab draws its training curves
  if [ "$lesson" = digits-vae-z10 ]; then ship model "$RUNS/$lesson" "$lesson" --with-log; else ship model "$RUNS/$lesson" "$lesson"; fi
done
# bundles: which runs make each and its sampling settings are in recipes/bundles/NAME.toml
ship bundle recipes/bundles/emoji.toml --runs "$RUNS"
"$PYTHON" -m vaestudio.evaluation.emoji_classifier --out "$RUNS/emoji-classifier" --epochs 12  # the emoji judge
"$PYTHON" -m vaestudio.evaluation.emoji_faithfulness --model emoji --classifier "$RUNS/emoji-classifier" \
  --out "$RUNS/emoji-faithfulness.json"  # docs/experiments/emoji-text-to-image.md
ship bundle recipes/bundles/shapes.toml --runs "$RUNS"
"$PYTHON" -m vaestudio.evaluation.faithfulness --model shapes --num-prompts 200 > "$RUNS/shapes-faithfulness.json"
ship bundle recipes/bundles/shapes.toml --runs "$RUNS" --evaluation "$RUNS/shapes-faithfulness.json"
"$PYTHON" scripts/ship_lesson_cache.py  # the heavy results of the lessons' default views (pretrained/lesson-cache)
du -sh pretrained
