#!/usr/bin/env bash
# On a GPU machine with PyTorch (CUDA LibTorch): builds the engine and its
# benchmark against that LibTorch alone, then measures a ResNet-56-sized model
# (3x32x32) over 50,000 images on one GPU, channels-last, and extrapolates the
# time of a 51x51 surface (the paper's, which took about an hour on four GPUs):
# the earlier path (a frozen graph per point) against one fitted frozen graph
# replayed as CUDA graphs, at several batch sizes, in bf16, fp16 and fp32.
# Prepare here with bench/gpu-deps.sh (header-only Debian packages in .gpu-deps/).
# Usage: bench/gpu.sh [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/landscape-gpu}}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu.log") 2>&1
echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc
PY=${PYTHON:-python3}
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'

echo "== dependencies"
DEPS=$PWD/.gpu-deps/prefix
mkdir -p "$DEPS"
for deb in .gpu-deps/*.deb; do
  [ -f "$deb" ] || continue
  if command -v dpkg >/dev/null; then
    dpkg -x "$deb" "$DEPS"
  else
    # A .deb is an ar archive holding data.tar.*: unpack it with Python's tarfile.
    $PY - "$deb" "$DEPS" <<'PYEOF'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PYEOF
  fi
done
ZLIB_ARGS=()
if [ ! -f /usr/include/zlib.h ]; then
  ZLIB_LIB=$(ls /usr/lib/x86_64-linux-gnu/libz.so* /lib/x86_64-linux-gnu/libz.so* 2>/dev/null | head -1)
  ZLIB_ARGS=(-DZLIB_INCLUDE_DIR="$DEPS/usr/include" -DZLIB_LIBRARY="$ZLIB_LIB")
fi
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)

echo "== build (engine only, against $TORCH_PREFIX)"
t0=$(date +%s)
build() {
  CUDACXX=$NVCC cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLANDSCAPE_ENGINE_ONLY=ON \
    -DLANDSCAPE_WITH_HDF5=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DLANDSCAPE_DEPS_PREFIX="$DEPS" \
    "${ZLIB_ARGS[@]}" "$@" > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; return 1; }
  grep -E "engine: (CUDA graphs|without CUDA graphs)" "$OUT/configure.log"
  cmake --build build-gpu --target engine_bench -j "$(nproc)" > "$OUT/build.log" 2>&1 || {
    grep -E "error|Error" -A3 "$OUT/build.log" | head -40; return 1; }
}
if ! build -DLANDSCAPE_WITH_CUDA_GRAPHS=ON; then
  echo "(the build with CUDA graphs failed: building without them)"
  build -DLANDSCAPE_WITH_CUDA_GRAPHS=OFF || exit 1
fi
echo "built in $(( $(date +%s) - t0 )) s"

B=build-gpu/bench/engine_bench
COMMON=(--device cuda --arch resnet56 --data synthetic:50000:3x32x32 --points 3 --rounds 2 --grid-side 51)
# Each configuration: engine_bench's report (forward passes, the engine, the extrapolated 51x51 surface,
# reduced precision against fp32, the fitted graph against per-point freezing).
# ONLY="name ..." runs just those configurations.
run() {
  local name=$1
  shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  echo "== $name: $*"
  timeout "${RUN_TIMEOUT:-150}" "$B" "${COMMON[@]}" "$@" --json "$OUT/$name.json" 2>&1 | grep -v "^\[W" | tail -n 16
}
# The path before this session's work: a frozen graph per point, kernels launched one by one.
run bf16_per_point_4096 --precision bf16 --channels-last --batch 4096 --cuda-graphs off
# The same with cuDNN's heuristics instead of its benchmark mode (the engine's default since this change).
LANDSCAPE_CUDNN_BENCHMARK=0 run bf16_per_point_heuristic_4096 --precision bf16 --channels-last --batch 4096 \
  --cuda-graphs off
# One frozen graph with fitted constants, each split replayed as a CUDA graph, at several batch sizes
# (smaller batches keep a layer's activations in the 50 MB L2 cache; graphs remove the launch cost that
# made them slow).
for b in ${BATCHES:-512 1024 2048 4096}; do
  run "bf16_graphs_$b" --precision bf16 --channels-last --batch "$b"
done
run fp16_graphs_2048 --precision fp16 --channels-last --batch 2048
run fp32_graphs_2048 --channels-last --batch 2048
echo "== done"
