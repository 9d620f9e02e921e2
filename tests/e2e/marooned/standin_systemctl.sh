#!/usr/bin/env bash
# STAND-IN for systemctl + k3s-agent in `nodeboot-agent join` tests (no VM, no systemd, no
# k3s can run here). `start --no-block k3s-agent.service` does what k3s-agent would: reads
# $NODEBOOT_HOST_ROOT/etc/rancher/k3s/config.yaml, registers a kwok Node with its node-name,
# node-label and node-taint in the e2e cluster ($KUBECONFIG), and leaves kubelet credentials
# at var/lib/rancher/k3s/agent/kubelet.kubeconfig.
set -euo pipefail
[[ "$*" == "start --no-block k3s-agent.service" ]] || { echo "standin_systemctl: unexpected: $*" >&2; exit 2; }
root=${NODEBOOT_HOST_ROOT:?}
python3 - "$root/etc/rancher/k3s/config.yaml" > "$root/node.json" <<'PY'
import json, sys
cfg, key = {}, None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"): continue
    if line.startswith("  - "):
        cfg.setdefault(key, []).append(json.loads(line[4:])); continue
    key, _, value = line.partition(":")
    if value.strip(): cfg[key] = json.loads(value.strip())
labels = dict(l.split("=", 1) for l in cfg.get("node-label", []))
labels.update({"type": "kwok-marooned", "kubernetes.io/hostname": cfg["node-name"]})
taints = []
for t in cfg.get("node-taint", []):
    kv, effect = t.rsplit(":", 1); k, v = kv.split("=", 1)
    taints.append({"key": k, "value": v, "effect": effect})
print(json.dumps({"apiVersion": "v1", "kind": "Node",
  "metadata": {"name": cfg["node-name"], "labels": labels,
               "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
  "spec": {"taints": taints},
  "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
             "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
PY
kubectl create -f "$root/node.json" >/dev/null
mkdir -p "$root/var/lib/rancher/k3s/agent"
cp "$KUBECONFIG" "$root/var/lib/rancher/k3s/agent/kubelet.kubeconfig"
