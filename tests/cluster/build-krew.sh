#!/usr/bin/env bash
# Builds krew (sigs.k8s.io/krew v0.4.4, the newest the module proxy serves here: v0.4.5
# answers 403) from the pinned wrapper module go/krew, cached like build.sh (keyed on
# go.mod + go.sum). The binary is named kubectl-krew so `kubectl krew` finds it on PATH.
#
# Prints the directory holding kubectl-krew on stdout.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gobuild.sh"
go_build_rename() { if [[ -f "$1/krew" ]]; then mv "$1/krew" "$1/kubectl-krew"; fi; }
go_build_cached clustertools krew sigs.k8s.io/krew/cmd/krew
echo "$GO_BUILT_DIR"
