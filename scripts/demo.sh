#!/usr/bin/env bash
# The demo (README): builds nodeboot, starts a real local control plane (etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager) with kwok-simulated nodes,
# and runs nodeboot against it. The cluster is torn down when the demo ends, unless
# --keep is given (then tests/cluster/down.sh --state-dir build/demo-cluster stops it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=0
[[ ${1:-} == --keep ]] && keep=1
state=$root/build/demo-cluster
"$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target kubectl-nodeboot nodeboot-webhook nodeboot-agent
watch_pid=$$
((keep)) && watch_pid=1   # init never exits: the cluster stays up
if ((!keep)); then trap '"$root/tests/cluster/down.sh" --state-dir "$state"' EXIT; fi
"$root/tests/cluster/up.sh" --state-dir "$state" --nodes 5 --watch-pid "$watch_pid"

export KUBECONFIG=$state/kubeconfig PATH=$root/build/bin:$PATH
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step kubectl get nodes -o wide
step kubectl nodeboot version
step kubectl nodeboot --help
if ((keep)); then
  printf '\nThe cluster stays up:\n  export KUBECONFIG=%s PATH=%s/build/bin:$PATH\n' "$state/kubeconfig" "$root"
  printf 'Stop it with: tests/cluster/down.sh --state-dir %s\n' "$state"
fi
