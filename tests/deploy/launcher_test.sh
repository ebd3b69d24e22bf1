#!/usr/bin/env bash
# Tests of deploy/local/launch.sh (CTest label "deploy").
#
# The launcher runs a real redis-server. landscape-server and landscape-worker
# are stand-ins that record their arguments (the server listens on its --listen
# port, the workers wait for SIGTERM), so the launcher's own job is tested
# whether or not the service is built: flags passed, readiness, ordered stop,
# no process left behind, failures reported. When the real binaries are in the
# build tree, the flags the launcher passes are checked against their --help,
# and one more case runs the real ones.
#
# Usage: launcher_test.sh SOURCE_DIR BUILD_DIR     Exit: 0 passed, 1 failed, 77 skipped.
set -uo pipefail
SOURCE_DIR=$(cd "$1" && pwd)
BUILD_DIR=${2:-$SOURCE_DIR/build}
LAUNCH="$SOURCE_DIR/deploy/local/launch.sh"

if ! command -v redis-server > /dev/null; then
  echo "SKIPPED launcher_test: redis-server not installed (Debian package redis-server)"
  exit 77
fi
if ! command -v python3 > /dev/null; then
  echo "SKIPPED launcher_test: python3 not found (the stand-in server uses it)"
  exit 77
fi

TMP=$(mktemp -d)
passed=0
failed=0
cleanup() {
  # Stop anything a failed case left running: only through the launcher, by its pid files.
  for d in "$TMP"/state*; do [ -d "$d" ] && "$LAUNCH" stop --state-dir "$d" --timeout 5 > /dev/null 2>&1; done
  rm -rf "$TMP" 2>/dev/null || true
}
trap cleanup EXIT

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
not_ok() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "command: $*"; fi; }

# ---- stand-ins --------------------------------------------------------------
STUBS="$TMP/build"
mkdir -p "$STUBS/server" "$STUBS/worker" "$TMP/args"
cat > "$STUBS/server/landscape-server" << 'EOF'
#!/usr/bin/env python3
# Stand-in landscape-server: records its arguments, listens on --listen, exits 0 on SIGTERM.
import os, signal, socket, sys
args = sys.argv[1:]
with open(os.path.join(os.environ["STUB_ARGS_DIR"], "server.args"), "w") as f:
    f.write("\n".join(args) + "\n")
if os.environ.get("STUB_SERVER_FAIL"):
    print("stand-in server: failing on purpose", file=sys.stderr)
    sys.exit(1)
listen = args[args.index("--listen") + 1]
host, port = listen.rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen(16)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    c, _ = s.accept()
    c.close()
EOF
cat > "$STUBS/worker/landscape-worker" << 'EOF'
#!/usr/bin/env bash
# Stand-in landscape-worker: records its arguments, runs until SIGTERM.
printf '%s\n' "$@" > "$STUB_ARGS_DIR/worker-$$.args"
[ -n "${STUB_WORKER_FAIL:-}" ] && { echo "stand-in worker: failing on purpose" >&2; exit 2; }
trap 'echo "drained" >> "$STUB_ARGS_DIR/worker-$$.args"; exit 0' TERM
while :; do sleep 0.1; done
EOF
chmod +x "$STUBS/server/landscape-server" "$STUBS/worker/landscape-worker"
export STUB_ARGS_DIR="$TMP/args"

arg_after() { grep -A1 -x -- "$2" "$1" | tail -n 1; }  # FILE FLAG -> its value
no_process_left() {  # none of the stand-ins or our redis-server still runs
  ! pgrep -f "$TMP/" > /dev/null
}

# ---- usage --------------------------------------------------------------------
out=$("$LAUNCH" --help 2>&1); rc=$?
check "--help exits 0 and documents start/stop/status/run" bash -c "[ $rc -eq 0 ] && grep -q 'Usage: deploy/local/launch.sh' <<< \"\$1\" && grep -q '  run ' <<< \"\$1\"" _ "$out"
"$LAUNCH" > /dev/null 2>&1; rc=$?
check "no command: usage error (2)" test $rc -eq 2
"$LAUNCH" launch > /dev/null 2>&1; rc=$?
check "unknown command: usage error (2)" test $rc -eq 2
"$LAUNCH" start --workers two > /dev/null 2>&1; rc=$?
check "bad --workers: usage error (2)" test $rc -eq 2
"$LAUNCH" start --device gpu > /dev/null 2>&1; rc=$?
check "bad --device: usage error (2)" test $rc -eq 2
"$LAUNCH" run --workers 1 > /dev/null 2>&1; rc=$?
check "run without a command: usage error (2)" test $rc -eq 2

# ---- missing binaries ------------------------------------------------------------
err=$("$LAUNCH" start --build-dir "$TMP/empty" --state-dir "$TMP/state0" 2>&1 > /dev/null); rc=$?
check "missing binaries: exit 1" test $rc -eq 1
check "missing binaries: names landscape-server and how to build it" bash -c 'grep -q "landscape-server not found" <<< "$1" && grep -q "scripts/build.sh" <<< "$1"' _ "$err"
check "missing binaries: names landscape-worker" grep -q "landscape-worker not found" <<< "$err"
check "missing binaries: nothing started" bash -c "! ls '$TMP/state0/pids/'*.pid > /dev/null 2>&1"

# ---- start, status, env, stop ----------------------------------------------------
S="$TMP/state1"
out=$("$LAUNCH" start --workers 2 --port 0 --build-dir "$STUBS" --state-dir "$S" --timeout 20 --drain-timeout 3 2> "$TMP/start.err"); rc=$?
check "start: exit 0" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/       /' "$TMP/start.err"
server=$(sed -n 's/^export LANDSCAPE_SERVER=//p' <<< "$out")
redis=$(sed -n 's/^export LANDSCAPE_REDIS=//p' <<< "$out")
check "start: prints export LANDSCAPE_SERVER=127.0.0.1:PORT" bash -c '[[ $1 =~ ^127\.0\.0\.1:[0-9]+$ ]]' _ "$server"
check "start: prints export LANDSCAPE_REDIS=redis://127.0.0.1:PORT" bash -c '[[ $1 =~ ^redis://127\.0\.0\.1:[0-9]+$ ]]' _ "$redis"
rport=${redis##*:}
check "redis answers on its loopback port" bash -c "[ \"\$(redis-cli -p $rport ping)\" = PONG ]"
check "redis runs with appendonly yes" bash -c "redis-cli -p $rport config get appendonly | grep -qx yes"
check "redis runs with appendfsync everysec" bash -c "redis-cli -p $rport config get appendfsync | grep -qx everysec"
check "redis keeps its data in the state directory" bash -c "redis-cli -p $rport config get dir | grep -qx '$(readlink -f "$S")/redis'"
check "redis listens on loopback only" bash -c "redis-cli -p $rport config get bind | grep -q '^127.0.0.1'"
check "server got --listen \$LANDSCAPE_SERVER" test "$(arg_after "$TMP/args/server.args" --listen)" = "$server"
check "server got --redis \$LANDSCAPE_REDIS" test "$(arg_after "$TMP/args/server.args" --redis)" = "$redis"
check "server got --metrics on loopback" bash -c '[[ $1 =~ ^127\.0\.0\.1:[0-9]+$ ]]' _ "$(arg_after "$TMP/args/server.args" --metrics)"
nworkers=$(ls "$TMP"/args/worker-*.args 2> /dev/null | wc -l)
check "two workers started" test "$nworkers" -eq 2
for f in "$TMP"/args/worker-*.args; do
  check "worker $(basename "$f"): --redis \$LANDSCAPE_REDIS --device cpu" bash -c "[ \"\$(grep -A1 -x -- --redis '$f' | tail -n1)\" = '$redis' ] && [ \"\$(grep -A1 -x -- --device '$f' | tail -n1)\" = cpu ]"
done
check "status: exit 0 while everything runs" "$LAUNCH" status --state-dir "$S" > /dev/null
check "env: prints the same exports" bash -c "[ \"\$('$LAUNCH' env --state-dir '$S')\" = \"\$1\" ]" _ "$out"
"$LAUNCH" start --workers 1 --port 0 --build-dir "$STUBS" --state-dir "$S" > /dev/null 2> "$TMP/again.err"; rc=$?
check "a second start on the same state directory is refused" bash -c "[ $rc -eq 1 ] && grep -q 'already running' '$TMP/again.err'"
redis-cli -p "$rport" set lls:launcher-test kept > /dev/null
check "stop: exit 0" "$LAUNCH" stop --state-dir "$S" --timeout 20
check "stop: the workers drained on SIGTERM" bash -c "[ \$(grep -lx drained '$TMP'/args/worker-*.args | wc -l) -eq 2 ]"
check "stop: no process left behind" no_process_left
check "stop: the append-only file is on disk" bash -c "grep -rqs 'launcher-test' '$S/redis'"
"$LAUNCH" status --state-dir "$S" > /dev/null; rc=$?
check "status after stop: exit 3" test $rc -eq 3
check "stop again: nothing to do, exit 0" "$LAUNCH" stop --state-dir "$S"

# ---- a restart keeps Redis's data (AOF) ----------------------------------------------
out=$("$LAUNCH" start --workers 0 --port 0 --build-dir "$STUBS" --state-dir "$S" --timeout 20 2> "$TMP/restart.err")
rport=$(sed -n 's/^export LANDSCAPE_REDIS=redis:\/\/127.0.0.1://p' <<< "$out")
check "restart: Redis reloads its AOF" bash -c "[ \"\$(redis-cli -p '$rport' get lls:launcher-test)\" = kept ]"
[ -n "$rport" ] || sed 's/^/       /' "$TMP/restart.err"
"$LAUNCH" stop --state-dir "$S" > /dev/null 2>&1
out=$("$LAUNCH" start --workers 0 --port 0 --fresh --build-dir "$STUBS" --state-dir "$S" --timeout 20 2> /dev/null)
rport=$(sed -n 's/^export LANDSCAPE_REDIS=redis:\/\/127.0.0.1://p' <<< "$out")
check "--fresh: starts from an empty Redis" bash -c "[ -z \"\$(redis-cli -p '$rport' get lls:launcher-test)\" ]"
"$LAUNCH" stop --state-dir "$S" > /dev/null 2>&1

# ---- run: the README's main-job form --------------------------------------------------
rm -f "$TMP"/args/*
out=$("$LAUNCH" run --workers 1 --port 0 --build-dir "$STUBS" --state-dir "$TMP/state2" --timeout 20 --drain-timeout 3 \
  -- bash -c 'echo "server=$LANDSCAPE_SERVER"; exit 7' 2> /dev/null); rc=$?
check "run: exits with the command's status" test $rc -eq 7
check "run: the command sees LANDSCAPE_SERVER" grep -Eq '^server=127\.0\.0\.1:[0-9]+$' <<< "$out"
check "run: everything stopped afterwards" no_process_left

# ---- device lists: one worker per entry, round robin -------------------------------------
devices_of_workers() { for f in "$TMP"/args/worker-*.args; do arg_after "$f" --device; done | sort | tr '\n' ' '; }
rm -f "$TMP"/args/*
"$LAUNCH" run --port 0 --no-metrics --device cuda:0,cuda:1 --build-dir "$STUBS" --state-dir "$TMP/state6" --timeout 20 \
  --drain-timeout 3 -- true 2> "$TMP/devices.err"; rc=$?
check "--device cuda:0,cuda:1 without --workers: one worker per GPU" bash -c '[ "$2" -eq 0 ] && [ "$1" = "cuda:0 cuda:1 " ]' _ "$(devices_of_workers)" "$rc"
rm -f "$TMP"/args/*
CUDA_VISIBLE_DEVICES=4,6,7 "$LAUNCH" run --port 0 --no-metrics --device cuda:all --build-dir "$STUBS" \
  --state-dir "$TMP/state6" --timeout 20 --drain-timeout 3 -- true 2> /dev/null; rc=$?
check "--device cuda:all: a worker per visible GPU, numbered from 0" bash -c '[ "$2" -eq 0 ] && [ "$1" = "cuda:0 cuda:1 cuda:2 " ]' _ "$(devices_of_workers)" "$rc"
rm -f "$TMP"/args/*
"$LAUNCH" run --workers 3 --port 0 --no-metrics --device cuda:0,cuda:1 --build-dir "$STUBS" --state-dir "$TMP/state6" \
  --timeout 20 --drain-timeout 3 -- true 2> /dev/null; rc=$?
check "--workers 3 over two GPUs: round robin" bash -c '[ "$2" -eq 0 ] && [ "$1" = "cuda:0 cuda:0 cuda:1 " ]' _ "$(devices_of_workers)" "$rc"
err=$(CUDA_VISIBLE_DEVICES= "$LAUNCH" start --device cuda:all --port 0 --build-dir "$STUBS" --state-dir "$TMP/state6" 2>&1 > /dev/null); rc=$?
check "--device cuda:all with no GPU visible: usage error (2) saying so" bash -c '[ "$2" -eq 2 ] && grep -q "no GPU is visible" <<< "$1"' _ "$err" "$rc"
"$LAUNCH" start --device cpu,tpu > /dev/null 2>&1; rc=$?
check "--device with a bad entry: usage error (2)" test $rc -eq 2
check "device lists: nothing left running" no_process_left

# ---- failures are reported, and nothing is left running ---------------------------------
err=$(STUB_SERVER_FAIL=1 "$LAUNCH" start --workers 1 --port 0 --build-dir "$STUBS" --state-dir "$TMP/state3" --timeout 20 2>&1 > /dev/null); rc=$?
check "server failing at start-up: exit 1" test $rc -eq 1
check "server failing at start-up: says so and shows its log" bash -c 'grep -q "server exited during start-up" <<< "$1" && grep -q "failing on purpose" <<< "$1"' _ "$err"
check "server failing at start-up: Redis stopped again" no_process_left
err=$(STUB_WORKER_FAIL=1 "$LAUNCH" start --workers 2 --port 0 --build-dir "$STUBS" --state-dir "$TMP/state4" --timeout 20 2>&1 > /dev/null); rc=$?
check "worker failing at start-up: exit 1 with its log" bash -c '[ "$2" -eq 1 ] && grep -q "worker-1 exited during start-up" <<< "$1" && grep -q "failing on purpose" <<< "$1"' _ "$err" "$rc"
check "worker failing at start-up: nothing left running" no_process_left
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' > "$TMP/busy.port" &
busy_pid=$!
for _ in $(seq 50); do [ -s "$TMP/busy.port" ] && break; sleep 0.1; done
err=$("$LAUNCH" start --workers 0 --port "$(cat "$TMP/busy.port")" --build-dir "$STUBS" --state-dir "$TMP/state5" 2>&1 > /dev/null); rc=$?
kill "$busy_pid" 2> /dev/null; wait "$busy_pid" 2> /dev/null
check "a port in use: exit 1 naming the port" bash -c '[ "$2" -eq 1 ] && grep -q "is in use" <<< "$1"' _ "$err" "$rc"

# ---- the flags the launcher passes are the binaries' flags --------------------------------
real_server=$(find "$BUILD_DIR" -maxdepth 4 -type f -name landscape-server -perm -u+x -not -path '*/CMakeFiles/*' 2> /dev/null | head -n 1)
real_worker=$(find "$BUILD_DIR" -maxdepth 4 -type f -name landscape-worker -perm -u+x -not -path '*/CMakeFiles/*' 2> /dev/null | head -n 1)
# docs/design.md §7, and --drain-timeout (the service branch's worker), until the binaries exist.
server_flags="--listen --redis --tokens --metrics"
worker_flags="--redis --device --threads --cache --drain-timeout"
[ -n "$real_server" ] && server_flags=$("$real_server" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
[ -n "$real_worker" ] && worker_flags=$("$real_worker" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
echo "#    server flags from ${real_server:-docs/design.md §7}; worker flags from ${real_worker:-docs/design.md §7 + --drain-timeout}"
used_ok() {  # ARGS-FILE ALLOWED...
  local f=$1 flag
  shift
  [ -s "$f" ] || { echo "no arguments recorded in $f"; return 1; }
  for flag in $(grep -E '^--' "$f"); do
    case " $* " in *" $flag "*) ;; *) echo "unknown flag $flag in $f"; return 1 ;; esac
  done
}
check "the server gets only flags landscape-server has" used_ok "$TMP/args/server.args" $server_flags
check "the workers get only flags landscape-worker has" used_ok "$(ls "$TMP"/args/worker-*.args | head -n 1)" $worker_flags

# ---- the real binaries, when built ------------------------------------------------------
if [ -n "$real_server" ] && [ -n "$real_worker" ]; then
  out=$("$LAUNCH" start --workers 2 --port 0 --build-dir "$BUILD_DIR" --state-dir "$TMP/state6" --timeout 60 2> "$TMP/real.err"); rc=$?
  check "real binaries: start (server answers, workers stay up)" test $rc -eq 0
  [ $rc -eq 0 ] || sed 's/^/       /' "$TMP/real.err"
  check "real binaries: stop cleanly" "$LAUNCH" stop --state-dir "$TMP/state6" --timeout 60
  check "real binaries: nothing left running" no_process_left
else
  echo "#    real landscape-server/landscape-worker not built in $BUILD_DIR: that case is skipped"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
