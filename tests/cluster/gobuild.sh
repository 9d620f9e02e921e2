# shellcheck shell=bash
# Sourced by build.sh, build-tools.sh, build-krew.sh and kubevirt-crds.sh: builds Go main
# packages from a pinned wrapper module under go/ through the module proxy, cached outside
# the clone, keyed on the module's go.mod + go.sum (and its own Go sources but the
# tools.go pins: a wrapper's main.go), the Go version and the build flags, so a second run
# rebuilds nothing and checkouts pinning different versions never share binaries.
#
#   go_build_cached CATEGORY MODULE PACKAGE...    (LDFLAGS_EXTRA adds -ldflags; CGO_ENABLED=1
#                                                  before the call builds with cgo)
# Sets GO_BUILT_DIR to the folder holding the binaries.
gobuild_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gobuild_cache=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}
# k8s.io/kubernetes is not served by the checksum database; go.sum (committed) pins it.
export GONOSUMDB=k8s.io/kubernetes GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

# The -X flags Kubernetes' own build stamps its binaries with (without them they report
# v0.0.0-master), from the version go/kubernetes pins: the control plane and the kubelet.
k8s_version_ldflags() {
  local v
  v=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$gobuild_here/go/kubernetes/go.mod")
  echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/component-base/version.gitTreeState=clean"
}

# What a wrapper module's output depends on: go.mod, go.sum and its Go files but tools.go
# (a blank import's pin, already in go.mod), in a stable order.
gomod_sources() {
  local dir="$gobuild_here/go/$1"
  cat "$dir/go.mod" "$dir/go.sum"
  find "$dir" -maxdepth 1 -name '*.go' ! -name tools.go -print0 | sort -z | xargs -0 -r cat
}

go_build_cached() {
  local category=$1 mod=$2; shift 2
  # A cgo build (CGO_ENABLED=1 for this call: Ignition's own binary) also depends on the C
  # compiler and on its linker flags, which are the calling script's: both join its key.
  # Pure-Go keys stay as they were (their -X flags come from go.mod, keyed already), so
  # nothing already cached is rebuilt.
  local cgo=""
  [[ $CGO_ENABLED == 0 ]] || cgo="cgo $(${CC:-gcc} -dumpfullversion) ${LDFLAGS_EXTRA:-}"
  local key
  key=$( (go version; gomod_sources "$mod"; printf '%s\n' "$@"
    [[ -z $cgo ]] || echo "$cgo") | sha256sum | cut -c1-16)
  local out="$gobuild_cache/$category/$mod-$key"
  if [[ -f "$out/.complete" ]]; then
    echo "$category: $mod cached in $out" >&2
  else
    echo "$category: building $mod (cold build)" >&2
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local start=$SECONDS
    (cd "$gobuild_here/go/$mod" && go build -trimpath -ldflags "-s -w ${LDFLAGS_EXTRA:-}" -o "$out.tmp/" "$@")
    if declare -F go_build_rename >/dev/null; then go_build_rename "$out.tmp"; fi
    touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "$category: built $mod in $((SECONDS - start))s" >&2
  fi
  # shellcheck disable=SC2034  # read by the sourcing script
  GO_BUILT_DIR=$out
}
