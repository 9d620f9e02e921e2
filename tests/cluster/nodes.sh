#!/usr/bin/env bash
# Creates kwok-managed nodes in a cluster started by up.sh and waits until they are Ready.
#   tests/cluster/nodes.sh --state-dir DIR --count N [--prefix kwok-node] [--start 0]
set -euo pipefail
state="" count=1 prefix=kwok-node start=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --state-dir) state=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --start) start=$2; shift 2 ;;
    *) echo "nodes.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
kubectl=(kubectl --kubeconfig "$state/kubeconfig")
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
for ((i = start; i < start + count; i++)); do
  name=$prefix-$i
  cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    osImage: Ubuntu 24.04.1 LTS
    kernelVersion: 6.8.0-45-generic
    kubeletVersion: fake
    containerRuntimeVersion: fake
NODE
done > "$manifest"
# Server-side apply: idempotent, and fast for thousands of nodes in one request stream.
"${kubectl[@]}" apply --server-side --field-manager nodeboot-e2e -f "$manifest" >/dev/null
"${kubectl[@]}" wait --for=condition=Ready node -l type=kwok --timeout=300s >/dev/null
echo "nodes.sh: $count kwok nodes Ready" >&2
