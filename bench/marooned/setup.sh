# shellcheck shell=bash
# Sourced by bench/marooned/run.sh and vms.sh: a private control plane (tests/cluster/up.sh),
# manifests/marooned (CRD, RBAC, policies, the default config), the nodeboot-webhook
# ServiceAccount's token in a 0600 kubeconfig, a serving certificate, nodeboot-webhook
# processes as that ServiceAccount and the pod webhooks pointed at one of them.
# Expects: repo, state, webhook (the binary), ns (the pods' namespace), log().
# shellcheck disable=SC2154  # those are the sourcing script's
work=$(mktemp -d)
watchers=()
webhook_pids=()
cleanup() {
  for pid in "${watchers[@]}" "${webhook_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$repo/tests/cluster/down.sh" --state-dir "$state" --quiet || true
  rm -rf "$work"
}
trap cleanup EXIT
"$repo/tests/cluster/up.sh" --state-dir "$state" --nodes 0 --watch-pid $$
export KUBECONFIG=$state/kubeconfig

# --- The controllers' identity and RBAC, the CRD and its default object (manifests/marooned).
kubectl create namespace nodeboot-system >/dev/null
kubectl create namespace nodeboot-marooned >/dev/null
kubectl create serviceaccount nodeboot-webhook -n nodeboot-system >/dev/null
kubectl apply -f "$repo/manifests/marooned/crd.yaml" -f "$repo/manifests/marooned/rbac.yaml" \
  -f "$repo/manifests/marooned/policy.yaml" >/dev/null
kubectl wait --for=condition=Established crd/maroonedpodsconfigs.maroonedpods.io --timeout=60s >/dev/null
kubectl apply -f "$repo/manifests/marooned/default-config.yaml" >/dev/null
kubectl create namespace "$ns" >/dev/null
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
# The token goes straight into a 0600 kubeconfig, never onto a command line or the terminal.
umask 077
{
  printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n' "$server"
  printf '    certificate-authority-data: %s\nusers:\n- name: sa\n  user:\n    token: ' "$ca_data"
  printf '%s\n' "$(kubectl create token nodeboot-webhook -n nodeboot-system --duration 2h)"
  printf 'contexts:\n- name: c\n  context: {cluster: c, user: sa}\ncurrent-context: c\n'
} >"$work/sa.kubeconfig"

# --- Serving certificate for 127.0.0.1 from a throwaway CA the API server is told about.
mkdir -p "$work/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=marooned-bench-ca -keyout "$work/ca.key" \
  -out "$work/ca.crt" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$work/tls/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/tls.ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/tls.ext" -out "$work/tls/tls.crt" 2>/dev/null

# start_webhook NAME FLAGS...: a nodeboot-webhook as the ServiceAccount, ready; sets
# webhook_port and webhook_pid (its log: $work/webhook-NAME.log).
start_webhook() {
  local name=$1; shift
  webhook_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  "$webhook" --cert-dir "$work/tls" --port "$webhook_port" --bind-address 127.0.0.1 \
    --kubeconfig "$work/sa.kubeconfig" --leader-elect-identity "$name" "$@" >"$work/webhook-$name.log" 2>&1 &
  webhook_pid=$!
  webhook_pids+=("$webhook_pid")
  for _ in $(seq 1 240); do
    [[ $(curl -sk "https://127.0.0.1:$webhook_port/readyz" 2>/dev/null) == ok ]] && return 0
    kill -0 "$webhook_pid" 2>/dev/null || { log "nodeboot-webhook $name exited:"; cat "$work/webhook-$name.log" >&2; exit 1; }
    sleep 0.25
  done
  log "nodeboot-webhook $name not ready"
  exit 1
}

# register_webhooks PORT: the pod webhooks (limited to $ns) pointed at that webhook.
register_webhooks() {
  local port=$1 bundle kind path ops extra
  bundle=$(base64 -w0 <"$work/ca.crt")
  for kind in Mutating Validating; do
    if [[ $kind == Mutating ]]; then path=/mutate/pods ops=CREATE extra='reinvocationPolicy: Never'; else path=/validate/pods ops='CREATE, UPDATE' extra=''; fi
    kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ${kind}WebhookConfiguration
metadata: {name: marooned-bench}
webhooks:
- name: ${kind,,}.pods.nodeboot.io
  clientConfig: {url: "https://127.0.0.1:$port$path", caBundle: "$bundle"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [$ops], resources: [pods, pods/status]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ns}}
  objectSelector: {matchLabels: {maroonedpods.io/maroon: "true"}}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
  timeoutSeconds: 10
  $extra
YAML
  done
  # The API server picks configurations up asynchronously: wait until a dry run is mutated.
  for _ in $(seq 1 120); do
    pod_manifest | kubectl create --dry-run=server -o jsonpath='{.metadata.annotations}' -f - 2>/dev/null |
      grep -q maroonedpods.io/pod-uid && return 0
    sleep 0.5
  done
}

pod_manifest() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {generateName: mp-, namespace: $ns, labels: {maroonedpods.io/maroon: "true"}}
spec:
  containers: [{name: c, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
YAML
}

# watch NAME ARGS...: kubectl's watch of ARGS, one line per event, "receive-time json", in $work/watch.NAME.
watch() {
  local kind=$1
  shift
  kubectl get "$@" -w --output-watch-events -o json | python3 -u -c '
import json, sys, time
dec, buf = json.JSONDecoder(), ""
for chunk in iter(lambda: sys.stdin.readline(), ""):
    buf += chunk
    while True:
        s = buf.lstrip()
        try:
            obj, end = dec.raw_decode(s)
        except ValueError:
            break
        buf = s[end:]
        print("%.6f" % time.time(), json.dumps(obj, separators=(",", ":")), flush=True)
' >"$work/watch.$kind" &
  watchers+=($!)
}

metrics() { kubectl get --raw /metrics | grep '^apiserver_request_total{' >"$1"; }

# create_pods N: N marooned pods through the webhook (gated, with an id); their ids in $work/ids.
create_pods() {
  local n=$1 i
  for ((i = 0; i < n; i++)); do echo ---; pod_manifest; done >"$work/pods.yaml"
  kubectl create -f "$work/pods.yaml" >/dev/null
  kubectl get pods -n "$ns" -o json >"$work/pods.json"
  python3 - "$work/pods.json" "$n" >"$work/ids" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
ids = [p["metadata"].get("annotations", {}).get("maroonedpods.io/pod-uid", "") for p in items]
gated = [any(g["name"] == "maroonedpods.io/gate" for g in p["spec"].get("schedulingGates", [])) for p in items]
if len(items) != int(sys.argv[2]) or not all(ids) or not all(gated):
    sys.exit(f"expected {sys.argv[2]} gated pods with a marooned id, got {len(items)} ({sum(gated)} gated)")
print("\n".join(ids))
PY
}

# join_nodes PREFIX: a kwok Node PREFIX-<i> for each id in $work/ids, as the pod's VM would
# register: its label, taints and join proof (the HMAC of the credential the controller
# issued), handed to kwok (which reports it Ready).
join_nodes() {
  kubectl get secrets -n nodeboot-marooned -l maroonedpods.io/pod-uid --field-selector type=maroonedpods.io/join-credential \
    -o json >"$work/credentials.json"
  python3 - "$work/ids" "$work/credentials.json" "$1" >"$work/nodes.yaml" <<'PY'
import base64, hashlib, hmac, json, sys
creds = {s["metadata"]["labels"]["maroonedpods.io/pod-uid"]: base64.b64decode(s["data"]["credential"])
         for s in json.load(open(sys.argv[2]))["items"]}
for i, pid in enumerate(l.strip() for l in open(sys.argv[1]) if l.strip()):
    name = f"{sys.argv[3]}-{i}"
    proof = hmac.new(creds[pid], f"nodeboot-join/v1\n{pid}\n{name}".encode(), hashlib.sha256).hexdigest()
    print(f"""---
apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations: {{kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0", maroonedpods.io/join-proof: "{proof}"}}
  labels: {{maroonedpods.io/pod-uid: "{pid}", type: kwok-marooned, kubernetes.io/hostname: {name}, kubernetes.io/os: linux}}
spec:
  taints: [{{key: maroonedpods.io/dedicated, value: "{pid}", effect: NoSchedule}}, {{key: maroonedpods.io/dedicated, value: "{pid}", effect: NoExecute}}]
status:
  allocatable: {{cpu: "4", memory: 8Gi, pods: "110"}}
  capacity: {{cpu: "4", memory: 8Gi, pods: "110"}}""")
PY
  kubectl create -f "$work/nodes.yaml" >/dev/null
}
