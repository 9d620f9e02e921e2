# shellcheck shell=bash
# Sourced by tests/cluster/{up,down}.sh and tests/nodes/{up,down}.sh: the processes a test
# environment starts are recorded as "NAME PID" lines in STATE/pids, stopped together, and
# stopped by a reaper when the process that asked for them is gone.

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# "ADDRESS PORT": a free port P and a loopback address 127.66.X.Y derived from it on which P
# is free too (so parallel runs never share one).
free_loopback_address() {
  python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    addr = "127.66.%d.%d" % (port >> 8, port & 255)
    try:
        t = socket.socket(); t.bind((addr, port)); t.close()
    except OSError:
        continue
    print(addr, port); break'
}

# start_recorded STATE NAME LOG COMMAND...: detached, in its own session, without inherited
# pipes (ctest waits on them), recorded in STATE/pids.
start_recorded() {
  local state=$1 name=$2 log=$3; shift 3
  setsid "$@" </dev/null >"$log" 2>&1 &
  echo "$name $!" >>"$state/pids"
}

# process_alive STATE NAME
process_alive() {
  local pid
  pid=$(awk -v n="$2" '$1==n {print $2}' "$1/pids" 2>/dev/null)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# start_reaper WATCH_PID STATE DOWN_SCRIPT [LOG]: when WATCH_PID is gone and STATE/pids is
# still there, runs DOWN_SCRIPT --state-dir STATE --quiet (output in LOG, STATE/reaper.log).
start_reaper() {
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f "$2/pids" ]]; do sleep 1; done
    [[ -f "$2/pids" ]] && "$3" --state-dir "$2" --quiet' reaper "$1" "$2" "$3" \
    </dev/null >>"${4:-$2/reaper.log}" 2>&1 &
  echo "reaper $!" >>"$2/pids"
}

# stop_recorded STATE [GRACE_TENTHS]: TERM every recorded process (not the reaper calling
# this), KILL what is left after the grace (default 5 s); removes STATE/pids first, which
# tells the reaper the teardown is under way. Returns 1 when there was nothing recorded.
stop_recorded() {
  local state=$1 grace=${2:-50} entry pid alive
  [[ -f $state/pids ]] || return 1
  local entries=() pids=()
  mapfile -t entries <"$state/pids"
  rm -f "$state/pids"
  for entry in "${entries[@]}"; do
    pid=${entry##* }
    # Called by the reaper itself (bash may have exec-ed into us, so check both).
    [[ ${entry%% *} == reaper && ($pid == "$$" || $pid == "${PPID:-}") ]] && continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for _ in $(seq 1 "$grace"); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  return 0
}

# down_args PROGRAM ARGS...: a teardown script's flags, --state-dir DIR [--quiet], into
# $state and $quiet.
down_args() {
  local prog=$1; shift
  state="" quiet=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --state-dir) state=$2; shift 2 ;;
      --quiet) quiet=1; shift ;;
      *) echo "$prog: unknown flag $1 (expected --state-dir DIR [--quiet])" >&2; exit 2 ;;
    esac
  done
  [[ -n $state ]] || { echo "$prog: --state-dir is required" >&2; exit 2; }
}
