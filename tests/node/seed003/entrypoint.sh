#!/bin/bash
# The RHEL payload of the node layer's seed 003 case (tests/node/vm_nodes_test.cpp), packed
# into payload.tar and served over HTTPS from the host. Like a real one that updates the
# kernel, its first run reboots the node mid-way and the second, after the boot, finishes.
# Each run leaves a line with its boot ID and environment in /var/lib/nodeboot-e2e.
set -euo pipefail
record=/var/lib/nodeboot-e2e
mkdir -p "$record"
read -r boot </proc/sys/kernel/random/boot_id
echo "run ${NODEBOOT_ENTRYPOINT_RUN} boot ${boot} worker ${WORKER_ID} cluster ${CLUSTER_ID} region ${REGION}" \
  >>"$record/entrypoint.runs"
[[ -f $NODEBOOT_PAYLOAD_DIR/entrypoint.sh ]] || { echo "not run from the unpacked payload" >&2; exit 1; }
if [[ $NODEBOOT_ENTRYPOINT_RUN == 1 ]]; then
  touch "$record/phase1"
  systemctl reboot
  sleep infinity # the reboot ends this run, as it ends a real installer's
fi
[[ -f $record/phase1 ]] || { echo "the first phase never ran" >&2; exit 1; }
touch "$record/phase2"
echo "payload: done on boot ${boot}"
