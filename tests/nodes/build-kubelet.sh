#!/usr/bin/env bash
# Builds the kubelet for the worker VMs (tests/nodes/) from the same pinned module as the
# control plane (tests/cluster/go/kubelet: k8s.io/kubernetes/cmd/kubelet at the release go/kubernetes pins), stamped with
# the same version, cached like tests/cluster/build.sh (category `nodes`, keyed on go.mod,
# go.sum, the Go version and the package). CGO_ENABLED=0: a static binary that runs in
# any root. Cold: about 7 min of compiling with a warm module cache.
#
# Prints the path of the kubelet binary on stdout.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../cluster" && pwd)/gobuild.sh"
LDFLAGS_EXTRA=$(k8s_version_ldflags) go_build_cached nodes kubelet k8s.io/kubernetes/cmd/kubelet
echo "$GO_BUILT_DIR/kubelet"
