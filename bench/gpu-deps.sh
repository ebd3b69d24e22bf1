#!/usr/bin/env bash
# Here (Debian 12): downloads the header-only Debian packages the engine needs
# into .gpu-deps/, for bench/gpu.sh on a GPU machine that has a CUDA LibTorch
# (PyTorch's) but not these packages. .gpu-deps/ is ignored by git and carried
# to the GPU machine (device tool: carry [".gpu-deps"]).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
apt-get download nlohmann-json3-dev libeigen3-dev libspectra-dev libcli11-dev zlib1g-dev
ls -la
