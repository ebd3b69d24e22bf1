#!/usr/bin/env bash
# Installs every Debian 12 package landscape needs to build, run and test.
# Used by .ci/run, by the README's set-up commands and by the Dockerfile's build
# stage. Idempotent.
# Usage: install-deps.sh [--no-torch] [--no-tests]
#   --no-torch  leave out Debian's LibTorch and oneDNN's headers (image builds bring their own or none)
#   --no-tests  leave out test oracles, data sets and the fuzzers' clang
set -euo pipefail

PACKAGES=(
  # toolchain (help2man: the man pages, made from --help at build time)
  build-essential cmake ninja-build ccache pkg-config git help2man
  # fuzz targets (fuzz/, scripts/build-fuzz.sh): clang and its libFuzzer and sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # engine (libdnnl-dev: the headers of the oneDNN Debian's LibTorch links, for the engine's own primitives)
  libtorch-dev libdnnl-dev libopenblas0-openmp
  # service
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libhiredis-dev redis-server prometheus-cpp-dev
  # the server's --http: cpp-httplib, and three.js embedded in the web UI and the report
  libcpp-httplib-dev libjs-three
  # shared
  libspdlog-dev nlohmann-json3-dev libcli11-dev libhdf5-dev zlib1g-dev
  libeigen3-dev libspectra-dev
  # pictures
  libplplot-dev plplot-driver-cairo libpng-dev
  # tests and oracles
  libgtest-dev libgmock-dev python3-torch python3-h5py python3-numpy openssl
  # the web UI's and the report's browser tests (tests/http): headless chromium
  chromium
  # the Python package (client/python) and its tests
  python3-grpcio python3-protobuf python3-pytest python3-tqdm python3-matplotlib python3-setuptools python3-pip
  # data
  dataset-fashion-mnist
)

skip=()
for arg in "$@"; do
  case "$arg" in
    --no-torch) skip+=(libtorch-dev libdnnl-dev) ;;
    --no-tests) skip+=(libgtest-dev libgmock-dev python3-torch python3-h5py python3-numpy python3-pytest dataset-fashion-mnist chromium
                       clang-14 libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown option $arg (known: --no-torch --no-tests)" >&2; exit 2 ;;
  esac
done
if [ ${#skip[@]} -gt 0 ]; then
  kept=()
  for p in "${PACKAGES[@]}"; do
    case " ${skip[*]} " in *" $p "*) ;; *) kept+=("$p") ;; esac
  done
  PACKAGES=("${kept[@]}")
fi

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
