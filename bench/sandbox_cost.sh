#!/usr/bin/env bash
# What the worker's sandbox costs: the same jobs (one-point tiles of a small CNN) on one worker with
# its sandbox (the default) and one with --no-sandbox; prints the mean tile time and each job's
# preparation and load time from the workers' logs.
# Usage: bench/sandbox_cost.sh [BUILD_DIR] [REDIS_PORT]   (needs redis-server; about a minute)
set -euo pipefail
B=${1:-build}; PORT=${2:-6399}; GRPC=$((PORT + 1000))
T=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1; rm -rf "$T"' EXIT
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --daemonize yes --dir "$T" >/dev/null
"$B/client/landscape" train --arch cnn --data fashion-mnist --max-samples 256 --epochs 1 --eval-samples -1 \
  --threads 1 --out "$T/model" >/dev/null 2>&1
"$B/server/landscape-server" --listen "127.0.0.1:$GRPC" --redis "redis://127.0.0.1:$PORT" >"$T/server.log" 2>&1 &
sleep 2
for mode in sandbox no-sandbox; do
  extra=(); [ "$mode" = no-sandbox ] && extra=(--no-sandbox)
  "$B/worker/landscape-worker" --redis "redis://127.0.0.1:$PORT" --threads 1 --cache "$T/cache" --poll-ms 200 \
    ${extra[@]+"${extra[@]}"} >"$T/w-$mode.log" 2>&1 &
  wp=$!
  sleep 2
  for _ in 1 2; do
    "$B/client/landscape" submit --server "127.0.0.1:$GRPC" --model "$T/model/model_1.pt" --data fashion-mnist \
      --max-samples 32 --x -1:1:10 --y -1:1:10 --tile-size 1 --out "$T/s.h5" --progress quiet >/dev/null 2>&1
  done
  kill "$wp"; wait "$wp" || true
  echo "== $mode"
  grep -oE "tile done .*seconds=[0-9.]+" "$T/w-$mode.log" |
    awk -F'seconds=' '{s+=$2;n++} END {printf "tiles %d  mean tile %.4f s\n", n, s/n}'
  grep -oE "(prepared|loaded) job_id=.*" "$T/w-$mode.log" |
    awk '{for (i = 2; i <= NF; ++i) if ($i ~ /^seconds=/) {print "  " $1 " " $i; break}}'
done
