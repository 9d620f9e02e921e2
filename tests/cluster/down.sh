#!/usr/bin/env bash
# Tears down a cluster started by up.sh: stops every process it started (TERM, then
# KILL), checks that none of its ports is still listening, and removes its data.
#   tests/cluster/down.sh --state-dir DIR [--quiet]
set -uo pipefail
state="" quiet=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --state-dir) state=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    *) echo "down.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -n $state ]] || { echo "down.sh: --state-dir is required" >&2; exit 2; }
data=("$state/etcd" "$state/pki" "$state/kubeconfig" "$state/tokens.csv" "$state/env" "$state"/cmdline.*)
if [[ ! -f $state/pids ]]; then
  # No processes to stop, but data may be left by a teardown cut short (a reaper killed
  # between removing pids and the data, a machine restart): up.sh must start from empty.
  rm -rf "${data[@]}"
  ((quiet)) || echo "down.sh: no cluster at $state" >&2
  exit 0
fi

mapfile -t entries < "$state/pids"
rm -f "$state/pids"   # tells the reaper the teardown is under way
pids=()
for entry in "${entries[@]}"; do
  pid=${entry##* }
  # Called by the reaper itself (bash may have exec-ed into us, so check both).
  [[ ${entry%% *} == reaper && ($pid == "$$" || $pid == "${PPID:-}") ]] && continue
  kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
done
for _ in $(seq 1 50); do  # 5 s for a graceful stop
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  ((alive)) || break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done

status=0
if [[ -f $state/env ]]; then
  # shellcheck disable=SC1091
  source "$state/env"
  for port in $NODEBOOT_E2E_PORTS; do
    for _ in $(seq 1 30); do
      ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || break
      sleep 0.1
    done
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      echo "down.sh: port $port is still listening" >&2
      status=1
    fi
  done
fi
rm -rf "${data[@]}"
((quiet)) || echo "down.sh: cluster at $state stopped" >&2
exit $status
