#!/usr/bin/env bash
# Configures and builds the libFuzzer targets (fuzz/) into ./build-fuzz with clang-14, instrumented
# with -fsanitize=fuzzer,address,undefined (-DLANDSCAPE_FUZZ=ON builds only them and what they link).
# Usage: scripts/build-fuzz.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_DIR=${LANDSCAPE_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
  CC=${FUZZ_CC:-clang-14} CXX=${FUZZ_CXX:-clang++-14} \
    cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLANDSCAPE_FUZZ=ON "$@"
fi
cmake --build "$FUZZ_DIR" -j "${LANDSCAPE_JOBS:-$(nproc)}" --target landscape_fuzzers
