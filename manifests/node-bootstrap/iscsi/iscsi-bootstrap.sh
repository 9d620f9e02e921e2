#!/bin/bash
# iscsi-bootstrap.sh: installs open-iscsi for Longhorn (seeds 000/001) and proves it works.
#
#   iscsi-bootstrap.sh install   install what is missing, then print ONE JSON result line on
#                                stdout (logs go to stderr); exit 0 when done for good
#                                (ok, unsupported), 1 when a retry may help (apt failed)
#   iscsi-bootstrap.sh check     exit 0 only while iscsid runs and iscsi_tcp is loaded (the
#                                readiness probe: in the pod it reads the host's /proc and
#                                /run through /proc/1/root, with shell builtins only)
#   iscsi-bootstrap.sh probe     the same question answered as ONE JSON result line (the
#                                install result's shape) for `kubectl nodeboot verify --deep`;
#                                read-only: installs, loads, enables and writes nothing; exit 0
#                                whenever it could answer (the verdict is in the line)
#
# In the DaemonSet pod (NODEBOOT_IN_POD=1) the script re-runs itself (for all but `check`)
# in the host's namespaces (nsenter into PID 1, which needs hostPID and privileged), so
# apt-get, systemctl and modprobe act on the host; `install` runs there as the transient unit
# nodeboot-iscsi-bootstrap (outside the pod's CPU and memory limits, see below) from a copy
# of the script in /run/nodeboot; `install` also writes its result line to the container's
# termination log (so does `probe`), where `kubectl nodeboot verify` reads it through the
# API (no RBAC).
# Idempotent: a node that already has open-iscsi, iscsid active and iscsi_tcp loaded (and
# persisted) sees only read-only queries. NODEBOOT_ROOT prefixes every host file path
# (tests run the script in a temporary root).
set -euo pipefail

readonly self_name=iscsi-bootstrap.sh

# The host's files: in the pod (hostPID, privileged) through PID 1's root, which the
# readiness probe reads without leaving the container (below).
if [[ ${NODEBOOT_IN_POD:-0} == 1 ]]; then root=${NODEBOOT_ROOT:-/proc/1/root}; else root=${NODEBOOT_ROOT:-}; fi
readonly modules_conf=$root/etc/modules-load.d/iscsi-tcp.conf
# Wait this long for another apt/dpkg (unattended-upgrades) to let go of the lock instead
# of failing the first boot of every node at once.
readonly apt_lock_timeout=300

log() { printf '%s: %s\n' "$self_name" "$*" >&2; }

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/ }
  printf '"%s"' "$(printf '%s' "$s" | LC_ALL=C tr -d '\000-\037')"
}

json_bool() { if "$@"; then printf true; else printf false; fi; }

os_id="" os_version="" os_name="unknown OS"
read_os() {
  local f=$root/etc/os-release
  [[ -r $f ]] || return 0
  # shellcheck source=/dev/null
  os_id=$(. "$f" && printf '%s' "${ID:-}")
  # shellcheck source=/dev/null
  os_version=$(. "$f" && printf '%s' "${VERSION_ID:-}")
  # shellcheck source=/dev/null
  os_name=$(. "$f" && printf '%s' "${PRETTY_NAME:-${ID:-unknown OS}}")
}

# supported (the seeds' target), untested (apt, but not Ubuntu 22.04/24.04) or unsupported.
distro_support() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo unsupported
  elif [[ $os_id == ubuntu && ($os_version == 22.04 || $os_version == 24.04) ]]; then
    echo supported
  else
    echo untested
  fi
}

# Shell builtins only (the readiness probe's budget, see the end of the script).
module_loaded() {
  local name _
  while read -r name _; do [[ $name == "$1" ]] && return 0; done 2>/dev/null <"$root/proc/modules"
  return 1
}
iscsid_active() { systemctl is-active --quiet iscsid; }
# The daemon itself, without asking systemd: the process its unit's PID file names
# (Debian's and Ubuntu's iscsid.service: PIDFile=/run/iscsid.pid) is alive and is iscsid.
iscsid_running() {
  local pid comm
  read -r pid 2>/dev/null <"$root/run/iscsid.pid" || return 1
  [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
  read -r comm 2>/dev/null <"$root/proc/$pid/comm" && [[ $comm == iscsid ]]
}
package_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
capability_ok() { iscsid_active && module_loaded iscsi_tcp; }

emit() {  # status reason message
  printf '{"v":1,"check":"iscsi","status":%s,"reason":%s,"message":%s,"os":%s,"iscsid":%s,"iscsiTcp":%s}\n' \
    "$(json_str "$1")" "$(json_str "$2")" "$(json_str "$3")" "$(json_str "$os_name")" \
    "$(json_str "$(systemctl is-active iscsid 2>/dev/null || true)")" "$(json_bool module_loaded iscsi_tcp)"
}

apt_error=""
apt_install() {
  local out
  export DEBIAN_FRONTEND=noninteractive
  if out=$(apt-get -o DPkg::Lock::Timeout=$apt_lock_timeout update -qq 2>&1 </dev/null) &&
    out+=$(apt-get -o DPkg::Lock::Timeout=$apt_lock_timeout install -y -qq --no-install-recommends "$@" 2>&1 </dev/null); then
    [[ -z $out ]] || printf '%s\n' "$out" >&2
    return 0
  fi
  printf '%s\n' "$out" >&2
  apt_error=$(printf '%s\n' "$out" | grep -E '^E:' | tail -n 1 || true)
  [[ -n $apt_error ]] || apt_error=$(printf '%s\n' "$out" | tail -n 1)
  return 1
}

# Writes `content` to `file` only when it differs, so a second run changes nothing.
ensure_file() {
  local file=$1 content=$2
  if [[ -f $file && $(<"$file") == "$content" ]]; then return 0; fi
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$content" >"$file.tmp" && mv "$file.tmp" "$file"
  log "wrote $file"
}

cmd_install() {
  read_os
  local support
  support=$(distro_support)
  if [[ $support == unsupported ]]; then
    log "$os_name has no apt-get: not supported"
    emit unsupported UnsupportedDistro "$os_name is not supported: nodeboot installs open-iscsi with apt-get on Ubuntu 22.04 or 24.04; install open-iscsi, enable iscsid and load iscsi_tcp by hand"
    return 0
  fi
  [[ $support == supported ]] || log "warning: $os_name is untested (the target is Ubuntu 22.04 or 24.04); trying apt-get"

  if ! package_installed open-iscsi; then
    log "installing open-iscsi"
    if ! apt_install open-iscsi; then
      emit failed AptFailed "apt-get install open-iscsi failed: $apt_error"
      return 1
    fi
  fi
  # Longhorn needs iscsi_tcp; Ubuntu's open-iscsi does not load it at boot.
  ensure_file "$modules_conf" "iscsi_tcp"
  if ! module_loaded iscsi_tcp && ! modprobe iscsi_tcp; then
    emit failed ModprobeFailed "modprobe iscsi_tcp failed (is linux-modules-extra for this kernel installed?)"
    return 1
  fi
  if ! systemctl is-enabled --quiet iscsid 2>/dev/null; then
    systemctl enable iscsid || log "warning: systemctl enable iscsid failed"
  fi
  if ! iscsid_active && ! systemctl start iscsid; then
    emit failed IscsidFailed "systemctl start iscsid failed; see journalctl -u iscsid on the node"
    return 1
  fi
  if ! capability_ok; then
    emit failed CheckFailed "open-iscsi is installed but iscsid is not active or iscsi_tcp is not loaded"
    return 1
  fi
  emit ok Ready "iscsid active, iscsi_tcp loaded"
}

cmd_check() {
  if ! iscsid_running; then
    echo "iscsid is not running (/run/iscsid.pid names no live iscsid)" >&2
    return 1
  fi
  if ! module_loaded iscsi_tcp; then
    echo "iscsi_tcp is not loaded" >&2
    return 1
  fi
}

cmd_probe() {
  read_os
  if capability_ok; then
    emit ok Ready "iscsid active, iscsi_tcp loaded"
  elif ! package_installed open-iscsi; then
    emit failed NotInstalled "open-iscsi is not installed (the rke2-node-bootstrap-iscsi DaemonSet installs it)"
  elif ! iscsid_active; then
    emit failed IscsidInactive "iscsid is $(systemctl is-active iscsid 2>/dev/null || true); see journalctl -u iscsid on the node"
  else
    emit failed IscsiTcpNotLoaded "iscsi_tcp is not loaded (modprobe iscsi_tcp; is linux-modules-extra for this kernel installed?)"
  fi
}

# In the DaemonSet pod: runs the command in the host's namespaces (see the header).
in_pod() {
  local host_ns unit on_host host rc out
  host_ns=(nsenter --target 1 --mount --uts --ipc --net --pid --)
  if [[ ${1:-} == install ]]; then
    # The install runs as a transient unit of the host's systemd, outside this container's
    # cgroup: under the seed's 50m CPU and 64Mi memory, apt-get crawls for many minutes and
    # dpkg can be OOM-killed half-way, which leaves the host's package database broken. The
    # unit also outlives the pod, so a pod deleted mid-install does not cut dpkg off. The
    # script is copied to the host first (as the seed's DaemonSet does), under /run: it is
    # gone at the next boot. Its output comes back here (--pipe: the pod's log); the node's
    # journal (`journalctl -u $unit`) records when the unit ran and the CPU it used.
    unit=nodeboot-iscsi-bootstrap
    on_host=${NODEBOOT_ROOT:-}/run/nodeboot/$self_name
    # shellcheck disable=SC2016 # $1 is the inner shell's
    "${host_ns[@]}" sh -c 'mkdir -p "${1%/*}" && cat >"$1.tmp" && chmod 0755 "$1.tmp" && mv "$1.tmp" "$1"' sh "$on_host" <"$0"
    # A run that an earlier pod started may still be going: let it finish first.
    while "${host_ns[@]}" systemctl is-active --quiet "$unit.service"; do sleep 5; done
    host=("${host_ns[@]}" systemd-run --unit="$unit" --description="nodeboot: open-iscsi for Longhorn" --quiet --collect
      --wait --pipe -- /bin/bash "$on_host")
  else
    # The script's own text goes along as an argument: nothing is copied onto the host.
    host=("${host_ns[@]}" env NODEBOOT_IN_POD=0 bash -c "$(<"$0")" "$self_name")
  fi
  if [[ ${1:-} == install || ${1:-} == probe ]]; then
    rc=0
    out=$("${host[@]}" "$1") || rc=$?
    printf '%s\n' "$out" | tail -n 1 >"${NODEBOOT_TERMINATION_LOG:-/dev/termination-log}"
    printf '%s\n' "$out"
    exit "$rc"
  fi
  exec "${host[@]}" "$@"
}

# The readiness probe runs every 30 s inside the container's 50m CPU limit, where each
# process started costs seconds on a slow or busy node: it stays in the container and
# answers with shell builtins from the host's files. Everything else runs on the host.
if [[ ${NODEBOOT_IN_POD:-0} == 1 && ${1:-} != check ]]; then in_pod "$@"; fi

case ${1:-} in
  install) cmd_install ;;
  check) cmd_check ;;
  probe) cmd_probe ;;
  *)
    echo "usage: $self_name install|check|probe" >&2
    exit 2
    ;;
esac
