#!/usr/bin/env bash
# The test command (README): installs dependencies, builds with warnings as errors,
# builds the control plane, runs every layer (unit, integration, e2e against the real
# control plane, then node: worker VMs joined to a control plane of its own), then the unit
# and integration layers again under ASan+UBSan.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
"$root/scripts/deps.sh"
"$root/tests/cluster/build.sh" >/dev/null

build() {  # dir extra-cmake-args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DNODEBOOT_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# The e2e cluster must never outlive this script, whatever ends it.
cleanup() {
  [[ -d $root/build/node-vms ]] && "$root/tests/nodes/down.sh" --state-dir "$root/build/node-vms" --quiet
  for d in "$root/build/e2e-cluster" "$root/build-asan/e2e-cluster" "$root/build/node-cluster"; do
    [[ -d $d ]] && "$root/tests/cluster/down.sh" --state-dir "$d" --quiet
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (warnings are errors)"
build "$root/build"
echo "== tests"
if (($#)); then
  (cd "$root/build" && ctest --output-on-failure -j "$jobs" "$@")
else
  # The node layer last and alone: its worker VMs (QEMU, TCG) need both cores.
  (cd "$root/build" && ctest --output-on-failure -j "$jobs" -LE node)
  echo "== node layer (worker VMs)"
  # -V: the layer prints its timings (image, boot, join, each test) and boot IDs.
  (cd "$root/build" && ctest --output-on-failure -V -L node)
fi

if [[ -z ${NODEBOOT_SKIP_ASAN:-} ]]; then
  echo "== ASan+UBSan build and tests"
  build "$root/build-asan" -DNODEBOOT_SANITIZE=ON -DNODEBOOT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
  # detect_leaks: libcurl/OpenSSL keep process-lifetime allocations; leaks are checked
  # by the fuzz targets instead. halt_on_error keeps the first report readable.
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" \
    -LE "$([[ -n ${NODEBOOT_ASAN_E2E:-} ]] && echo node || echo 'e2e|node')" "$@")
fi
