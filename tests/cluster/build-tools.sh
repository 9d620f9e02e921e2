#!/usr/bin/env bash
# Builds the bootstrap-node peers the cluster tests run against the generated configs:
# Ignition's own validator (ignition-validate, github.com/coreos/ignition/v2) and Matchbox
# (github.com/poseidon/matchbox), from the pinned wrapper modules go/ignition and
# go/matchbox. Cached like build.sh; a cold build takes about 30 s on 2 cores.
#
# Prints the directory holding ignition-validate and matchbox on stdout.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gobuild.sh"
# Ignition's validator is the package main in .../validate: name the binary as upstream ships it.
go_build_rename() { if [[ -f "$1/validate" ]]; then mv "$1/validate" "$1/ignition-validate"; fi; }
go_build_cached clustertools ignition github.com/coreos/ignition/v2/validate
ign=$GO_BUILT_DIR
go_build_cached clustertools matchbox github.com/poseidon/matchbox/cmd/matchbox
mb=$GO_BUILT_DIR
bin="$gobuild_cache/clustertools/bin-$(printf '%s\n' "$ign" "$mb" | sha256sum | cut -c1-16)"
mkdir -p "$bin"
ln -sfn "$ign/ignition-validate" "$mb/matchbox" "$bin/"
echo "$bin"
