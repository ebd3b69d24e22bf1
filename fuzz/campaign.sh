#!/usr/bin/env bash
# A fuzzing campaign: runs each fuzz target for SECONDS (default 600) from its seeds, regression
# inputs and the corpus of earlier campaigns (kept in $FUZZ_WORK/<target>/corpus), at nice 19,
# JOBS targets at a time (default 1), and prints per target: seconds, executions, final coverage
# (cov: edges, ft: features), corpus size and findings (crash-/leak-/oom-/timeout- files written to
# $FUZZ_WORK/<target>/). A finding's input belongs under fuzz/regressions/<target>/ once fixed.
# Needs scripts/build-fuzz.sh first.
# Usage: fuzz/campaign.sh [SECONDS] [target...]   e.g. JOBS=2 fuzz/campaign.sh 600 fuzz_idx fuzz_cifar
set -euo pipefail
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-600}
shift || true
FUZZ_DIR=${LANDSCAPE_FUZZ_BUILD_DIR:-build-fuzz}
FUZZ_WORK=${FUZZ_WORK:-$FUZZ_DIR/campaign}
JOBS=${JOBS:-1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$FUZZ_DIR"/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
seeds="$FUZZ_DIR/fuzz/seeds"
if [ ! -d "$seeds" ]; then
  python3_bin=$(command -v /usr/bin/python3 || command -v python3)
  "$python3_bin" fuzz/make_seeds.py "$seeds"
fi

run_one() {
  local t=$1 w="$FUZZ_WORK/$1"
  mkdir -p "$w/corpus"
  local dirs=("$w/corpus")
  [ -d "$seeds/$t" ] && dirs+=("$seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  nice -n 19 "$FUZZ_DIR/fuzz/$t" -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$w/" "${dirs[@]}" >"$w/log" 2>&1 || true
}

summary() {
  local t=$1 w="$FUZZ_WORK/$1"
  local execs cov ft findings corpus secs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$w/log" | grep -o '[0-9]*$' || echo "?")
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$w/log" | awk '{print $5}' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$w/log" | tail -1 | awk '{print $2}')
  corpus=$(ls "$w/corpus" | wc -l)
  findings=$(ls "$w" | grep -cE '^(crash|leak|oom|timeout|slow-unit)-' || true)
  printf '%-22s %6ss %12s execs  cov %6s  ft %7s  corpus %6s  findings %s\n' \
    "$t" "${secs:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$findings"
  ls "$w" | grep -E '^(crash|leak|oom|timeout|slow-unit)-' | sed "s|^|    $w/|" || true
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
for t in "${targets[@]}"; do summary "$t"; done
