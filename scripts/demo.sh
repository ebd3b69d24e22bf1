#!/usr/bin/env bash
# The main job, on this machine: trains a small CNN on Fashion-MNIST (Debian's
# dataset-fashion-mnist), starts the whole service on loopback (redis-server,
# landscape-server, two landscape-workers: deploy/local/launch.sh), submits the
# 2-D landscape of the trained model as a job, watches it, fetches the surface,
# and draws it; then the 1-D interpolation from the initialization to the trained
# model, in-process (`landscape local`). A few minutes on a 2-core machine.
# Output: out/demo/ (or $LANDSCAPE_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD=${LANDSCAPE_BUILD_DIR:-build}
BIN=$BUILD/client/landscape
OUT=${LANDSCAPE_DEMO_DIR:-out/demo}
mkdir -p "$OUT"

echo "== 1. train a CNN on Fashion-MNIST (2 epochs, a checkpoint every epoch)"
if [ ! -f "$OUT/cnn/train.json" ]; then
  "$BIN" train --arch cnn --data fashion-mnist --epochs 2 --batch-size 128 --lr 0.05 \
    --eval-samples 2000 --save-every 1 --seed 1 --out "$OUT/cnn"
fi
MODEL="$OUT/cnn/model_2.pt"

echo "== 2. the service on loopback: redis-server, landscape-server, 2 workers; submit, watch, get"
# The 2-D surface around the trained model: filter-normalized random directions (the paper's recipe),
# 21 x 21 points, loss and accuracy on 1,000 training and 1,000 test images.
deploy/local/launch.sh run --workers 2 --port 0 --build-dir "$BUILD" --fresh -- \
  "$BIN" submit --model "$MODEL" --data fashion-mnist --split both --max-samples 1000 \
    --x -1:1:21 --y -1:1:21 --xnorm filter --xignore biasbn --ynorm filter --yignore biasbn \
    --label run=demo --name "CNN on Fashion-MNIST" --watch --progress lines \
    --out "$OUT/surface_2d.h5" --csv "$OUT/surface_2d.csv" --json "$OUT/surface_2d.json"

echo "== 3. pictures of the surface"
for kind in contour filled heat 3d; do
  "$BIN" plot "$OUT/surface_2d.h5" --kind "$kind" --out "$OUT/surface_2d_$kind.png"
done
"$BIN" plot "$OUT/surface_2d.h5" --kind contour --metric test_loss --out "$OUT/surface_2d_test_contour.png"
"$BIN" report "$OUT/surface_2d.h5" --out "$OUT/report.html" --json "$OUT/report.json" --label run=demo

echo "== 4. 1-D interpolation from the trained model (x=0) to its initialization (x=1), in-process"
"$BIN" local --model "$MODEL" --model2 "$OUT/cnn/model_0.pt" --dir-type states --data fashion-mnist \
  --split both --max-samples 1000 --x -0.1:1.1:37 --name "trained to initial" --progress lines \
  --out "$OUT/interp_1d.h5" --json "$OUT/interp_1d.json" --plot 1d

echo "== done: $OUT"
ls -1 "$OUT"
