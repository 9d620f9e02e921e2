#!/usr/bin/env bash
# KubeVirt's own CustomResourceDefinitions (VirtualMachineInstance and the others its
# operator installs, with their OpenAPI validations) as one YAML file, printed by the
# pinned wrapper module go/kubevirt-crds from KubeVirt's generator (kubevirt.io/kubevirt
# v1.8.4: v1.9.0 needs kubevirt.io/virt-template-api v0.2.0, which the module proxy
# refuses here). Only the YAML is needed, so it is cached by itself, keyed on the module's
# go.mod, go.sum and main.go (not the Go version): a machine builds the program once per
# cold cache, and a Go upgrade alone rebuilds nothing. Fully cold (374 MB of modules
# downloaded, 1,051 packages compiled): 344 CPU-seconds, 7 min wall on a 2-core machine at
# load 6-10; with the Go caches warm 8 s; with the YAML cached 0.1 s.
#
# Prints the path of the YAML file on stdout.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gobuild.sh"
key=$(gomod_sources kubevirt-crds | sha256sum | cut -c1-16)
yaml="$gobuild_cache/clustertools/kubevirt-crds-$key.yaml"
if [[ -s $yaml ]]; then
  echo "clustertools: KubeVirt's CRDs cached in $yaml" >&2
else
  go_build_cached clustertools kubevirt-crds .
  tmp="$yaml.$$.tmp"  # another checkout may be printing the same file
  "$GO_BUILT_DIR/kubevirt-crds" >"$tmp"
  grep -q '^  name: virtualmachineinstances.kubevirt.io$' "$tmp" || {
    echo "kubevirt-crds: no VirtualMachineInstance CRD in the output" >&2
    rm -f "$tmp"
    exit 1
  }
  mv "$tmp" "$yaml"
  # The program is not needed again until its pins change: keep the YAML only.
  rm -rf "$GO_BUILT_DIR"
fi
echo "$yaml"
