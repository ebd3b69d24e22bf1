#!/usr/bin/env bash
# On a GPU machine with PyTorch (CUDA LibTorch): builds the engine and its
# benchmark against that LibTorch alone, then measures a ResNet-56-sized model
# (3x32x32) over 50,000 images on one GPU: fp32, bf16 and fp16 forward passes,
# channels-last, the batch size chosen by throughput; and extrapolates the time
# of a 51x51 surface (the paper's, which took about an hour on four GPUs).
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
CUDACXX=$NVCC cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLANDSCAPE_ENGINE_ONLY=ON \
  -DLANDSCAPE_WITH_HDF5=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DLANDSCAPE_DEPS_PREFIX="$DEPS" \
  "${ZLIB_ARGS[@]}" > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
cmake --build build-gpu --target engine_bench -j "$(nproc)" > "$OUT/build.log" 2>&1 || {
  grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
echo "built in $(( $(date +%s) - t0 )) s"

B=build-gpu/bench/engine_bench
COMMON=(--device cuda --arch resnet56 --data synthetic:50000:3x32x32 --points 4 --rounds 2 --grid-side 51)
echo "== fp32, channels-last, batch by throughput"
$B "${COMMON[@]}" --channels-last --auto-batch --json "$OUT/fp32_nhwc.json"
echo "== bf16, channels-last, batch by throughput"
$B "${COMMON[@]}" --precision bf16 --channels-last --auto-batch --json "$OUT/bf16_nhwc.json"
echo "== fp16, channels-last, batch by throughput"
$B "${COMMON[@]}" --precision fp16 --channels-last --auto-batch --json "$OUT/fp16_nhwc.json"
echo "== done"
