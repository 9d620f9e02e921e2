#!/usr/bin/env bash
# STAND-IN for `systemctl reboot` (no machine to reboot here): marks HOST_ROOT/reboot-requested
# and kills every process of the session it runs in, the "unit" standin_systemd_run.sh
# started (setsid), as a reboot ends every process of every unit: the resume process and the
# step's own process group alike. The test then plays the new boot (a new boot id, the Node
# Ready with a new bootID) and starts the boot-time unit. Refuses to kill the test itself.
set -euo pipefail
root=${1:?usage: standin_reboot.sh HOST_ROOT}
session() {  # pid -> its session id (field 6 of /proc/PID/stat; the name may hold spaces)
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  read -r -a fields <<<"$stat"
  echo "${fields[3]}"
}
sid=$(session $$)
if [[ $sid == "${NODEBOOT_STANDIN_TEST_SID:-}" ]]; then
  echo "standin reboot: would kill the test's own session; run me under standin_systemd_run.sh" >&2
  exit 70
fi
touch "$root/reboot-requested"
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [[ $pid == "$$" ]] && continue
  [[ $(session "$pid" 2>/dev/null) == "$sid" ]] && kill -KILL "$pid" 2>/dev/null || true
done
kill -KILL $$
