#!/bin/bash
# gpu-bootstrap.sh: sets up Intel QuickSync (seed 000) and proves it works.
#
#   gpu-bootstrap.sh install   load i915, drm, drm_kms_helper and video (and persist them),
#                              install the seed's packages with apt-get, write the marker
#                              /var/lib/gpu-bootstrap.done, then print ONE JSON result line on
#                              stdout (logs go to stderr). Exit 0 when done for good (ok,
#                              not-applicable, unsupported), 1 when a retry may help.
#   gpu-bootstrap.sh check     exit 0 only while i915 is loaded, a /dev/dri/renderD* node
#                              exists and vainfo reports the iHD driver with an encode
#                              entrypoint; also 0 on a node without an Intel GPU (nothing to
#                              prove there). The readiness probe.
#   gpu-bootstrap.sh probe     the same question answered as ONE JSON result line (the
#                              install result's shape) for `kubectl nodeboot verify --deep`;
#                              read-only: installs, loads and writes nothing (no marker); exit
#                              0 whenever it could answer (the verdict is in the line).
#   gpu-bootstrap.sh live      exit 0 when the marker exists or the node is out of scope (no
#                              Intel GPU, no apt-get): restarting the container cannot change
#                              either. The liveness probe.
#
# In the DaemonSet pod (NODEBOOT_IN_POD=1) the script re-runs itself in the host's
# namespaces (the probes only on a node with an Intel GPU; nsenter into PID 1: hostPID,
# privileged), so apt-get and modprobe act on the host (the seed used a chroot, which
# cannot reach the host's systemd); `install` runs there as the transient systemd unit
# nodeboot-gpu-bootstrap (outside the pod's CPU and memory limits, see below) from a copy
# of the script in /run/nodeboot; `install` and `probe` also write their result line to
# the container's termination log, where `kubectl nodeboot verify` reads it through the
# API. The marker makes a second run change nothing.
# NODEBOOT_ROOT prefixes every host file path (tests run the script in a temporary root).
set -euo pipefail

readonly self_name=gpu-bootstrap.sh

# The host's files: in the pod (hostPID, privileged) through PID 1's root, which the
# probes read without leaving the container where they can (below).
if [[ ${NODEBOOT_IN_POD:-0} == 1 ]]; then root=${NODEBOOT_ROOT:-/proc/1/root}; else root=${NODEBOOT_ROOT:-}; fi
readonly marker=$root/var/lib/gpu-bootstrap.done
readonly modules_conf=$root/etc/modules-load.d/gpu-bootstrap.conf
readonly modules=(i915 drm drm_kms_helper video)
readonly packages=(intel-media-va-driver-non-free intel-opencl-icd libva-dev vainfo)
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

# A PCI display controller (class 0x03xxxx) from Intel (vendor 0x8086).
intel_gpu_present() {
  local dev
  for dev in "$root"/sys/bus/pci/devices/*; do
    [[ -r $dev/vendor && -r $dev/class ]] || continue
    if [[ $(<"$dev/vendor") == 0x8086 && $(<"$dev/class") == 0x03* ]]; then return 0; fi
  done
  return 1
}

module_loaded() {
  local name _
  while read -r name _; do [[ $name == "$1" ]] && return 0; done 2>/dev/null <"$root/proc/modules"
  return 1
}

render_node() {
  local n
  for n in "$root"/dev/dri/renderD*; do
    if [[ -e $n ]]; then
      printf '%s' "$n"
      return 0
    fi
  done
  return 1
}

# Fills the facts the result line reports; returns 0 when QuickSync works.
i915=false render="" va_driver="" encode_profiles=() probe_problem=""
probe_quicksync() {
  i915=false render="" va_driver="" encode_profiles=() probe_problem=""
  module_loaded i915 && i915=true
  render=$(render_node) || render=""
  if [[ $i915 != true ]]; then
    probe_problem="the i915 kernel module is not loaded"
    return 1
  fi
  if [[ -z $render ]]; then
    probe_problem="no /dev/dri/renderD* device node"
    return 1
  fi
  local out
  if ! out=$(vainfo --display drm --device "$render" 2>&1); then
    probe_problem="vainfo failed on $render: $(printf '%s\n' "$out" | tail -n 1)"
    return 1
  fi
  if [[ $out =~ Driver\ version:\ ([^$'\n']*) ]]; then va_driver=${BASH_REMATCH[1]}; fi
  mapfile -t encode_profiles < <(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*VAProfile\([A-Za-z0-9_]*\)[[:space:]]*:[[:space:]]*VAEntrypointEncSlice.*/\1/p' | sort -u)
  if [[ $va_driver != *"iHD driver"* ]]; then
    probe_problem="vainfo does not report the Intel iHD driver (driver: ${va_driver:-none}); intel-media-va-driver-non-free supports Broadwell and newer"
    return 1
  fi
  if ((${#encode_profiles[@]} == 0)); then
    probe_problem="the iHD driver reports no encode entrypoint (VAEntrypointEncSlice*)"
    return 1
  fi
}

emit() {  # status reason message
  local enc="" p
  for p in "${encode_profiles[@]}"; do enc+=${enc:+,}$(json_str "$p"); done
  printf '{"v":1,"check":"quicksync","status":%s,"reason":%s,"message":%s,"os":%s,"i915":%s,"renderNode":%s,"vaDriver":%s,"encode":[%s]}\n' \
    "$(json_str "$1")" "$(json_str "$2")" "$(json_str "$3")" "$(json_str "$os_name")" \
    "$i915" "$(json_str "${render#"$root"}")" "$(json_str "$va_driver")" "$enc"
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
  if ! intel_gpu_present; then
    log "no Intel GPU on this node: nothing to do"
    emit not-applicable NoIntelGPU "no Intel display controller (PCI vendor 0x8086, class 0x03) on this node"
    return 0
  fi
  if [[ -e $marker ]]; then
    log "$marker exists: already bootstrapped, nothing to do"
    if probe_quicksync; then
      emit ok Ready "already bootstrapped; iHD driver with encode entrypoints"
    else
      emit failed CheckFailed "bootstrapped earlier ($marker) but QuickSync does not work now: $probe_problem"
    fi
    return 0
  fi
  local support
  support=$(distro_support)
  if [[ $support == unsupported ]]; then
    log "$os_name has no apt-get: not supported"
    emit unsupported UnsupportedDistro "$os_name is not supported: nodeboot installs the Intel media packages with apt-get on Ubuntu 22.04 or 24.04"
    return 0
  fi
  [[ $support == supported ]] || log "warning: $os_name is untested (the target is Ubuntu 22.04 or 24.04); trying apt-get"

  ensure_file "$modules_conf" "$(printf '%s\n' "${modules[@]}")"
  local m
  for m in "${modules[@]}"; do
    if ! module_loaded "$m" && ! modprobe "$m"; then
      emit failed ModprobeFailed "modprobe $m failed"
      return 1
    fi
  done
  log "installing ${packages[*]}"
  if ! apt_install "${packages[@]}"; then
    emit failed AptFailed "apt-get install ${packages[*]} failed: $apt_error (intel-media-va-driver-non-free is in Ubuntu's multiverse component)"
    return 1
  fi
  # The install is done for good: a retry would repeat the same steps. Whether QuickSync
  # works is the readiness probe's question from here on.
  mkdir -p "$(dirname "$marker")"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$marker"
  if probe_quicksync; then
    emit ok Ready "iHD driver with encode entrypoints"
  else
    emit failed CheckFailed "installed, but QuickSync does not work: $probe_problem"
  fi
}

cmd_check() {
  if ! intel_gpu_present; then return 0; fi
  if ! probe_quicksync; then
    echo "$probe_problem" >&2
    return 1
  fi
}

cmd_live() {
  [[ -e $marker ]] && return 0
  intel_gpu_present || return 0
  command -v apt-get >/dev/null 2>&1 || return 0
  echo "$marker is missing" >&2
  return 1
}

cmd_probe() {
  read_os
  if ! intel_gpu_present; then
    emit not-applicable NoIntelGPU "no Intel display controller (PCI vendor 0x8086, class 0x03) on this node"
  elif probe_quicksync; then
    emit ok Ready "iHD driver with encode entrypoints"
  else
    local why="QuickSync does not work: $probe_problem"
    [[ -e $marker ]] || why+=" (not bootstrapped: ${marker#"$root"} is missing)"
    emit failed CheckFailed "$why"
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
    unit=nodeboot-gpu-bootstrap
    on_host=${NODEBOOT_ROOT:-}/run/nodeboot/$self_name
    # shellcheck disable=SC2016 # $1 is the inner shell's
    "${host_ns[@]}" sh -c 'mkdir -p "${1%/*}" && cat >"$1.tmp" && chmod 0755 "$1.tmp" && mv "$1.tmp" "$1"' sh "$on_host" <"$0"
    # A run that an earlier pod started may still be going: let it finish first.
    while "${host_ns[@]}" systemctl is-active --quiet "$unit.service"; do sleep 5; done
    host=("${host_ns[@]}" systemd-run --unit="$unit" --description="nodeboot: Intel QuickSync" --quiet --collect
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

# The probes run inside the container's 100m CPU limit, where each process started costs
# seconds on a slow or busy node: what shell builtins can answer from the host's files
# (no Intel GPU; the marker) is answered in the container, the rest on the host.
if [[ ${NODEBOOT_IN_POD:-0} == 1 ]]; then
  case ${1:-} in
    check) intel_gpu_present || exit 0 ;;
    live) if [[ -e $marker ]] || ! intel_gpu_present; then exit 0; fi ;;
  esac
  in_pod "$@"
fi

case ${1:-} in
  install) cmd_install ;;
  check) cmd_check ;;
  live) cmd_live ;;
  probe) cmd_probe ;;
  *)
    echo "usage: $self_name install|check|live|probe" >&2
    exit 2
    ;;
esac
