#!/usr/bin/env bash
# landscape on one machine, from the build tree: a redis-server (AOF on, its own
# directory, a loopback port), one landscape-server and N landscape-workers, all
# on 127.0.0.1. Stops them in order: workers (they drain), server, Redis.
#
# Usage: deploy/local/launch.sh COMMAND [OPTIONS] [-- COMMAND-TO-RUN...]
#
# Commands:
#   start       start everything in the background, wait until the server answers,
#               print `export LANDSCAPE_SERVER=... LANDSCAPE_REDIS=...` on stdout
#               (so: eval "$(deploy/local/launch.sh start)")
#   stop        stop everything (SIGTERM, then wait; SIGKILL only past --timeout);
#               logs and Redis data stay in the state directory
#   status      what runs; exit 0 when all of it runs, 3 when none or part of it
#   env         print the export lines of the running instance
#   run         start, run COMMAND-TO-RUN with LANDSCAPE_SERVER and LANDSCAPE_REDIS
#               set, stop; exit with its status
#   foreground  start, then wait until Ctrl-C or SIGTERM, then stop
#
# Options:
#   --workers N          workers to start (default 2)
#   --port PORT          the server's gRPC port on 127.0.0.1 (default 50051; 0 picks a free one)
#   --redis-port PORT    Redis's port on 127.0.0.1 (default 0: a free one)
#   --metrics-port PORT  the server's /metrics port (default 0: a free one); --no-metrics: none
#   --http-port PORT     the server's JSON API and web dashboard port (default 0: a free one); --no-http: none
#   --device DEV         the workers' device: cpu | cuda | cuda:N (default cpu); or a comma-separated
#                        list (worker i gets entry i, round robin; without --workers, one worker per
#                        entry), or cuda:all: one worker per visible GPU (CUDA_VISIBLE_DEVICES if set,
#                        else nvidia-smi -L), worker i on cuda:i-1
#   --threads T          threads per worker (default: the cores divided among the workers)
#   --drain-timeout S    seconds a worker gets to finish its task on stop (default 30)
#   --tokens FILE        the server's tokens file (default: none, no authentication)
#   --server-arg ARG     one more argument for landscape-server (repeatable)
#   --worker-arg ARG     one more argument for each landscape-worker (repeatable)
#   --build-dir DIR      where the binaries were built (default: <repository>/build)
#   --state-dir DIR      pid files, logs, Redis data (default: $TMPDIR/landscape-local-$UID)
#   --fresh              start from an empty Redis (default: reuse the state directory's
#                        AOF, so queued work survives a stop and start)
#   --timeout S          seconds to wait for readiness, and for each stop step (default 60)
#   -h, --help           this text
#
# Binaries: LANDSCAPE_SERVER_BIN, LANDSCAPE_WORKER_BIN, REDIS_SERVER_BIN override
# where landscape-server, landscape-worker and redis-server are taken from.
# Exit status: 0 ok, 1 a failure (the message says which process and shows its
# log), 2 usage, 3 (status) not running.
set -uo pipefail

PROG=deploy/local/launch.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)

workers=2
workers_given=0
port=50051
redis_port=0
metrics_port=0
metrics=1
http_port=0
http=1
device=cpu
threads=""
drain_timeout=30
tokens=""
server_args=()
worker_args=()
build_dir="$REPO_DIR/build"
state_dir="${TMPDIR:-/tmp}/landscape-local-$(id -u)"
fresh=0
timeout=60
command_to_run=()

say() { echo "launch: $*" >&2; }
die() { say "$*"; exit 1; }
usage_error() { say "$*"; say "see: $PROG --help"; exit 2; }
usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
  if [ $# -eq 0 ]; then usage >&2; exit 2; fi
  case "$1" in
    -h|--help|help) usage; exit 0 ;;
    start|stop|status|env|run|foreground) cmd=$1; shift ;;
    *) usage_error "unknown command: $1" ;;
  esac
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --workers) need_value "$@"; is_uint "$2" || usage_error "--workers needs a number, got '$2'"; workers=$2; workers_given=1; shift 2 ;;
      --port) need_value "$@"; is_uint "$2" || usage_error "--port needs a number, got '$2'"; port=$2; shift 2 ;;
      --redis-port) need_value "$@"; is_uint "$2" || usage_error "--redis-port needs a number"; redis_port=$2; shift 2 ;;
      --metrics-port) need_value "$@"; is_uint "$2" || usage_error "--metrics-port needs a number"; metrics_port=$2; shift 2 ;;
      --no-metrics) metrics=0; shift ;;
      --http-port) need_value "$@"; is_uint "$2" || usage_error "--http-port needs a number"; http_port=$2; shift 2 ;;
      --no-http) http=0; shift ;;
      --device) need_value "$@"; [[ $2 =~ ^(cuda:all|(cpu|cuda(:[0-9]+)?)(,(cpu|cuda(:[0-9]+)?))*)$ ]] || usage_error "--device is cpu, cuda, cuda:N, a comma-separated list of those, or cuda:all, got '$2'"; device=$2; shift 2 ;;
      --threads) need_value "$@"; is_uint "$2" && [ "$2" -gt 0 ] || usage_error "--threads needs a positive number"; threads=$2; shift 2 ;;
      --drain-timeout) need_value "$@"; is_uint "$2" || usage_error "--drain-timeout needs seconds"; drain_timeout=$2; shift 2 ;;
      --tokens) need_value "$@"; tokens=$2; shift 2 ;;
      --server-arg) need_value "$@"; server_args+=("$2"); shift 2 ;;
      --worker-arg) need_value "$@"; worker_args+=("$2"); shift 2 ;;
      --build-dir) need_value "$@"; build_dir=$2; shift 2 ;;
      --state-dir) need_value "$@"; state_dir=$2; shift 2 ;;
      --fresh) fresh=1; shift ;;
      --timeout) need_value "$@"; is_uint "$2" && [ "$2" -gt 0 ] || usage_error "--timeout needs seconds"; timeout=$2; shift 2 ;;
      --) shift; command_to_run=("$@"); break ;;
      *) usage_error "unknown option: $1" ;;
    esac
  done
  if [ "$cmd" = run ] && [ ${#command_to_run[@]} -eq 0 ]; then usage_error "run needs a command after --"; fi
  if [ "$cmd" != run ] && [ ${#command_to_run[@]} -gt 0 ]; then usage_error "only run takes a command after --"; fi
}
need_value() { [ $# -ge 2 ] || usage_error "$1 needs a value"; }

# ---- processes ---------------------------------------------------------------
# Each process has STATE/pids/NAME.pid holding "PID EXECUTABLE PATH": a pid is
# only signalled while it still runs that program (never a reused pid): its
# /proc/PID/exe is EXECUTABLE, or, for a script, its command line names it.

pid_dir() { echo "$state_dir/pids"; }

alive() {  # NAME -> 0 when its recorded process still runs
  local f pid exe path
  f="$(pid_dir)/$1.pid"
  [ -f "$f" ] || return 1
  read -r pid exe path < "$f" || return 1
  local try
  for try in 1 2 3 4; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && return 0
    # A script runs as its interpreter, which has the script on its command line.
    tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -e "$exe" -e "$path" && return 0
    # In the middle of an exec (an interpreter starting) /proc can answer
    # neither: look again before calling it another program.
    sleep 0.05
  done
  return 1
}
pid_of() { local pid _; read -r pid _ < "$(pid_dir)/$1.pid"; echo "$pid"; }
names() { local f; for f in "$(pid_dir)"/*.pid; do [ -e "$f" ] && basename "$f" .pid; done; }

spawn() {  # NAME EXECUTABLE ARGS... : starts it in its own session, logs to STATE/logs/NAME.log
  local name=$1 path=$2 exe
  exe=$(readlink -f "$path")
  shift 2
  # Started by the name given, not the resolved one: redis-server is a link
  # whose target behaves by the name it is called with.
  setsid "$path" "$@" < /dev/null > "$state_dir/logs/$name.log" 2>&1 &
  local pid=$! i
  echo "$pid $exe $path" > "$(pid_dir)/$name.pid"
  # Until the new process has exec'd its program it is still this shell: wait
  # for that (or its end), so that `alive` judges the program itself.
  for ((i = 0; i < 50; i++)); do
    alive "$name" && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
}

stop_one() {  # NAME SECONDS
  local name=$1 wait_s=$2 pid i
  alive "$name" || { rm -f "$(pid_dir)/$name.pid"; return 0; }
  pid=$(pid_of "$name")
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < wait_s * 10; i++)); do
    alive "$name" || { rm -f "$(pid_dir)/$name.pid"; return 0; }
    sleep 0.1
  done
  say "$name (pid $pid) still runs ${wait_s}s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
  rm -f "$(pid_dir)/$name.pid"
  return 1
}

stop_all() {
  local n status=0 w=()
  [ -d "$(pid_dir)" ] || return 0
  for n in $(names); do case "$n" in worker-*) w+=("$n") ;; esac; done
  # Workers first, all at once: each drains its task within --drain-timeout.
  for n in "${w[@]+"${w[@]}"}"; do alive "$n" && kill -TERM "$(pid_of "$n")" 2>/dev/null; done
  for n in "${w[@]+"${w[@]}"}"; do stop_one "$n" $((drain_timeout > timeout ? drain_timeout + 5 : timeout)) || status=1; done
  stop_one server "$timeout" || status=1
  # Redis fsyncs its AOF on SIGTERM before it exits.
  stop_one redis "$timeout" || status=1
  rm -f "$state_dir/env"
  return $status
}

running_any() { local n; for n in $(names); do alive "$n" && return 0; done; return 1; }

log_tail() { say "last lines of $state_dir/logs/$1.log:"; tail -n 20 "$state_dir/logs/$1.log" 2>/dev/null | sed 's/^/    /' >&2; }

# ---- ports and readiness -------------------------------------------------------

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

picked=" "
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    case "$picked" in *" $p "*) continue ;; esac
    if ! port_open "$p"; then picked+="$p "; echo "$p"; return 0; fi
  done
  die "found no free port on 127.0.0.1"
}

redis_ready() {  # PORT: PING answers +PONG (not -LOADING while the AOF loads)
  (
    exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    read -r -t 2 line <&3 && [[ $line == +PONG* ]]
  ) 2> /dev/null
}

server_ready() {  # PORT: the gRPC health service says SERVING (or the port accepts, without the probe)
  if [ -n "$probe" ]; then "$probe" --addr "127.0.0.1:$1" --timeout 2 > /dev/null 2>&1; else port_open "$1"; fi
}

wait_until() {  # NAME CHECK ARGS... : polls CHECK until it succeeds, NAME dies or --timeout passes
  local name=$1 i
  shift
  for ((i = 0; i < timeout * 5; i++)); do
    "$@" && return 0
    alive "$name" || { say "$name exited during start-up"; log_tail "$name"; return 1; }
    sleep 0.2
  done
  say "$name did not get ready within ${timeout}s"
  log_tail "$name"
  return 1
}

# ---- binaries --------------------------------------------------------------------

find_built() {  # NAME: the executable in the build tree (its usual place first)
  local name=$1 sub f
  for sub in server worker client deploy/health bin .; do
    f="$build_dir/$sub/$name"
    [ -f "$f" ] && [ -x "$f" ] && { echo "$f"; return 0; }
  done
  f=$(find "$build_dir" -maxdepth 4 -type f -name "$name" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1)
  [ -n "$f" ] && echo "$f"
}

resolve_binaries() {
  server_bin=${LANDSCAPE_SERVER_BIN:-$(find_built landscape-server)}
  worker_bin=${LANDSCAPE_WORKER_BIN:-$(find_built landscape-worker)}
  redis_bin=${REDIS_SERVER_BIN:-$(command -v redis-server || true)}
  probe=$(find_built landscape-health-probe)
  local missing=0
  if [ -z "$server_bin" ] || [ ! -x "$server_bin" ]; then
    say "landscape-server not found under $build_dir: build it (scripts/build.sh) or name it with LANDSCAPE_SERVER_BIN"
    missing=1
  fi
  if [ "$workers" -gt 0 ] && { [ -z "$worker_bin" ] || [ ! -x "$worker_bin" ]; }; then
    say "landscape-worker not found under $build_dir: build it with the engine (LibTorch; scripts/build.sh) or name it with LANDSCAPE_WORKER_BIN"
    missing=1
  fi
  if [ -z "$redis_bin" ] || [ ! -x "$redis_bin" ]; then
    say "redis-server not found: install Debian's redis-server (scripts/install-deps.sh) or name it with REDIS_SERVER_BIN"
    missing=1
  fi
  [ $missing -eq 0 ] || exit 1
}

# ---- commands --------------------------------------------------------------------

env_lines() {
  echo "export LANDSCAPE_SERVER=127.0.0.1:$port"
  echo "export LANDSCAPE_REDIS=redis://127.0.0.1:$redis_port"
}

# The workers' devices, one entry per worker round robin (the array `devices`); without --workers, a
# list of several entries (or cuda:all) sets the number of workers.
expand_devices() {
  local list=$device n
  if [ "$device" = cuda:all ]; then
    if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
      n=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c . || true)
    else
      n=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
    fi
    [ "${n:-0}" -gt 0 ] || usage_error "--device cuda:all: no GPU is visible (CUDA_VISIBLE_DEVICES is empty, or nvidia-smi -L lists none)"
    list=$(seq -s, -f 'cuda:%g' 0 $((n - 1)))
  fi
  IFS=, read -r -a devices <<< "$list"
  if [ $workers_given -eq 0 ] && [ ${#devices[@]} -gt 1 ]; then workers=${#devices[@]}; fi
}

do_start() {
  expand_devices
  resolve_binaries
  mkdir -p "$(pid_dir)" "$state_dir/logs" "$state_dir/redis" || die "cannot create $state_dir"
  if running_any; then
    say "already running from $state_dir (see: $PROG status --state-dir $state_dir; or stop it)"
    exit 1
  fi
  rm -f "$(pid_dir)"/*.pid
  [ $fresh -eq 1 ] && rm -rf "$state_dir/redis" && mkdir -p "$state_dir/redis"
  [ "$port" -eq 0 ] && port=$(free_port)
  [ "$redis_port" -eq 0 ] && redis_port=$(free_port)
  [ $metrics -eq 1 ] && [ "$metrics_port" -eq 0 ] && metrics_port=$(free_port)
  [ $http -eq 1 ] && [ "$http_port" -eq 0 ] && http_port=$(free_port)
  for p in "$port" "$redis_port" $([ $metrics -eq 1 ] && echo "$metrics_port") $([ $http -eq 1 ] && echo "$http_port"); do
    port_open "$p" && die "port $p on 127.0.0.1 is in use (choose another, or 0 for a free one)"
  done
  if [ -z "$threads" ]; then
    local cores
    cores=$(nproc 2>/dev/null || echo 1)
    threads=$(( workers > 0 ? cores / workers : 1 ))
    [ "$threads" -lt 1 ] && threads=1
  fi
  local redis_url="redis://127.0.0.1:$redis_port"

  spawn redis "$redis_bin" --bind 127.0.0.1 --port "$redis_port" --protected-mode yes \
    --dir "$state_dir/redis" --appendonly yes --appendfsync everysec --save "" \
    --maxmemory-policy noeviction --daemonize no
  wait_until redis redis_ready "$redis_port" || { stop_all; exit 1; }

  local sargs=(--listen "127.0.0.1:$port" --redis "$redis_url")
  [ $metrics -eq 1 ] && sargs+=(--metrics "127.0.0.1:$metrics_port")
  [ $http -eq 1 ] && sargs+=(--http "127.0.0.1:$http_port")
  [ -n "$tokens" ] && sargs+=(--tokens "$(readlink -f "$tokens")")
  spawn server "$server_bin" "${sargs[@]}" "${server_args[@]+"${server_args[@]}"}"
  wait_until server server_ready "$port" || { stop_all; exit 1; }

  local i
  for ((i = 1; i <= workers; i++)); do
    mkdir -p "$state_dir/cache/worker-$i"
    spawn "worker-$i" "$worker_bin" --redis "$redis_url" --device "${devices[$(((i - 1) % ${#devices[@]}))]}" --threads "$threads" \
      --cache "$state_dir/cache/worker-$i" --drain-timeout "$drain_timeout" \
      "${worker_args[@]+"${worker_args[@]}"}"
  done
  # A worker with a bad flag or no engine exits at once: look before saying "ready".
  sleep 0.5
  for ((i = 1; i <= workers; i++)); do
    if ! alive "worker-$i"; then
      say "worker-$i exited during start-up"
      log_tail "worker-$i"
      stop_all
      exit 1
    fi
  done
  env_lines > "$state_dir/env"
  say "ready: server 127.0.0.1:$port, Redis $redis_url (AOF in $state_dir/redis), $workers worker(s) on $(IFS=,; echo "${devices[*]}") x$threads threads$([ $metrics -eq 1 ] && echo ", metrics http://127.0.0.1:$metrics_port/metrics")$([ $http -eq 1 ] && echo ", dashboard http://127.0.0.1:$http_port/")"
  say "logs in $state_dir/logs; stop with: $PROG stop --state-dir $state_dir"
}

do_stop() {
  if ! [ -d "$(pid_dir)" ] || ! running_any; then
    rm -f "$(pid_dir)"/*.pid "$state_dir/env" 2>/dev/null
    say "nothing runs from $state_dir"
    return 0
  fi
  stop_all && say "stopped (logs and Redis data kept in $state_dir)"
}

do_status() {
  local n any=0 all=1
  if [ -d "$(pid_dir)" ]; then
    for n in $(names); do
      if alive "$n"; then echo "$n: running (pid $(pid_of "$n"))"; any=1; else echo "$n: stopped"; all=0; fi
    done
  fi
  if [ $any -eq 1 ] && [ $all -eq 1 ]; then
    [ -f "$state_dir/env" ] && sed 's/^export /  /' "$state_dir/env"
    return 0
  fi
  [ $any -eq 0 ] && echo "not running ($state_dir)"
  return 3
}

main() {
  parse_args "$@"
  case "$cmd" in
    start)
      do_start
      env_lines
      ;;
    stop) do_stop ;;
    status) do_status ;;
    env)
      running_any && [ -f "$state_dir/env" ] || { say "not running ($state_dir)"; exit 3; }
      cat "$state_dir/env"
      ;;
    run)
      trap 'stop_all; exit 130' INT TERM
      do_start
      local rc
      LANDSCAPE_SERVER=127.0.0.1:$port LANDSCAPE_REDIS=redis://127.0.0.1:$redis_port "${command_to_run[@]}"
      rc=$?
      stop_all
      exit $rc
      ;;
    foreground)
      trap 'say "stopping"; stop_all; exit 0' INT TERM
      do_start
      env_lines
      say "running in the foreground: Ctrl-C stops everything"
      while running_any; do sleep 1; done
      say "every process has exited"
      stop_all
      exit 1
      ;;
  esac
}

main "$@"
