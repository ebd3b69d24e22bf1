#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts a redis-server on
# a loopback port for the integration tests, and runs every ctest label
# (unit first, then integration and deploy), then the fuzz targets' smoke tests (label fuzz,
# a separate clang-14 build in build-fuzz; skipped without clang-14 or with LANDSCAPE_SKIP_FUZZ=1).
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-test-tools.sh
bash scripts/build.sh
BUILD_DIR=${LANDSCAPE_BUILD_DIR:-build}
FUZZ_DIR=${LANDSCAPE_FUZZ_BUILD_DIR:-build-fuzz}
ROOT=$(pwd)
FUZZ=0
if [ "${LANDSCAPE_SKIP_FUZZ:-0}" != 1 ] && command -v clang++-14 >/dev/null 2>&1; then
  bash scripts/build-fuzz.sh
  FUZZ=1
fi

# A redis-server for tests that share one (tests that restart Redis start their own).
REDIS_PORT=${LANDSCAPE_TEST_REDIS_PORT:-6391}
REDIS_DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$REDIS_DIR" \
  --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
# Redis reopens its log file for every line it writes, also while it shuts
# down: wait for the process to be gone before removing its directory, and
# never let the clean-up change the tests' exit status.
cleanup() {
  local pid=""
  [ -f "$REDIS_DIR/redis.pid" ] && pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$REDIS_DIR" 2>/dev/null || { sleep 1; rm -rf "$REDIS_DIR" || true; }
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export LANDSCAPE_TEST_REDIS="redis://127.0.0.1:$REDIS_PORT"

cd "$BUILD_DIR"
if [ $# -gt 0 ]; then
  ctest --output-on-failure "$@"
else
  ctest --output-on-failure -L unit
  ctest --output-on-failure -LE unit
  if [ "$FUZZ" = 1 ]; then
    cd "$ROOT" && cd "$FUZZ_DIR"
    ctest --output-on-failure -L fuzz
  fi
fi
