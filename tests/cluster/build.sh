#!/usr/bin/env bash
# Builds the e2e control plane (etcd, kube-apiserver, kube-scheduler,
# kube-controller-manager, kwok) from the pinned wrapper modules under go/,
# through the Go module proxy. Binaries are cached outside the clone, keyed on
# each module's go.sum and the Go version, so a second run rebuilds nothing.
#
# Prints the directory holding the binaries on stdout (everything else on stderr).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}
# k8s.io/kubernetes is not served by the checksum database; go.sum (committed) pins it.
export GONOSUMDB=k8s.io/kubernetes GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

# module dir | Go packages | version stamp flags
build_module() {
  local mod=$1; shift
  local key
  key=$( (go version; cat "$here/go/$mod/go.mod" "$here/go/$mod/go.sum"; printf '%s\n' "$@") | sha256sum | cut -c1-16)
  local out="$cache_root/controlplane/$mod-$key"
  if [[ -f "$out/.complete" ]]; then
    echo "controlplane: $mod cached in $out" >&2
  else
    echo "controlplane: building $mod (cold build, a few minutes on 2 cores)" >&2
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local start=$SECONDS
    local ldflags=${LDFLAGS_EXTRA:-}
    (cd "$here/go/$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@")
    # etcd's main package is its server module: name the binary for what it is.
    if [[ -f "$out.tmp/server" ]]; then mv "$out.tmp/server" "$out.tmp/etcd"; fi
    touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "controlplane: built $mod in $((SECONDS - start))s" >&2
  fi
  built_dirs+=("$out")
}
built_dirs=()

k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/go/kubernetes/go.mod")
LDFLAGS_EXTRA="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitTreeState=clean" \
  build_module kubernetes k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager
LDFLAGS_EXTRA="" build_module etcd go.etcd.io/etcd/server/v3
LDFLAGS_EXTRA="" build_module kwok sigs.k8s.io/kwok/cmd/kwok
# One folder of links per combination of builds, so checkouts pinning different versions
# never see each other's binaries.
bin_key=$(printf '%s\n' "${built_dirs[@]}" | sha256sum | cut -c1-16)
bin="$cache_root/controlplane/bin-$bin_key"
mkdir -p "$bin"
for d in "${built_dirs[@]}"; do ln -sfn "$d"/* "$bin/"; done
echo "$bin"
