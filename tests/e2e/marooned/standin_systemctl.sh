#!/usr/bin/env bash
# STAND-IN for systemctl + k3s-agent in `nodeboot-agent join` tests (no VM, no systemd, no
# k3s can run here). `start --no-block k3s-agent.service` does what k3s-agent would: reads
# $NODEBOOT_HOST_ROOT/etc/rancher/k3s/config.yaml, obtains kubelet credentials
# (system:node:<node-name>, here signed directly with the e2e cluster's CA from
# $NODEBOOT_E2E_PKI instead of through the bootstrap token's CSR), leaves them at
# var/lib/rancher/k3s/agent/kubelet.kubeconfig, and registers a kwok Node with its
# node-name, node-label and node-taint in the e2e cluster ($KUBECONFIG's server) as that
# kubelet, so NodeRestriction applies to it and to the agent's later writes.
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
pki=${NODEBOOT_E2E_PKI:?}
agent="$root/var/lib/rancher/k3s/agent"
mkdir -p "$agent"
node=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["name"])' "$root/node.json")
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:nodes/CN=system:node:$node" \
  -keyout "$agent/kubelet.key" -out "$agent/kubelet.csr" 2>/dev/null
openssl x509 -req -in "$agent/kubelet.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
  -days 1 -out "$agent/kubelet.crt" 2>/dev/null
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
cat > "$agent/kubelet.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: kubelet
  user:
    client-certificate: $agent/kubelet.crt
    client-key: $agent/kubelet.key
contexts:
- name: c
  context: {cluster: c, user: kubelet}
current-context: c
KC
kubectl --kubeconfig "$agent/kubelet.kubeconfig" create -f "$root/node.json" >/dev/null
