#!/usr/bin/env bash
# Installs what nodeboot needs to build and test, from Debian's packages. Idempotent:
# apt runs only when something is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates openssl python3 iproute2
  libssl-dev nlohmann-json3-dev libyaml-cpp-dev libcxxopts-dev
  libcurl4-openssl-dev libboost-test-dev libsimdjson-dev
  libnghttp2-dev zlib1g-dev  # the portable kubectl-nodeboot (scripts/release.sh): static archives
  libunwind-14-dev  # ... and its unwinder (LLVM's: gcc's needs glibc 2.35, cmake/portable.cmake)
  dpkg-dev  # dpkg-source: curl's source (release) and cpp-httplib's (packaging/httplib, at configure)
  dnsmasq-base  # `cluster serve` runs it; tests check generated configs with `dnsmasq --test`
  shellcheck  # tests: the node-bootstrap scripts are shellcheck-clean
  ccache  # rebuilds (second build tree, branch switches) reuse objects
  clang-tidy-14 clang-format-14  # scripts/tidy.sh, scripts/format.sh (.clang-tidy, .clang-format are for 14)
  # integration/agent_mcd: the agent extracts machine-config-daemon with real podman from a
  # local docker-registry (htpasswd: libxcrypt's bcrypt), images made with umoci and skopeo.
  # The release's images (packaging/images/): a Debian root without a daemon, assembled as
  # an OCI archive; the image tests convert it (skopeo) and run it in a private dockerd.
  podman skopeo umoci docker-registry libcrypt-dev mmdebstrap docker.io debian-archive-keyring
  golang-go
  libblkid-dev  # tests/cluster/build-tools.sh: Ignition's own binary is cgo on libblkid
  # The node layer (tests/nodes/): worker VMs under QEMU (TCG), their disk from mmdebstrap as
  # an ext4 image with qcow2 overlays; the sandbox image's static pause (libc6-dev's libc.a).
  qemu-system-x86 qemu-utils e2fsprogs libc6-dev
)
# Fuzzing (clang's libFuzzer: tests/fuzz/) and benchmarks (wrk, nginx: bench/) only with
# --extras; the test command needs none of them.
[[ ${1:-} == --extras ]] && packages+=(clang-16 libclang-rt-16-dev wrk nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Go comes with the machine; Debian's golang-go is only a fallback when it does not.
if command -v go >/dev/null; then
  missing=("${missing[@]/golang-go/}")
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "deps: kubectl is required on PATH (the machine provides 1.32)" >&2; exit 1; }
