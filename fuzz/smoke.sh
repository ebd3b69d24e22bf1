#!/usr/bin/env bash
# The smoke test of one fuzz target: runs every regression input (crashers found before, kept
# under fuzz/regressions/<target>/) and every seed once, then fuzzes for SECONDS seconds from them.
# Any crash, leak, sanitizer report or out-of-memory fails it; a crashing input is written to the
# current directory as crash-<sha1> (or leak-, oom-, timeout-).
# Usage: smoke.sh FUZZER SEED_DIR REGRESSION_DIR SECONDS
set -euo pipefail
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fuzzer=$1 seeds=$2 regressions=$3 seconds=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dirs=()
[ -d "$seeds" ] && dirs+=("$seeds")
[ -d "$regressions" ] && dirs+=("$regressions")
opts=(-rss_limit_mb=2048 -timeout=30 -print_final_stats=1)
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
  echo "== regression inputs: $(ls "$regressions" | wc -l)"
  "$fuzzer" "${opts[@]}" "$regressions"/*
fi
echo "== seeds and ${seconds}s of fuzzing"
"$fuzzer" "${opts[@]}" -max_total_time="$seconds" "$work" "${dirs[@]}"
