#!/usr/bin/env bash
# Builds the e2e control plane (etcd, kube-apiserver, kube-scheduler,
# kube-controller-manager, kwok) from the pinned wrapper modules under go/,
# through the Go module proxy. Binaries are cached outside the clone, keyed on
# each module's go.sum and the Go version, so a second run rebuilds nothing.
#
# Prints the directory holding the binaries on stdout (everything else on stderr).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gobuild.sh"
here=$gobuild_here
cache_root=$gobuild_cache
# etcd's main package is its server module: name the binary for what it is.
go_build_rename() { if [[ -f "$1/server" ]]; then mv "$1/server" "$1/etcd"; fi; }
# module dir | Go packages
build_module() {
  local mod=$1; shift
  go_build_cached controlplane "$mod" "$@"
  built_dirs+=("$GO_BUILT_DIR")
}
built_dirs=()

LDFLAGS_EXTRA=$(k8s_version_ldflags) build_module kubernetes k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager
LDFLAGS_EXTRA="" build_module etcd go.etcd.io/etcd/server/v3
LDFLAGS_EXTRA="" build_module kwok sigs.k8s.io/kwok/cmd/kwok
# One folder of links per combination of builds, so checkouts pinning different versions
# never see each other's binaries.
bin_key=$(printf '%s\n' "${built_dirs[@]}" | sha256sum | cut -c1-16)
bin="$cache_root/controlplane/bin-$bin_key"
mkdir -p "$bin"
for d in "${built_dirs[@]}"; do ln -sfn "$d"/* "$bin/"; done
echo "$bin"
