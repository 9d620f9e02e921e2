#!/usr/bin/env bash
# STAND-IN for systemd-run in the in-place bootstrap e2e (no systemd runs here). What the
# agent relies on: `systemd-run --unit=NAME [--collect] [--quiet] CMD...` starts CMD outside
# the caller's process tree and returns at once. Here CMD runs in a session of its own
# (setsid), so the reboot stand-in can end the whole "unit" as a reboot would. Each call is
# logged to $NODEBOOT_STANDIN_UNITS (unit name and command), the unit's output beside it.
set -euo pipefail
unit=""
while (($#)) && [[ $1 == --* ]]; do
  case $1 in
    --unit=*) unit=${1#--unit=} ;;
    --collect | --quiet) ;;
    *) echo "standin systemd-run: unexpected flag $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $unit && $# -gt 0 ]] || { echo "standin systemd-run: usage: --unit=NAME CMD..." >&2; exit 2; }
log=${NODEBOOT_STANDIN_UNITS:?}
echo "$unit $*" >>"$log"
setsid "$@" >>"$log.out" 2>&1 </dev/null &
