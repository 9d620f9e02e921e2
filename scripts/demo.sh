#!/usr/bin/env bash
# The demo (README): builds nodeboot, starts a real local control plane (etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager) with kwok-simulated nodes,
# and runs nodeboot against it. The cluster is torn down when the demo ends, unless
# --keep is given (then tests/cluster/down.sh --state-dir build/demo-cluster stops it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=0
[[ ${1:-} == --keep ]] && keep=1
state=$root/build/demo-cluster
"$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target kubectl-nodeboot nodeboot-webhook nodeboot-agent
watch_pid=$$
((keep)) && watch_pid=1   # init never exits: the cluster stays up
demo=$(mktemp -d)
cleanup() {
  ((keep)) && return  # the webhook keeps serving the cluster that stays up
  [[ -n ${webhook_pid:-} ]] && kill "$webhook_pid" 2>/dev/null && wait "$webhook_pid" 2>/dev/null
  "$root/tests/cluster/down.sh" --state-dir "$state"
  rm -rf "$demo"
}
trap cleanup EXIT
"$root/tests/cluster/up.sh" --state-dir "$state" --nodes 5 --watch-pid "$watch_pid"

export KUBECONFIG=$state/kubeconfig PATH=$root/build/bin:$PATH
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# A kubeconfig for a ServiceAccount of nodeboot-system (what its pod would mount). The
# token goes to a file, never onto a command line.
sa_kubeconfig() {  # service-account file [pod: a token bound to that pod of nodeboot-system]
  cat >"$2" <<KC
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')", certificate-authority: "$state/pki/ca.crt"}}]
users: [{name: $1, user: {token: "$(kubectl create token "$1" -n nodeboot-system --duration 2h ${3:+--bound-object-kind Pod --bound-object-name "$3"})"}}]
contexts: [{name: demo, context: {cluster: demo, user: $1}}]
current-context: demo
KC
}
note() { printf '\n\033[36m# %s\033[0m\n' "$*"; }
step kubectl get nodes -o wide
step kubectl nodeboot version
step kubectl nodeboot --help

# --- The webhook, registered with the real kube-apiserver. In a cluster it runs as the
# Deployment in manifests/webhook; here it runs as a local process (the API server calls
# https://127.0.0.1:PORT) with its own ServiceAccount's token, self-managed certificates
# and the gate-release controller. Everything else comes from the manifests unchanged.
note "Installing nodeboot-webhook: manifests/webhook and manifests/marooned, served by a local process"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kubectl kustomize "$root/manifests/webhook" | kubectl create --dry-run=client -o json -f - |
  python3 -c '
import json, sys
port, text, pos, items = sys.argv[1], sys.stdin.read(), 0, []
while text[pos:].strip():  # one JSON document per object, back to back
    item, pos = json.JSONDecoder().raw_decode(text, len(text) - len(text[pos:].lstrip()))
    items.append(item)
for item in items:
    if item["kind"] in ("Deployment", "Service", "PodDisruptionBudget"):
        continue  # the local process stands in for the pods
    for w in item.get("webhooks", []):
        w["clientConfig"] = {"url": "https://127.0.0.1:" + port + w["clientConfig"]["service"]["path"]}
    print(json.dumps(item))
' "$port" >"$demo/webhook.json"
kubectl apply -f "$demo/webhook.json"
# The CRD must be established before the `default` MaroonedPodsConfig can be created.
kubectl apply -f "$root/manifests/marooned/crd.yaml" >/dev/null
kubectl wait crd/maroonedpodsconfigs.maroonedpods.io --for=condition=Established --timeout=60s >/dev/null
kubectl apply -k "$root/manifests/marooned" >/dev/null
# The in-place bootstrap completion controller's rights (the same ServiceAccount).
kubectl apply -f "$root/manifests/webhook/base/completion-rbac.yaml" \
  -f "$root/manifests/webhook/base/completion-policy.yaml" >/dev/null
sa_kubeconfig nodeboot-webhook "$demo/webhook.kubeconfig"
nodeboot-webhook --kubeconfig "$demo/webhook.kubeconfig" --self-managed-certs --cert-dir "$demo/tls" \
  --bind-address 127.0.0.1 --port "$port" --cert-hosts 127.0.0.1 --enable-gate-controller \
  --enable-completion-controller \
  --log-level error >"$demo/webhook.log" 2>&1 &
webhook_pid=$!
for _ in $(seq 1 60); do  # ready: certificate created, caBundle patched, caches synced
  curl -sfk "https://127.0.0.1:$port/readyz" >/dev/null &&
    [[ -n $(kubectl get validatingwebhookconfiguration nodeboot-webhook -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]] && break
  sleep 0.5
done
step kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations

# --- Marooned pods (seed 004): a generateName pod comes back gated and pinned to a node of
# its own; the controller issues the pod's single-use join credential; the VM's first boot
# runs the real `nodeboot-agent join` on the rendered join-info (k3s-agent played by the
# test stand-in, which registers a kwok node as that node's kubelet); the node presents
# its proof, the controller vouches for it and, once it is Ready, releases the gate; the
# real scheduler binds the pod there.
note "A marooned pod: gated and pinned at admission"
kubectl create namespace demo >/dev/null
pod=$(kubectl create -n demo -o name -f - <<'POD'
apiVersion: v1
kind: Pod
metadata: {generateName: marooned-, labels: {maroonedpods.io/maroon: "true"}}
spec: {containers: [{name: app, image: registry.k8s.io/pause:3.10}]}
POD
)
step kubectl get -n demo "$pod" -o jsonpath='{"gates: "}{.spec.schedulingGates}{"\nnodeSelector: "}{.spec.nodeSelector}{"\ntolerations: "}{.spec.tolerations}{"\n"}'
step kubectl nodeboot marooned list -n demo
id=$(kubectl get -n demo "$pod" -o jsonpath='{.metadata.annotations.maroonedpods\.io/pod-uid}')
note "Its VM boots with join-info.yaml (token and the pod's join credential) and runs nodeboot-agent join"
for _ in $(seq 1 60); do kubectl get secret -n nodeboot-marooned "marooned-join-$id" >/dev/null 2>&1 && break; sleep 0.5; done
mkdir -p "$demo/vm/etc/marooned"
printf 'abcdef.0123456789abcdef\n' >"$demo/join-token"
step kubectl nodeboot marooned join-info "${pod#pod/}" -n demo --token-file "$demo/join-token" \
  --output-file "$demo/vm/etc/marooned/join-info.yaml"
NODEBOOT_HOST_ROOT="$demo/vm" NODEBOOT_E2E_PKI="$state/pki" step nodeboot-agent join --host-root "$demo/vm" \
  --service-manager "$root/tests/e2e/marooned/standin_systemctl.sh" --node-name "marooned-$id" --timeout 120
kubectl wait -n demo "$pod" --for=jsonpath='{.spec.nodeName}'="marooned-$id" --timeout=120s >/dev/null
step kubectl get node "marooned-$id" -L maroonedpods.io/pod-uid -L node-restriction.kubernetes.io/maroonedpods.io-pod-uid
note "An ordinary pod cannot name (or select, or tolerate its way onto) a dedicated node"
step kubectl create -n demo -f - <<POD || true
apiVersion: v1
kind: Pod
metadata: {generateName: sneaky-}
spec:
  nodeName: marooned-$id
  containers: [{name: app, image: registry.k8s.io/pause:3.10}]
POD
step kubectl get -n demo "$pod" -o wide
step kubectl get events -n demo --field-selector involvedObject.kind=Pod --sort-by=.lastTimestamp
note "Only the controller may release a gate: another user's attempt is refused"
step kubectl create -n demo -o name -f - <<'POD'
apiVersion: v1
kind: Pod
metadata: {generateName: marooned-, labels: {maroonedpods.io/maroon: "true"}}
spec: {containers: [{name: app, image: registry.k8s.io/pause:3.10}]}
POD
second=$(kubectl get pods -n demo -o name --sort-by=.metadata.creationTimestamp | tail -n 1)
step kubectl patch -n demo "$second" --type=json -p '[{"op":"remove","path":"/spec/schedulingGates"}]' || true
note "A bad bootstrap Secret is refused with every problem named (and no value shown)"
step kubectl create secret generic nodeboot-bad -n nodeboot-system --type nodeboot.io/bootstrap \
  --from-literal=os=rhcos --from-literal=ignition-url=http://ignition.example.com/worker --from-literal=ignition-token='' || true
# --- In-place bootstrap (seed 003): start → the real agent → a played reboot → the completion
# controller restores the node, with nobody watching. kwok cannot reboot, so nodeboot-agent
# runs as a local process for kwok-node-4 with what the DaemonSet's pod there has: a token
# bound to that pod (the agent's ValidatingAdmissionPolicy refuses any other) and the node's
# kubelet identity in the host's / (a system:node:kwok-node-4 certificate from the demo
# cluster's CA: it reads the node's bootstrap Secret through the Role `start` made), against
# a local HTTPS Ignition server with its own CA, its reboot-capable steps in its own
# process (--host-unit "": no systemd here to hand them to), then the demo plays the reboot
# (a new bootID) as the e2e test does.
note "In-place bootstrap of kwok-node-4: start, the agent, a played reboot, the controller restores it"
ipb=$(mktemp -d); port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$ipb/tls.key" -out "$ipb/ca.crt" 2>/dev/null
openssl rand -hex 16 > "$ipb/token"; mkdir -p "$ipb/host/etc/kubernetes"; : > "$ipb/host/etc/kubernetes/kubeconfig"
timeout 300 python3 - "$ipb" "$port" <<'PY' & sleep 1   # the Ignition server; gone after 5 minutes at most
import http.server, ssl, sys, pathlib
d = pathlib.Path(sys.argv[1]); token = (d / "token").read_text().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == "Bearer " + token
        self.send_response(200 if ok else 401); self.end_headers()
        if ok: self.wfile.write(b'{"ignition":{"version":"3.4.0"}}')
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), H); c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(d / "ca.crt", d / "tls.key"); s.socket = c.wrap_socket(s.socket, server_side=True); s.serve_forever()
PY
step kubectl apply -k "$root/manifests/ipb"
step kubectl nodeboot start kwok-node-4 --os rhcos --ignition-url "https://127.0.0.1:$port/ignition" \
  --ignition-token-file "$ipb/token" --ca-cert "$ipb/ca.crt"
step kubectl nodeboot status -o wide
kubectl wait pod -n nodeboot-system -l app.kubernetes.io/name=nodeboot-ipb --field-selector spec.nodeName=kwok-node-4 \
  --for=create --timeout=60s >/dev/null
agent_pod=$(kubectl get pod -n nodeboot-system -l app.kubernetes.io/name=nodeboot-ipb \
  --field-selector spec.nodeName=kwok-node-4 -o jsonpath='{.items[0].metadata.name}')
sa_kubeconfig nodeboot-ipb-agent "$ipb/agent.kubeconfig" "$agent_pod"
kubelet=$ipb/host/var/lib/kubelet; mkdir -p "$kubelet/pki"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /O=system:nodes/CN=system:node:kwok-node-4 \
  -keyout "$kubelet/pki/kubelet-client.key" 2>/dev/null |
  openssl x509 -req -CA "$state/pki/ca.crt" -CAkey "$state/pki/ca.key" -days 1 -out "$kubelet/pki/kubelet-client.crt" 2>/dev/null
cat >"$kubelet/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')", certificate-authority-data: "$(base64 -w0 "$state/pki/ca.crt")"}}]
users: [{name: kubelet, user: {client-certificate: /var/lib/kubelet/pki/kubelet-client.crt, client-key: /var/lib/kubelet/pki/kubelet-client.key}}]
contexts: [{name: demo, context: {cluster: demo, user: kubelet}}]
current-context: demo
KC
step nodeboot-agent bootstrap --node kwok-node-4 --kubeconfig "$ipb/agent.kubeconfig" --host-root "$ipb/host" \
  --host-unit "" --host-exec "" --firstboot-command true --reboot-command 'echo "(reboot played by the demo)"'
kubectl annotate node kwok-node-4 kwok.x-k8s.io/status=custom >/dev/null
kubectl patch node kwok-node-4 --subresource=status --type=merge -p '{"status":{"nodeInfo":{"bootID":"demo-reboot"}}}' >/dev/null
note "Nobody runs watch: nodeboot-webhook's completion controller puts the node back"
step kubectl wait node/kwok-node-4 --for=jsonpath='{.metadata.annotations.nodeboot\.io/state}'=Done --timeout=90s
step kubectl nodeboot status kwok-node-4
step kubectl get events -n default --field-selector involvedObject.name=kwok-node-4,reason=BootstrapCompleted
rm -rf "$ipb"

# --- Node readiness (seeds 000/001): the two bootstrap DaemonSets and verify. kwok runs no
# containers, so no pod reports a result by itself. For three nodes the demo plays the
# kubelet: the bootstrap init container's termination message carries the JSON line the
# scripts print (good, no Intel GPU, a failed apt install); the other nodes' pods say
# nothing, and verify says so and exits 3.
note "iSCSI and QuickSync readiness across the nodes"
step kubectl apply -k "$root/manifests/node-bootstrap/iscsi"
step kubectl apply -k "$root/manifests/node-bootstrap/gpu"
kubectl rollout status -n kube-system ds/rke2-node-bootstrap-iscsi --timeout=60s >/dev/null
kubectl rollout status -n kube-system ds/rke2-node-bootstrap-gpu --timeout=60s >/dev/null
play_result() {  # daemonset node result-json: report RESULT as that node's bootstrap result
  local pod
  pod=$(kubectl get pods -n kube-system -l "app=$1" --field-selector "spec.nodeName=$2" -o jsonpath='{.items[0].metadata.name}')
  kubectl annotate pod -n kube-system "$pod" kwok.x-k8s.io/status=custom --overwrite >/dev/null
  kubectl patch pod -n kube-system "$pod" --subresource=status --type=merge -p "$(python3 -c '
import json, sys
now = "2026-01-01T00:00:00Z"
print(json.dumps({"status": {"initContainerStatuses": [{
    "name": "bootstrap", "image": "docker.io/library/ubuntu:24.04", "imageID": "", "ready": True,
    "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": sys.argv[1],
                                                "startedAt": now, "finishedAt": now}}}]}}))' "$3")" >/dev/null
}
os='"os":"Ubuntu 24.04.1 LTS"'
iscsi_ok='{"v":1,"check":"iscsi","status":"ok","reason":"Ready","message":"iscsid active, iscsi_tcp loaded",'$os',"iscsid":"active","iscsiTcp":true}'
gpu_ok='{"v":1,"check":"quicksync","status":"ok","reason":"Ready","message":"iHD driver with encode entrypoints",'$os',"i915":true,"renderNode":"/dev/dri/renderD128","vaDriver":"Intel iHD driver","encode":["H264Main","HEVCMain"]}'
gpu_none='{"v":1,"check":"quicksync","status":"not-applicable","reason":"NoIntelGPU","message":"no Intel display controller on this node",'$os',"i915":false,"renderNode":"","vaDriver":"","encode":[]}'
iscsi_failed='{"v":1,"check":"iscsi","status":"failed","reason":"AptFailed","message":"apt-get install open-iscsi failed: E: Unable to locate package open-iscsi",'$os',"iscsid":"inactive","iscsiTcp":false}'
for node in kwok-node-0 kwok-node-1 kwok-node-2; do play_result rke2-node-bootstrap-iscsi "$node" "$iscsi_ok"; done
play_result rke2-node-bootstrap-gpu kwok-node-0 "$gpu_ok"
play_result rke2-node-bootstrap-gpu kwok-node-1 "$gpu_none"
play_result rke2-node-bootstrap-iscsi kwok-node-2 "$iscsi_failed"
play_result rke2-node-bootstrap-gpu kwok-node-2 "$gpu_ok"
step kubectl nodeboot verify kwok-node-0 kwok-node-1 || true
step kubectl nodeboot verify || true
if ((keep)); then
  printf '\nThe cluster stays up (and nodeboot-webhook, pid %s, its log in %s):\n' "$webhook_pid" "$demo/webhook.log"
  printf '  export KUBECONFIG=%s PATH=%s/build/bin:$PATH\n' "$state/kubeconfig" "$root"
  printf 'Stop it with: kill %s; tests/cluster/down.sh --state-dir %s\n' "$webhook_pid" "$state"
fi
