#!/usr/bin/env bash
# The main job: trains a small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist),
# then computes its loss landscape: a 2-D filter-normalized surface (train and test
# loss/accuracy) and the 1-D interpolation from the initialization to the trained
# model, with their direction files, CSV and JSON summaries.
# Takes a few minutes on a 2-core machine. Output: out/demo/ (or $LANDSCAPE_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BIN=${LANDSCAPE_BUILD_DIR:-build}/client/landscape
OUT=${LANDSCAPE_DEMO_DIR:-out/demo}
mkdir -p "$OUT"

echo "== 1. train a CNN on Fashion-MNIST (2 epochs, checkpoints every epoch)"
"$BIN" train --arch cnn --data fashion-mnist --epochs 2 --batch-size 128 --lr 0.05 \
  --eval-samples 2000 --save-every 1 --seed 1 --out "$OUT/cnn"
MODEL="$OUT/cnn/model_2.pt"

echo "== 2. 2-D surface around the trained model (filter-normalized directions, 21x21, train+test)"
"$BIN" local --model "$MODEL" --data fashion-mnist --split both --max-samples 1000 \
  --x -1:1:21 --y -1:1:21 --xnorm filter --xignore biasbn --ynorm filter --yignore biasbn \
  --label run=demo --out "$OUT/surface_2d.h5" --csv "$OUT/surface_2d.csv" --json "$OUT/surface_2d.json"

echo "== 3. 1-D interpolation from the initialization (x=1) to the trained model (x=0), states"
"$BIN" local --model "$MODEL" --model2 "$OUT/cnn/model_0.pt" --dir-type states --data fashion-mnist \
  --split both --max-samples 1000 --x -0.5:1.5:41 --out "$OUT/interp_1d.h5" --json "$OUT/interp_1d.json"

echo "== done: $OUT"
ls -1 "$OUT"
