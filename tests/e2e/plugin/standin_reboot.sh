#!/usr/bin/env bash
# STAND-IN for `systemctl reboot` (no machine to reboot here): marks HOST_ROOT/reboot-requested
# and kills the whole process group it runs in, the "unit" standin_systemd_run.sh started,
# as a reboot ends every process. The test then plays the new boot (a new boot id, the Node
# Ready with a new bootID) and starts the boot-time unit. Refuses to kill the test itself.
set -euo pipefail
root=${1:?usage: standin_reboot.sh HOST_ROOT}
read -r -a stat </proc/$$/stat
pgid=${stat[4]}
if [[ $pgid == "${NODEBOOT_STANDIN_TEST_PGID:-}" ]]; then
  echo "standin reboot: would kill the test's own process group; run me under standin_systemd_run.sh" >&2
  exit 70
fi
touch "$root/reboot-requested"
kill -KILL -- "-$pgid"
