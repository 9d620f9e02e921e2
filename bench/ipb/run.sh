#!/usr/bin/env bash
# Benchmark: `kubectl nodeboot start` over N kwok nodes against its named peer, the kubectl
# shell loop an operator would otherwise write (per node: `kubectl cordon`, `kubectl create
# secret generic ... --type nodeboot.io/bootstrap`, `kubectl label`), in the same run, on a
# real control plane (tests/cluster/up.sh). Each tool gets its own pool of N nodes.
#
# Reports the wall time of each and the API requests per node each tool made, counted by
# user agent in the API server's own audit log (up.sh --audit).
# nodeboot does more per node than the loop: it records the node's prior state in a
# ConfigMap (what `abort`/`finish` restore) and reads before it writes, so it is idempotent;
# and it asks before it touches a node: per run the DaemonSet's nodeSelector and RBAC
# (SelfSubjectAccessReviews), per node a server-side dry run of the Secret; and it lets each
# node's kubelet read that node's Secret (a Role and a RoleBinding per node), which the
# loop's agent would not need only because its ServiceAccount could read every Secret.
#
#   bench/ipb/run.sh [--nodes 100] [--state-dir DIR] [--build-dir build]
# Not part of the test command: it measures, it does not assert.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nodes=100 state=/tmp/nodeboot-bench-ipb build=$repo/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "run.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -x $build/bin/kubectl-nodeboot ]] || { echo "run.sh: build kubectl-nodeboot first ($build/bin)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
work=$(mktemp -d)
# The binary under test is copied: a rebuild during the run cannot change it.
mkdir "$work/bin"
cp "$build/bin/kubectl-nodeboot" "$work/bin/"
export PATH=$work/bin:$PATH

"$repo/tests/cluster/up.sh" --state-dir "$state" --nodes 0 --watch-pid $$ --audit
trap '"$repo/tests/cluster/down.sh" --state-dir "$state" --quiet || true; rm -rf "$work"' EXIT
export KUBECONFIG=$state/kubeconfig
log "creating 2 x $nodes kwok nodes"
"$repo/tests/cluster/nodes.sh" --state-dir "$state" --count "$nodes" --prefix bench-nb >/dev/null
"$repo/tests/cluster/nodes.sh" --state-dir "$state" --count "$nodes" --prefix bench-kc >/dev/null
# start refuses without the DaemonSet that would run the bootstrap (it reads its nodeSelector).
kubectl apply -k "$repo/manifests/ipb" >/dev/null

# The bootstrap inputs: a CA (the Secret's ca.crt must be a CA certificate) and a token file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.crt" \
  -days 2 -subj /CN=bench-ignition-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/token"
url=https://ignition.example.internal:22623/config/worker

# Requests per client from the API server's audit log (one line per request, with the
# userAgent): nodeboot sends "nodeboot/<version>", kubectl "kubectl/<version> ...".
count_by_agent() {  # label prefix: "total" then "verb resource count" lines, in the label's window
  read -r from to < <(awk -v l="$1" '$1 == l {print $3, $4}' "$work/results")
  python3 - "$state/audit.log" "$2" "$from" "$to" <<'PY'
import collections, itertools, json, sys
path, prefix, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
by = collections.Counter()
for line in itertools.islice(open(path), start, stop):
    e = json.loads(line)
    if not e.get("userAgent", "").startswith(prefix):
        continue
    ref = e.get("objectRef") or {}
    res = ref.get("resource", "(non-resource)") + ("/" + ref["subresource"] if ref.get("subresource") else "")
    by[f'{e["verb"]} {res}'] += 1
print(sum(by.values()))
for k, v in sorted(by.items()):
    print(f"    {k:<40} {v}")
PY
}
now() { date +%s.%N; }

nodeboot_run() {
  kubectl nodeboot start $(printf 'bench-nb-%s ' $(seq 0 $((nodes - 1)))) --os rhcos --ignition-url "$url" \
    --ignition-token-file "$work/token" --ca-cert "$work/ca.crt" >"$work/nodeboot.out"
}
kubectl_run() {  # what an operator writes without nodeboot: three kubectl calls per node
  local n
  for ((i = 0; i < nodes; i++)); do
    n=bench-kc-$i
    kubectl cordon "$n" >/dev/null
    kubectl create secret generic "nodeboot-$n" -n nodeboot-system --type nodeboot.io/bootstrap \
      --from-literal=os=rhcos --from-literal=ignition-url="$url" --from-file=ignition-token="$work/token" \
      --from-file=ca.crt="$work/ca.crt" >/dev/null
    kubectl label node "$n" nodeboot.io/ipb-schedule=true >/dev/null
  done
}

audit_lines() { wc -l <"$state/audit.log"; }
measure() {  # label function: "label wall_s first_audit_line last_audit_line"
  local label=$1 t0 t1 l0 l1
  l0=$(audit_lines)
  t0=$(now)
  "$2"
  t1=$(now)
  l1=$(audit_lines)
  echo "$label $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $l0 $l1" >>"$work/results"
}

# Warm kubectl's discovery cache first, as an operator's would be.
kubectl api-resources >/dev/null
log "nodeboot start over $nodes nodes"
measure nodeboot nodeboot_run
log "kubectl loop over $nodes nodes"
measure kubectl kubectl_run

# Check that both did the work before reporting any figure.
for pool in nb kc; do
  done_nodes=$(kubectl get nodes -l nodeboot.io/ipb-schedule=true --no-headers | awk -v p="bench-$pool-" 'index($1, p) == 1 && /SchedulingDisabled/' | wc -l)
  ((done_nodes == nodes)) || { log "pool $pool: only $done_nodes of $nodes nodes cordoned and labelled"; exit 1; }
done
secrets=$(kubectl get secrets -n nodeboot-system --field-selector type=nodeboot.io/bootstrap --no-headers | wc -l)
((secrets == 2 * nodes)) || { log "only $secrets of $((2 * nodes)) bootstrap Secrets"; exit 1; }

count_by_agent nodeboot nodeboot/ >"$work/nodeboot.requests"
count_by_agent kubectl kubectl/ >"$work/kubectl.requests"
read -r _ nb_wall _ < <(grep '^nodeboot ' "$work/results")
read -r _ kc_wall _ < <(grep '^kubectl ' "$work/results")
echo "ipb start over $nodes kwok nodes (same run, real kube-apiserver $(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])'))"
python3 - "$nodes" "$nb_wall" "$(head -1 "$work/nodeboot.requests")" "$kc_wall" "$(head -1 "$work/kubectl.requests")" <<'PY'
import sys
n, nbw, nbr, kcw, kcr = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"  kubectl nodeboot start: wall {nbw:7.2f} s  API requests/node {nbr / n:5.2f}")
print(f"  kubectl loop (peer):    wall {kcw:7.2f} s  API requests/node {kcr / n:5.2f}")
print(f"  ratio nodeboot/kubectl: wall {nbw / kcw:.3f}x  requests/node {nbr / kcr:.2f}x")
PY
echo "  requests by verb/resource, nodeboot (audit log, userAgent nodeboot/):"
tail -n +2 "$work/nodeboot.requests"
echo "  requests by verb/resource, kubectl loop (audit log, userAgent kubectl/):"
tail -n +2 "$work/kubectl.requests"
