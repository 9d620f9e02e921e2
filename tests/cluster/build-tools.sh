#!/usr/bin/env bash
# Builds the bootstrap-node peers the cluster tests run against the generated configs:
# Ignition's own validator (ignition-validate) and Ignition itself (github.com/coreos/ignition/v2,
# whose files stage the tests run on each role's Ignition), and Matchbox
# (github.com/poseidon/matchbox), from the pinned wrapper modules go/ignition and
# go/matchbox. Cached like build.sh (keyed on go.mod + go.sum): a fully cold build of the
# validator and Matchbox, module downloads included, took 64 CPU-seconds (4 min wall on a
# 2-core machine at load 19); with the Go caches warm about 10 s; cached, nothing is rebuilt.
# Ignition itself, cold (modules already downloaded), took 207 CPU-seconds (4 min 18 s wall
# on 2 cores beside a C++ build); warm (the Go build cache filled), 7 s: the link.
#
# Prints the directory holding ignition-validate, ignition and matchbox on stdout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=gobuild.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gobuild.sh"
# Upstream names its main packages validate and internal: name the binaries as it ships them.
go_build_rename() {
  if [[ -f "$1/validate" ]]; then mv "$1/validate" "$1/ignition-validate"; fi
  if [[ -f "$1/internal" ]]; then mv "$1/internal" "$1/ignition"; fi
}
go_build_cached clustertools ignition github.com/coreos/ignition/v2/validate
validate=$GO_BUILT_DIR
# Ignition as Flatcar's sys-apps/ignition ebuild builds it: cgo (libblkid, and the chrooted
# user lookups of the files stage), SELinux relabeling off (Flatcar has no policy to label
# with; upstream's default runs setfiles and fails without /etc/selinux/config), the
# version stamped as upstream's ./build does.
ign_version=$(awk '$1=="require" && $2=="github.com/coreos/ignition/v2" {print $3}' "$gobuild_here/go/ignition/go.mod")
CGO_ENABLED=1 LDFLAGS_EXTRA="-X github.com/coreos/ignition/v2/internal/version.Raw=$ign_version \
-X github.com/coreos/ignition/v2/internal/distro.selinuxRelabel=false" \
  go_build_cached clustertools ignition github.com/coreos/ignition/v2/internal
ign=$GO_BUILT_DIR
go_build_cached clustertools matchbox github.com/poseidon/matchbox/cmd/matchbox
mb=$GO_BUILT_DIR
bin="$gobuild_cache/clustertools/bin-$(printf '%s\n' "$validate" "$ign" "$mb" | sha256sum | cut -c1-16)"
mkdir -p "$bin"
ln -sfn "$validate/ignition-validate" "$ign/ignition" "$mb/matchbox" "$bin/"
echo "$bin"
