#!/usr/bin/env bash
# Restarts one component of a cluster started by up.sh with the command line up.sh recorded
# (STATE/cmdline.NAME), e.g. to prove that watches survive an API server restart.
#   tests/cluster/restart.sh --state-dir DIR [--component kube-apiserver]
# Stops it (TERM, then KILL after 5 s), starts it again, updates STATE/pids, and for the
# API server waits until /readyz answers.
set -euo pipefail
state="" component=kube-apiserver
while [[ $# -gt 0 ]]; do
  case $1 in
    --state-dir) state=$2; shift 2 ;;
    --component) component=$2; shift 2 ;;
    *) echo "restart.sh: unknown flag $1 (expected --state-dir DIR [--component NAME])" >&2; exit 2 ;;
  esac
done
[[ -n $state && -f $state/pids ]] || { echo "restart.sh: no cluster at '$state'" >&2; exit 2; }
[[ -f $state/cmdline.$component ]] || { echo "restart.sh: no recorded command line for $component" >&2; exit 2; }
old=$(awk -v n="$component" '$1==n{print $2}' "$state/pids" | tail -1)
if [[ -n $old ]]; then
  kill -TERM "$old" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$old" 2>/dev/null || true
  while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
fi
mapfile -d '' cmd < "$state/cmdline.$component"
setsid "${cmd[@]}" </dev/null >>"$state/logs/$component.log" 2>&1 &
new=$!
# Replace the component's line; down.sh and the reaper read this file.
{ grep -v "^$component " "$state/pids" || true; echo "$component $new"; } > "$state/pids.new"
mv "$state/pids.new" "$state/pids"
if [[ $component == kube-apiserver ]]; then
  # shellcheck disable=SC1091
  source "$state/env"
  pki=$state/pki
  for _ in $(seq 1 240); do  # 60 s, as up.sh allows a cold start
    if curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$NODEBOOT_E2E_SERVER/readyz" >/dev/null 2>&1; then
      exit 0
    fi
    kill -0 "$new" 2>/dev/null || { echo "restart.sh: kube-apiserver exited" >&2; tail -20 "$state/logs/$component.log" >&2; exit 1; }
    sleep 0.25
  done
  echo "restart.sh: kube-apiserver not ready after 60 s" >&2
  exit 1
fi
