#!/usr/bin/env bash
# Installs every Debian 12 package landscape needs to build, run and test.
# Used by .ci/run and by the README's set-up commands. Idempotent.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # engine
  libtorch-dev libopenblas0-openmp
  # service
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libhiredis-dev redis-server prometheus-cpp-dev
  # shared
  libspdlog-dev nlohmann-json3-dev libcli11-dev libhdf5-dev zlib1g-dev
  libeigen3-dev libspectra-dev
  # pictures
  libplplot-dev plplot-driver-cairo
  # tests and oracles
  libgtest-dev libgmock-dev python3-torch python3-h5py python3-numpy openssl
  # data
  dataset-fashion-mnist
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
