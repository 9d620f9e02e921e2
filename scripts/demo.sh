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
if ((!keep)); then trap '"$root/tests/cluster/down.sh" --state-dir "$state"' EXIT; fi
"$root/tests/cluster/up.sh" --state-dir "$state" --nodes 5 --watch-pid "$watch_pid"

export KUBECONFIG=$state/kubeconfig PATH=$root/build/bin:$PATH
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step kubectl get nodes -o wide
step kubectl nodeboot version
step kubectl nodeboot --help
# --- In-place bootstrap (seed 003): start → the real agent → a played reboot → watch restores.
# kwok cannot reboot, so nodeboot-agent runs as a local process for kwok-node-4 (with the
# DaemonSet's ServiceAccount token) against a local HTTPS Ignition server with its own CA,
# then the demo plays the reboot (a new bootID) as the e2e test does.
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
kubectl nodeboot watch kwok-node-4 --timeout 120s & watcher=$!
cat > "$ipb/agent.kubeconfig" <<KC   # the token goes to a file, never onto a command line
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')", certificate-authority: "$state/pki/ca.crt"}}]
users: [{name: agent, user: {token: "$(kubectl create token nodeboot-ipb-agent -n nodeboot-system)"}}]
contexts: [{name: demo, context: {cluster: demo, user: agent}}]
current-context: demo
KC
step nodeboot-agent bootstrap --node kwok-node-4 --kubeconfig "$ipb/agent.kubeconfig" --host-root "$ipb/host" \
  --firstboot-command true --reboot-command 'echo "(reboot played by the demo)"'
kubectl annotate node kwok-node-4 kwok.x-k8s.io/status=custom >/dev/null
kubectl patch node kwok-node-4 --subresource=status --type=merge -p '{"status":{"nodeInfo":{"bootID":"demo-reboot"}}}' >/dev/null
wait "$watcher"; step kubectl nodeboot status kwok-node-4; rm -rf "$ipb"
if ((keep)); then
  printf '\nThe cluster stays up:\n  export KUBECONFIG=%s PATH=%s/build/bin:$PATH\n' "$state/kubeconfig" "$root"
  printf 'Stop it with: tests/cluster/down.sh --state-dir %s\n' "$state"
fi
