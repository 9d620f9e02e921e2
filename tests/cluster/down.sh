#!/usr/bin/env bash
# Tears down a cluster started by up.sh: stops every process it started (TERM, then
# KILL), checks that none of its ports is still listening, and removes its data.
#   tests/cluster/down.sh --state-dir DIR [--quiet]
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/procs.sh"
down_args down.sh "$@"
data=("$state/etcd" "$state/pki" "$state/kubeconfig" "$state/tokens.csv" "$state/env" "$state"/cmdline.*)
if ! stop_recorded "$state"; then  # 5 s for a graceful stop, then KILL
  # No processes to stop, but data may be left by a teardown cut short (a reaper killed
  # between removing pids and the data, a machine restart): up.sh must start from empty.
  rm -rf "${data[@]}"
  ((quiet)) || echo "down.sh: no cluster at $state" >&2
  exit 0
fi

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
