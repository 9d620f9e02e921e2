#!/usr/bin/env bash
# Stops the worker VMs started by tests/nodes/up.sh (TERM, then KILL: the disks are
# throw-away overlays), deletes their Node objects while the control plane still answers,
# and removes the VMs' files (overlays, control disks; the consoles stay for the logs).
#   tests/nodes/down.sh --state-dir DIR [--quiet]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../cluster/procs.sh"
down_args nodes/down.sh "$@"
stopped=0
stop_recorded "$state" 30 && stopped=1
status=0
for vm in "$state"/vm-*/; do
  [[ -d $vm ]] || continue
  if pgrep -f -- "-name nodeboot-vm-[0-9]+ .*${vm%/}/disk.qcow2" >/dev/null 2>&1; then
    echo "nodes/down.sh: a QEMU process of ${vm%/} is still running" >&2
    status=1
  fi
  rm -rf "$vm/disk.qcow2" "$vm/control.ext4" "$vm/control" "$vm/qemu.pid"
done
if [[ -f $state/env ]]; then
  # shellcheck disable=SC1091
  source "$state/env"
  if [[ -f ${NODEBOOT_VM_KUBECONFIG:-} ]]; then
    # shellcheck disable=SC2086
    kubectl --kubeconfig "$NODEBOOT_VM_KUBECONFIG" --request-timeout=10s delete node --ignore-not-found \
      $NODEBOOT_VM_NODES >/dev/null 2>&1 || true
  fi
fi
rm -f "$state/env" "$state/bootstrap-kubelet.conf" "$state/bootstrap-token.yaml"
if ((!quiet)); then
  if ((stopped)); then echo "nodes/down.sh: VMs at $state stopped" >&2; else echo "nodes/down.sh: no VMs at $state" >&2; fi
fi
exit $status
