#!/usr/bin/env bash
# Reproduces the paper's three findings on Fashion-MNIST with budgets a 2-core
# machine runs in well under an hour (about 30 minutes here):
#  (a) skip connections: 2-D filter-normalized contours of ResNet-20/56 with and
#      without shortcuts; the deep one without shortcuts is the chaotic one;
#  (b) small vs large batch: 1-D interpolation between the two minimizers and
#      filter-normalized 1-D plots, with test errors;
#  (c) a PCA trajectory of training, with its explained variance.
# Output: out/paper/ (or $PAPER_OUT); pictures for the README with --publish
# (copied to docs/img/paper/) and a table of numbers (results.md).
# Usage: examples/paper/run.sh [--publish] [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
PUBLISH=0
QUICK=0
for a in "$@"; do
  case "$a" in
    --publish) PUBLISH=1 ;;
    --quick) QUICK=1 ;;  # a smoke run with tiny budgets (minutes), for testing the script
    *) echo "usage: $0 [--publish] [--quick]" >&2; exit 2 ;;
  esac
done
BIN=${LANDSCAPE_BUILD_DIR:-build}/client/landscape
OUT=${PAPER_OUT:-out/paper}
mkdir -p "$OUT"
log() { echo "== $(date +%H:%M:%S) $*"; }

# Budgets (full / quick).
if [ "$QUICK" = 1 ]; then
  RES_TRAIN=1000; RES_EPOCHS=1; RES_GRID=5; RES_SAMPLES=64
  BS_TRAIN=2000; BS_EPOCHS=2; CURVE=9; CURVE_SAMPLES=200
  PCA_TRAIN=1000; PCA_EPOCHS=3; PCA_GRID=7; PCA_SAMPLES=200
else
  RES_TRAIN=12000; RES_EPOCHS=8; RES_GRID=21; RES_SAMPLES=512
  BS_TRAIN=30000; BS_EPOCHS=12; CURVE=41; CURVE_SAMPLES=2000
  PCA_TRAIN=10000; PCA_EPOCHS=10; PCA_GRID=25; PCA_SAMPLES=1000
fi
HESS_SAMPLES=128

# (a) ResNets with and without skip connections, at depths 20 and 56.
for arch in resnet20 resnet20_noshort resnet56 resnet56_noshort; do
  lr=0.1
  [ "$arch" = resnet56_noshort ] && lr=0.01  # the paper's deep no-shortcut nets needed 0.01
  if [ ! -f "$OUT/$arch/train.json" ]; then
    log "(a) train $arch"
    "$BIN" train --arch "$arch" --data fashion-mnist --max-samples "$RES_TRAIN" --epochs "$RES_EPOCHS" \
      --lr "$lr" --eval-samples 2000 --save-every 0 --seed 1 --out "$OUT/$arch"
  fi
  final=$(ls "$OUT/$arch"/model_*.pt | sort -t_ -k2 -n | tail -1)
  log "(a) 2-D surface of $arch"
  "$BIN" local --model "$final" --data fashion-mnist --max-samples "$RES_SAMPLES" \
    --x -1:1:$RES_GRID --y -1:1:$RES_GRID --name "$arch" --label experiment=skip-connections \
    --progress lines --out "$OUT/$arch.h5" --json "$OUT/$arch.json"
  "$BIN" plot "$OUT/$arch.h5" --kind contour --out "$OUT/${arch}_contour.png"
  "$BIN" plot "$OUT/$arch.h5" --kind 3d --out "$OUT/${arch}_3d.png"
  # The paper's convexity check at the minimizer: |λmin/λmax| of the Hessian.
  log "(a) Hessian at the minimizer of $arch"
  "$BIN" hessian --model "$final" --data fashion-mnist --max-samples "$HESS_SAMPLES" --top-k 1 --trace-samples 0 \
    --json "$OUT/${arch}_hessian.json"
done

# (b) Small vs large batch (CNN, SGD, weight decay 5e-4, the same learning rate).
for bs in 128 4096; do
  if [ ! -f "$OUT/cnn_bs$bs/train.json" ]; then
    log "(b) train cnn with batch $bs"
    "$BIN" train --arch cnn --data fashion-mnist --max-samples "$BS_TRAIN" --epochs "$BS_EPOCHS" --batch-size "$bs" \
      --lr 0.1 --weight-decay 5e-4 --eval-samples 0 --save-every 0 --seed 1 --out "$OUT/cnn_bs$bs"
  fi
done
small=$(ls "$OUT/cnn_bs128"/model_*.pt | sort -t_ -k2 -n | tail -1)
large=$(ls "$OUT/cnn_bs4096"/model_*.pt | sort -t_ -k2 -n | tail -1)
log "(b) 1-D interpolation small (x=0) -> large (x=1) batch"
"$BIN" local --model "$small" --model2 "$large" --dir-type states --data fashion-mnist --split both \
  --max-samples "$CURVE_SAMPLES" --x -0.5:1.5:$CURVE --name "bs128 to bs4096" --progress lines \
  --out "$OUT/interp_bs.h5" --json "$OUT/interp_bs.json"
"$BIN" plot "$OUT/interp_bs.h5" --kind 1d --out "$OUT/interp_bs_1d.png"
for bs in 128 4096; do
  model=$([ "$bs" = 128 ] && echo "$small" || echo "$large")
  log "(b) filter-normalized 1-D curve, batch $bs"
  "$BIN" local --model "$model" --data fashion-mnist --split both --max-samples "$CURVE_SAMPLES" \
    --x -1:1:$CURVE --name "batch $bs" --progress lines --out "$OUT/curve_bs$bs.h5" --json "$OUT/curve_bs$bs.json"
done
"$BIN" plot "$OUT/curve_bs128.h5" --kind 1d --name "batch 128" --overlay "batch 4096=$OUT/curve_bs4096.h5" \
  --out "$OUT/curves_bs_1d.png"

# (c) A PCA trajectory of training (CNN, checkpoints every epoch).
if [ ! -f "$OUT/cnn_traj/train.json" ]; then
  log "(c) train cnn with a checkpoint every epoch"
  "$BIN" train --arch cnn --data fashion-mnist --max-samples "$PCA_TRAIN" --epochs "$PCA_EPOCHS" --lr 0.05 \
    --eval-samples 0 --save-every 1 --seed 2 --out "$OUT/cnn_traj"
fi
log "(c) PCA directions and projections"
"$BIN" trajectory --checkpoint-dir "$OUT/cnn_traj" --data fashion-mnist --max-samples "$PCA_SAMPLES" \
  --out "$OUT/traj" 2>&1 | tee "$OUT/traj.txt"
range=$(grep -o -- 'e.g. --x [^ ]* --y [^ ]*' "$OUT/traj.txt" | tail -1 | sed -e 's/^e.g. //' -e "s/:41/:$PCA_GRID/g")
final=$(ls "$OUT/cnn_traj"/model_*.pt | sort -t_ -k2 -n | tail -1)
log "(c) surface in the PCA plane: $range"
# shellcheck disable=SC2086
"$BIN" local --model "$final" --dir-file "$OUT/traj.dirs.h5" --data fashion-mnist --max-samples "$PCA_SAMPLES" \
  $range --name "PCA plane" --progress lines --out "$OUT/pca_plane.h5" --json "$OUT/pca_plane.json"
"$BIN" plot "$OUT/pca_plane.h5" --kind trajectory --proj-file "$OUT/traj.proj.h5" --dir-file "$OUT/traj.dirs.h5" \
  --out "$OUT/pca_trajectory.png"

log "table"
/usr/bin/python3 examples/paper/make_table.py "$OUT" > "$OUT/results.md"
cat "$OUT/results.md"
if [ "$PUBLISH" = 1 ]; then
  mkdir -p docs/img/paper
  cp "$OUT"/*_contour.png "$OUT"/*_3d.png "$OUT"/interp_bs_1d.png "$OUT"/curves_bs_1d.png \
     "$OUT"/pca_trajectory.png docs/img/paper/
  cp "$OUT/results.md" examples/paper/results.md
fi
log "done: $OUT"
