#!/usr/bin/env bash
# Brings up a real Kubernetes control plane on loopback for the e2e tests and the demo:
# etcd, kube-apiserver, kube-scheduler, kube-controller-manager and kwok (simulated nodes),
# on random free ports, with freshly generated certificates and keys.
#
#   tests/cluster/up.sh --state-dir DIR [--nodes N] [--watch-pid PID] [--audit] [--node-grace D]
#
# --node-grace D: kube-controller-manager's --node-monitor-grace-period (default 50s): how
# long a node may go without a heartbeat before it is NotReady. The worker VMs
# (tests/nodes/) run under emulation and need longer.
#
# --audit: the API server writes one JSON line per request to DIR/audit.log (level Metadata,
# stage ResponseComplete; user, verb, object and userAgent, never bodies), so benchmarks can
# count requests per client.
# Writes DIR/kubeconfig (cluster-admin, client certificate), DIR/env (ports, paths),
# DIR/tokens.csv (static tokens for test users: the API server's --token-auth-file) and
# DIR/pki/. A reaper tears the cluster down when --watch-pid (default: the caller) exits,
# so an interrupted test run leaves no process or port behind; tests/cluster/down.sh does
# it explicitly.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/procs.sh"
state=""
nodes=3
watch_pid=$PPID
audit=""
node_grace=50s
sa_admission=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --state-dir) state=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --watch-pid) watch_pid=$2; shift 2 ;;
    --audit) audit=1; shift ;;
    --node-grace) node_grace=$2; shift 2 ;;
    --service-account-admission) sa_admission=1; shift ;;
    *) echo "up.sh: unknown flag $1 (expected --state-dir DIR [--nodes N] [--watch-pid PID] [--audit] [--node-grace D] [--service-account-admission])" >&2; exit 2 ;;
  esac
done
[[ -n $state ]] || { echo "up.sh: --state-dir is required" >&2; exit 2; }
[[ $nodes =~ ^[0-9]+$ ]] || { echo "up.sh: --nodes must be a number, got '$nodes'" >&2; exit 2; }

# A previous run's leftovers (processes, data) go first.
"$here/down.sh" --state-dir "$state" --quiet || true
mkdir -p "$state"/{pki,logs,etcd}
state=$(cd "$state" && pwd)
bin=$("$here/build.sh")
pki=$state/pki
log() { echo "up.sh: $*" >&2; }

etcd_port=$(free_port); etcd_peer_port=$(free_port); api_port=$(free_port)
sched_port=$(free_port); kcm_port=$(free_port); kwok_port=$(free_port)

# --- PKI: a CA, the API server's serving cert, an admin client cert, the API server's
# client cert for kubelets, the SA key pair. 10.0.2.2 is the host's loopback as QEMU's
# user-mode network shows it to the worker VMs (tests/nodes/).
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nodeboot-e2e-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
issue() {  # name subject extensions
  openssl_quiet req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr"
  printf '%s\n' "$3" > "$pki/$1.ext"
  openssl_quiet x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -out "$pki/$1.crt" -extfile "$pki/$1.ext"
}
issue apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,IP:10.0.2.2,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
issue admin "/O=system:masters/CN=nodeboot-e2e-admin" "extendedKeyUsage=clientAuth"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
openssl_quiet genrsa -out "$pki/sa.key" 2048
openssl_quiet rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
chmod 600 "$pki"/*.key
# Static bearer tokens for identity tests (token,user,uid,"groups").
{
  echo "$(openssl rand -hex 16),token-user,token-user-uid,\"nodeboot-e2e\""
  echo "$(openssl rand -hex 16),token-admin,token-admin-uid,\"system:masters\""
} > "$state/tokens.csv"
chmod 600 "$state/tokens.csv"

b64() { base64 -w0 < "$1"; }
server=https://127.0.0.1:$api_port
cat > "$state/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: nodeboot-e2e
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: nodeboot-e2e-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: nodeboot-e2e
  context: {cluster: nodeboot-e2e, user: nodeboot-e2e-admin}
current-context: nodeboot-e2e
KCFG
chmod 600 "$state/kubeconfig"

start() {  # name command...: detached, own session, no inherited pipes (ctest waits on them)
  local name=$1; shift
  printf '%s\0' "$@" > "$state/cmdline.$name"  # for restart.sh: the same flags again
  start_recorded "$state" "$name" "$state/logs/$name.log" "$@"
}

log "etcd on 127.0.0.1:$etcd_port"
# --unsafe-no-fsync: test data is disposable; fsync dominates etcd latency on shared disks.
start etcd "$bin/etcd" --name e2e --data-dir "$state/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "e2e=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync --log-level warn

log "kube-apiserver on $server"
audit_flags=()
if [[ -n $audit ]]; then
  cat >"$state/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
POLICY
  # Blocking mode: a request's line is in the file when its response arrives, so a
  # benchmark can count the lines between two points in time (batch mode lags up to 30 s).
  audit_flags=(--audit-policy-file "$state/audit-policy.yaml" --audit-log-path "$state/audit.log"
    --audit-log-mode blocking --audit-log-maxsize 0)
fi
# ServiceAccount admission is off unless --service-account-admission: it rejects pods created
# in a namespace before the controller manager has made its default ServiceAccount, a race
# the kwok suites would keep hitting. It is also what mounts a pod's ServiceAccount token, so
# the node layer, whose pods really run (in-cluster clients on the VMs), turns it on.
admission=(--enable-admission-plugins NodeRestriction --disable-admission-plugins ServiceAccount)
[[ -n $sa_admission ]] && admission=(--enable-admission-plugins "NodeRestriction,ServiceAccount")
# Node authorization and NodeRestriction are on, as in production clusters: a kubelet may
# change only its own Node and may not set node-restriction.kubernetes.io/ labels, which
# marooned isolation rests on (e2e/marooned plays nodes with system:node:<name> certificates).
start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$api_port" --cert-dir "$pki" --tls-cert-file "$pki/apiserver.crt" \
  --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
  --service-cluster-ip-range 10.0.0.0/24 --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --token-auth-file "$state/tokens.csv" --authorization-mode Node,RBAC --allow-privileged=true --enable-bootstrap-token-auth \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  "${admission[@]}" --profiling=false --v=1 \
  "${audit_flags[@]}"

curl_api() { curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$server$1"; }
for _ in $(seq 1 240); do  # 60 s: a cold apiserver on 2 busy cores takes ~10 s
  if curl_api /readyz >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(awk '$1=="kube-apiserver"{print $2}' "$state/pids")" 2>/dev/null; then
    log "kube-apiserver exited; last log lines:"; tail -20 "$state/logs/kube-apiserver.log" >&2; exit 1
  fi
  sleep 0.25
done
curl_api /readyz >/dev/null || { log "kube-apiserver not ready after 60 s"; tail -20 "$state/logs/kube-apiserver.log" >&2; exit 1; }

log "kube-scheduler, kube-controller-manager, kwok"
start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$state/kubeconfig" \
  --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false
start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$state/kubeconfig" \
  --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --controllers '*,bootstrapsigner,tokencleaner' --node-monitor-grace-period "$node_grace"
# kwok manages the nodes annotated kwok.x-k8s.io/node=fake; a node also annotated
# kwok.x-k8s.io/status=custom keeps the status a test writes (reboots, NotReady).
start kwok "$bin/kwok" --kubeconfig "$state/kubeconfig" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --disregard-status-with-annotation-selector kwok.x-k8s.io/status=custom \
  --cidr 10.244.0.0/16 --node-ip 10.1.0.1 --server-address "127.0.0.1:$kwok_port"

cat > "$state/env" <<ENV
NODEBOOT_E2E_SERVER=$server
NODEBOOT_E2E_KUBECONFIG=$state/kubeconfig
NODEBOOT_E2E_BIN=$bin
NODEBOOT_E2E_PORTS="$etcd_port $etcd_peer_port $api_port $sched_port $kcm_port $kwok_port"
NODEBOOT_E2E_ETCD=http://127.0.0.1:$etcd_port
ENV

# The reaper: when the watched process is gone and the cluster is still up, tear it down.
start_reaper "$watch_pid" "$state" "$here/down.sh" "$state/logs/reaper.log"

kubectl=(kubectl --kubeconfig "$state/kubeconfig")
if (( nodes > 0 )); then
  log "creating $nodes kwok nodes"
  "$here/nodes.sh" --state-dir "$state" --count "$nodes"
fi
log "ready: export KUBECONFIG=$state/kubeconfig"
"${kubectl[@]}" get nodes -o wide >&2 || true
