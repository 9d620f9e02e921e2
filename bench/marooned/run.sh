#!/usr/bin/env bash
# Benchmark: marooned pods end to end on a real control plane (tests/cluster/up.sh: etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager, kwok). N marooned pods are
# created through the real nodeboot-webhook (gated and pinned; the controller issues each a
# join credential), then N kwok nodes join with each pod's label, taints and join proof;
# the gate-release controller (the same nodeboot-webhook process, --enable-gate-controller,
# as the nodeboot-webhook ServiceAccount) vouches for each node and releases its pod once
# it is Ready, and the real scheduler binds it.
#
# Reports, from the API server only:
#   - node Ready → pod bound, p50/p99/max, two ways: (a) receive times of one watch on the
#     marooned nodes and one on the pods (ms resolution; both watches share the clock), and
#     (b) the objects' own timestamps: the node's Ready lastTransitionTime vs the pod's
#     PodScheduled lastTransitionTime (whole seconds, the API's resolution);
#   - API requests per pod: the delta of apiserver_request_total (kubectl get --raw /metrics)
#     from just before the nodes join to all pods bound, total and split by verb/resource.
#     The metric carries no user agent, so the controller's own share is counted from what
#     only it does: PATCH pods (gate removals) and its Events (reportingComponent).
# No peer: MaroonedPods has no runnable release here, so the figures are absolute.
#
#   bench/marooned/run.sh [--pods 500] [--state-dir DIR] [--build-dir build]
# Not part of the test command: it measures, it does not assert.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
pods=500 state=/tmp/nodeboot-bench-marooned build=$repo/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --pods) pods=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "run.sh: unknown flag $1 (expected [--pods N] [--state-dir DIR] [--build-dir DIR])" >&2; exit 2 ;;
  esac
done
[[ $pods =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --pods must be a positive number, got '$pods'" >&2; exit 2; }
webhook=$build/bin/nodeboot-webhook
[[ -x $webhook ]] || { echo "run.sh: build nodeboot-webhook first ($webhook)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

ns=marooned-bench
# shellcheck source=bench/marooned/setup.sh
source "$here/setup.sh"
start_webhook bench --enable-gate-controller
register_webhooks "$webhook_port"
port=$webhook_port

# --- N marooned pods through the webhook; they stay gated (no node yet).
log "creating $pods marooned pods"
create_pods "$pods"

# --- Watches (receive times), started before the nodes exist.
watch nodes nodes -l maroonedpods.io/pod-uid
watch pods pods -n "$ns"
sleep 2  # both watches established (their initial list of pods is in the file)
metrics "$work/metrics.before"

# --- N dedicated nodes join: label, taints and join proof for each id (the HMAC of the
# credential the controller issued), handed to kwok (which reports Ready). The credentials
# are read before the measurement starts.
log "joining $pods kwok nodes"
for _ in $(seq 1 240); do
  (($(kubectl get secrets -n nodeboot-marooned -l maroonedpods.io/pod-uid \
    --field-selector type=maroonedpods.io/join-credential -o name | wc -l) >= pods)) && break
  sleep 0.5
done
join_nodes marooned
# Counted from the pod watch, so that waiting adds no requests to the ones measured.
bound() {
  python3 -c 'import json, sys
names = set()
for line in open(sys.argv[1]):
    if line.endswith("\n"):  # the watcher may be mid-line
        obj = json.loads(line.split(" ", 1)[1])["object"]
        if obj.get("spec", {}).get("nodeName"):
            names.add(obj["metadata"]["name"])
print(len(names))' "$work/watch.pods"
}
for _ in $(seq 1 600); do
  (($(bound) >= pods)) && break
  sleep 1
done
(($(bound) >= pods)) || { log "only $(bound) of $pods pods bound after 10 min"; tail -20 "$work/webhook-bench.log" >&2; exit 1; }
metrics "$work/metrics.after"
sleep 2  # the last watch events arrive
kubectl get nodes -l maroonedpods.io/pod-uid -o json >"$work/nodes.json"
kubectl get pods -n "$ns" -o json >"$work/pods.json"
kubectl get events -n "$ns" -o json >"$work/events.json"
curl -sk "https://127.0.0.1:$port/metrics" >"$work/controller.metrics"

PYTHONPATH="$here" python3 - "$work" "$pods" <<'PY'
import json, re, sys
from report import pct, print_requests, request_delta  # bench/marooned/report.py (PYTHONPATH)
from datetime import datetime
work, n = sys.argv[1], int(sys.argv[2])

def ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))

def schedulable(node):
    # Ready and free of every NoSchedule taint but its own dedicated one: the node lifecycle
    # controller lifts node.kubernetes.io/not-ready only after Ready, and the gate controller
    # waits for that (a pod released earlier only bounces off the scheduler into its backoff).
    return ready(node) and all(t["key"] == "maroonedpods.io/dedicated" or t.get("effect") != "NoSchedule"
                               for t in node.get("spec", {}).get("taints", []))

# (a) watch receive times: first event with the node Ready (and schedulable), first event with
# the pod released, first with the pod bound.
ready_at, schedulable_at, released_at, bound_at = {}, {}, {}, {}
for line in open(f"{work}/watch.nodes"):
    t, ev = line.split(" ", 1)
    node = json.loads(ev)["object"]
    pid = node["metadata"]["labels"]["maroonedpods.io/pod-uid"]
    if ready(node):
        ready_at.setdefault(pid, float(t))
    if schedulable(node):
        schedulable_at.setdefault(pid, float(t))
for line in open(f"{work}/watch.pods"):
    t, ev = line.split(" ", 1)
    pod = json.loads(ev)["object"]
    pid = pod["metadata"].get("annotations", {}).get("maroonedpods.io/pod-uid")
    if pid and not any(g["name"] == "maroonedpods.io/gate" for g in pod["spec"].get("schedulingGates", [])):
        released_at.setdefault(pid, float(t))
    if pid and pod["spec"].get("nodeName"):
        bound_at.setdefault(pid, float(t))
watch_ms = [(bound_at[i] - ready_at[i]) * 1000 for i in bound_at if i in ready_at]
# The split: Ready → schedulable is kube-controller-manager's (the not-ready taint), schedulable
# → gate removed the gate controller's, gate removed → bound the scheduler's.
untaint_ms = [(schedulable_at[i] - ready_at[i]) * 1000 for i in schedulable_at if i in ready_at]
release_ms = [(released_at[i] - schedulable_at[i]) * 1000 for i in released_at if i in schedulable_at]
bind_ms = [(bound_at[i] - released_at[i]) * 1000 for i in bound_at if i in released_at]

# (b) the API's own timestamps (whole seconds).
def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
node_ready = {}
for node in json.load(open(f"{work}/nodes.json"))["items"]:
    for c in node["status"].get("conditions", []):
        if c["type"] == "Ready" and c["status"] == "True":
            node_ready[node["metadata"]["labels"]["maroonedpods.io/pod-uid"]] = ts(c["lastTransitionTime"])
api_s, on_own_node = [], 0
nodes_by_id = {nd["metadata"]["labels"]["maroonedpods.io/pod-uid"]: nd["metadata"]["name"]
               for nd in json.load(open(f"{work}/nodes.json"))["items"]}
for pod in json.load(open(f"{work}/pods.json"))["items"]:
    pid = pod["metadata"]["annotations"]["maroonedpods.io/pod-uid"]
    on_own_node += pod["spec"].get("nodeName") == nodes_by_id.get(pid)
    for c in pod["status"].get("conditions", []):
        if c["type"] == "PodScheduled" and c["status"] == "True" and pid in node_ready:
            api_s.append(ts(c["lastTransitionTime"]) - node_ready[pid])

# API requests between the nodes joining and the last pod bound.
delta = request_delta(f"{work}/metrics.before", f"{work}/metrics.after")
events = json.load(open(f"{work}/events.json"))["items"]
ctl_events = sum(1 for e in events if e.get("reportingComponent") == "nodeboot-gate-controller"
                 and ts(e["firstTimestamp"]) >= min(node_ready.values(), default=0) - 1)
removed = re.search(r"^nodeboot_marooned_gates_removed_total (\S+)", open(f"{work}/controller.metrics").read(), re.M)

print(f"marooned pods: {n}, bound to their own dedicated node: {on_own_node}")
print(f"node Ready -> pod bound, watch receive times ({len(watch_ms)} pods): "
      f"p50 {pct(watch_ms, .5):.0f} ms, p99 {pct(watch_ms, .99):.0f} ms, max {max(watch_ms):.0f} ms")
print(f"  of which Ready -> not-ready taint lifted (kube-controller-manager): p50 {pct(untaint_ms, .5):.0f} ms, "
      f"p99 {pct(untaint_ms, .99):.0f} ms;")
print(f"  taint lifted -> gate removed (gate controller): p50 {pct(release_ms, .5):.0f} ms, p99 {pct(release_ms, .99):.0f} ms; "
      f"gate removed -> bound (scheduler): p50 {pct(bind_ms, .5):.0f} ms, p99 {pct(bind_ms, .99):.0f} ms")
print(f"node Ready -> pod bound, API timestamps ({len(api_s)} pods, 1 s resolution): "
      f"p50 {pct(api_s, .5):.0f} s, p99 {pct(api_s, .99):.0f} s, max {max(api_s):.0f} s")
print_requests("nodes joining -> all bound", delta, n, 12, 28)
patches = delta.get(("PATCH", "pods", ""), 0)
gates = float(removed.group(1)) if removed else 0
print(f"controller: {gates:.0f} gate-removal PATCHes (its /metrics; PATCH pods by all clients: {patches:.0f}) + "
      f"{ctl_events} Events = {(gates + ctl_events) / n:.2f} writes/pod, plus per pod one GET and one DELETE of its "
      f"join credential and one PATCH vouching for its node (in the table above); informers for the rest")
PY
