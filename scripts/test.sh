#!/usr/bin/env bash
# The test command (README): installs dependencies, builds with warnings as errors,
# builds the control plane, runs every layer (unit, integration, e2e against the real
# control plane, then node: worker VMs joined to a control plane of its own), then the unit
# and integration layers again under ASan+UBSan and under ThreadSanitizer; clang-tidy on the
# changed files (scripts/tidy.sh) before the tests.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
# NODEBOOT_SKIP_ASAN=1 / NODEBOOT_SKIP_TSAN=1 / NODEBOOT_SKIP_TIDY=1 skip a pass.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
"$root/scripts/deps.sh"
"$root/tests/cluster/build.sh" >/dev/null

build() {  # dir [extra-cmake-args...] [-- targets...]
  local dir=$1; shift
  local args=() targets=()
  while (($#)) && [[ $1 != -- ]]; do args+=("$1"); shift; done
  (($#)) && shift && targets=(--target "$@")
  cmake -S "$root" -B "$dir" -G Ninja -DNODEBOOT_WERROR=ON "${args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

# The e2e cluster and the VM image build must never outlive this script, whatever ends it.
image_pid=""
san_pid=""
cleanup() {
  [[ -n $image_pid ]] && kill -- "-$image_pid" 2>/dev/null
  [[ -n $san_pid ]] && kill -- "-$san_pid" 2>/dev/null && kill -CONT -- "-$san_pid" 2>/dev/null  # paused ones too
  # node-vms/marooned: the marooned case's own VM (its reaper stops it too, with the test).
  for d in "$root/build/node-vms/marooned" "$root/build/node-vms"; do
    [[ -d $d ]] && "$root/tests/nodes/down.sh" --state-dir "$d" --quiet
  done
  for d in "$root/build/e2e-cluster" "$root/build-asan/e2e-cluster" "$root/build-tsan/e2e-cluster" \
    "$root/build/node-cluster"; do
    [[ -d $d ]] && "$root/tests/cluster/down.sh" --state-dir "$d" --quiet
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# clang-format's check of every C++ file (scripts/format.sh fixes them); NODEBOOT_FORMAT_CHECK=0 skips it.
format_check=${NODEBOOT_FORMAT_CHECK:-1}
if [[ $format_check != 0 ]]; then
  echo "== clang-format"
  "$root/scripts/format.sh" --check
fi

# The node layer's VM disk (a Debian root from the mirror, the kubelet) is made meanwhile:
# mostly downloads and unpacking, it overlaps the C++ build instead of following it.
if ((!$#)); then
  mkdir -p "$root/build"
  setsid "$root/tests/nodes/build-image.sh" >"$root/build/node-image.path" 2>"$root/build/node-image.log" &
  image_pid=$!
fi

echo "== build (warnings are errors)"
build "$root/build"
if [[ -z ${NODEBOOT_SKIP_TIDY:-} ]]; then
  echo "== clang-tidy (changed files)"
  "$root/scripts/tidy.sh" -p "$root/build"
fi
# The sanitizer trees are built in the background at the lowest CPU priority while the
# tests run: the e2e and node layers leave cores idle (waits on the API server, on VMs
# booting and downloading), and nice 19 yields them back whenever a test or a VM wants
# them. Their tests run afterwards, as before. The log is printed if a build fails.
asan_e2e=OFF  # the e2e layer in the ASan tree only with NODEBOOT_ASAN_E2E=1
[[ -n ${NODEBOOT_ASAN_E2E:-} ]] && asan_e2e=ON
# NODEBOOT_UNITY: the product libraries as unity builds in both (CMakeLists.txt): in the
# TSan tree they built in 327 s instead of 517 s; every test passed.
# -g1 (line tables: what sanitizer reports and backtraces print) instead of Debug's -g: a
# product unity unit in the ASan tree took 22.97 s instead of 26.38 s and 18 MB instead of 22.
asan_cmake=(-DNODEBOOT_SANITIZE=ON -DNODEBOOT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1
  -DNODEBOOT_E2E_LAYER="$asan_e2e" -DNODEBOOT_UNITY=ON)
# The TSan tree builds only what its two layers run (no e2e layer, no fuzz targets).
tsan_cmake=(-DNODEBOOT_TSAN=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DNODEBOOT_UNITY=ON -- nodeboot_unit_tests
  nodeboot_integration_tests)
san_log="$root/build/sanitizer-builds.log"
# The ASan tree first, then the TSan tree; asan_built marks the first as done, so that its
# tests run while the second still builds behind them (sanitizer_tree_built).
asan_built="$root/build/.asan-tree-built"
rm -f "$asan_built"
set -m  # its own process group, so that cleanup stops all of it
(
  renice -n 19 "$BASHPID" >/dev/null
  [[ -n ${NODEBOOT_SKIP_ASAN:-} ]] || build "$root/build-asan" "${asan_cmake[@]}"
  touch "$asan_built"
  [[ -n ${NODEBOOT_SKIP_TSAN:-} ]] || build "$root/build-tsan" "${tsan_cmake[@]}"
) >"$san_log" 2>&1 &
san_pid=$!
set +m
san_failed() {
  san_pid=""
  echo "sanitizer builds failed:" >&2
  tail -60 "$san_log" >&2
  return 1
}
# Waits until the ASan tree is built (the TSan tree may still be building), or for both
# with `all`; prints the build log when a build failed.
sanitizer_tree_built() {
  local t=$SECONDS
  if [[ ${1:-} == all ]]; then
    wait "$san_pid" || san_failed || return 1
    san_pid=""
    echo "sanitizer builds: done (waited $((SECONDS - t))s for them)"
    return 0
  fi
  while [[ ! -e $asan_built ]]; do
    kill -0 "$san_pid" 2>/dev/null || { wait "$san_pid" || san_failed || return 1; }
    sleep 2
  done
  echo "sanitizer builds: the ASan tree is built (waited $((SECONDS - t))s for it)"
}

echo "== tests"
if (($#)); then
  (cd "$root/build" && ctest --output-on-failure -j "$jobs" "$@")
else
  # The node layer last and alone: its worker VMs (QEMU, TCG) need both cores.
  (cd "$root/build" && ctest --output-on-failure -j "$jobs" -LE node)
  echo "== node layer (worker VMs)"
  # node/vms_up builds the disk itself (and says why) if this did not.
  # node/vms_up boots the disk made here (tests/nodes/up.sh: NODEBOOT_NODE_IMAGE says why).
  if wait "$image_pid"; then
    NODEBOOT_NODE_IMAGE=$(tail -n 1 "$root/build/node-image.path")  # its last line: the disk's folder
    export NODEBOOT_NODE_IMAGE
  else
    echo "VM disk image failed (node/vms_up tries again):"
    tail -20 "$root/build/node-image.log"
  fi
  image_pid=""
  grep -E "^nodes" "$root/build/node-image.log" || true
  # The background builds are paused meanwhile: even at nice 19 they doubled the TCG guests'
  # times (the seed DaemonSets 726 s -> 1,202 s, verify --deep 67 s -> 211 s in one cold run).
  # Ninja gives each compile a process group of its own: those running finish, ninja starts
  # no new one until it is continued.
  [[ -n $san_pid ]] && { kill -STOP -- "-$san_pid" 2>/dev/null || true; }
  # -V: the layer prints its timings (image, boot, join, each test) and boot IDs.
  (cd "$root/build" && ctest --output-on-failure -V -L node)
  [[ -n $san_pid ]] && { kill -CONT -- "-$san_pid" 2>/dev/null || true; }
fi

echo "== sanitizer builds (ASan+UBSan, then ThreadSanitizer behind its tests)"
sanitizer_tree_built

if [[ -z ${NODEBOOT_SKIP_ASAN:-} ]]; then
  echo "== ASan+UBSan tests"
  # The e2e layer only with NODEBOOT_ASAN_E2E=1: built and run against the e2e cluster.
  # detect_leaks: libcurl/OpenSSL keep process-lifetime allocations; leaks are checked
  # by the fuzz targets instead. halt_on_error keeps the first report readable.
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" \
    -LE "$([[ $asan_e2e == ON ]] && echo node || echo 'e2e|node')" "$@")
fi

sanitizer_tree_built all
if [[ -z ${NODEBOOT_SKIP_TSAN:-} ]]; then
  echo "== ThreadSanitizer tests"
  # setarch -R: TSan's fixed shadow layout fails ("unexpected memory mapping") on kernels
  # with more mmap randomisation than it knows; without ASLR it runs everywhere.
  # second_deadlock_stack: both stacks of a lock-order report. tests/tsan.supp: third-party only.
  norandom=()
  command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null && norandom=(setarch "$(uname -m)" -R)
  (cd "$root/build-tsan" && TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp" \
    "${norandom[@]}" ctest --output-on-failure -j "$jobs" -LE 'e2e|fuzz|node' "$@")
fi
