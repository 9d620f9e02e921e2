#!/usr/bin/env bash
# Benchmark: the VM controller at scale on a real control plane (tests/cluster/up.sh) with
# KubeVirt's own CRDs (tests/cluster/kubevirt-crds.sh). N marooned pods are created at once
# through the real nodeboot-webhook; two controller replicas (gate-release and VM
# controllers, as the nodeboot-webhook ServiceAccount, short lease periods) run beside an
# admission-only replica. When half the VMs exist the leading replica is killed (SIGKILL)
# and the other takes over. Then N kwok nodes join with each pod's join proof, the pods
# are bound, and all N pods are deleted.
#
# Reports, from the API server only:
#   - pod created → VMI created, p50/p99/max (receive times of one watch on the pods and one
#     on the VMIs), for all pods and for those whose VM came before the leader was killed;
#   - API requests per pod from the pods' creation to the last VMI (apiserver_request_total),
#     by verb and resource;
#   - cleanup: from the delete of the N pods until no VMI, VM record, bootstrap token, join
#     credential or Node made for them is left (the time the last one went).
# Checks (exit 1 otherwise): N VMIs, each created exactly once (one ADDED event and one uid
# per name, attempt 1) across the leader change; one bootstrap token per pod; nothing left
# after the cleanup. No peer: MaroonedPods has no runnable release here.
#
#   bench/marooned/vms.sh [--pods 500] [--state-dir DIR] [--build-dir build]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
pods=500 state=/tmp/nodeboot-bench-marooned-vms build=$repo/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --pods) pods=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "vms.sh: unknown flag $1 (expected [--pods N] [--state-dir DIR] [--build-dir DIR])" >&2; exit 2 ;;
  esac
done
[[ $pods =~ ^[1-9][0-9]*$ ]] || { echo "vms.sh: --pods must be a positive number, got '$pods'" >&2; exit 2; }
webhook=$build/bin/nodeboot-webhook
[[ -x $webhook ]] || { echo "vms.sh: build nodeboot-webhook first ($webhook)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
crds=$("$repo/tests/cluster/kubevirt-crds.sh")

ns=marooned-vm-bench
# shellcheck source=bench/marooned/setup.sh
source "$here/setup.sh"
kubectl apply --server-side --force-conflicts -f "$crds" >/dev/null
kubectl wait --for=condition=Established -f "$crds" --timeout=120s >/dev/null

# Admission alone in one process, so that killing a controller replica leaves it answering.
start_webhook admission
register_webhooks "$webhook_port"
lease=(--leader-elect-lease-duration 4 --leader-elect-renew-deadline 3 --leader-elect-retry-period 0.5)
start_webhook a --enable-gate-controller --enable-vm-controller "${lease[@]}"
a_pid=$webhook_pid a_port=$webhook_port
leads() { curl -sk "https://127.0.0.1:$1/metrics" | grep -q '^nodeboot_vm_controller_leader 1'; }
for _ in $(seq 1 120); do leads "$a_port" && break; sleep 0.5; done
leads "$a_port" || { log "replica a never led"; cat "$work/webhook-a.log" >&2; exit 1; }
start_webhook b --enable-gate-controller --enable-vm-controller "${lease[@]}"
b_port=$webhook_port

watch pods pods -n "$ns"
watch vmis virtualmachineinstances -n nodeboot-marooned
sleep 2
vmis_seen() {  # distinct VMIs ADDED so far
  python3 -c 'import json, sys
names = set()
for line in open(sys.argv[1]):
    if line.endswith("\n"):
        ev = json.loads(line.split(" ", 1)[1])
        if ev["type"] == "ADDED":
            names.add(ev["object"]["metadata"]["name"])
print(len(names))' "$work/watch.vmis"
}
metrics "$work/metrics.before"

log "creating $pods marooned pods at once"
create_start=$(date +%s.%N)
create_pods "$pods" &
creator=$!
for _ in $(seq 1 1200); do
  (($(vmis_seen) * 2 >= pods)) && break
  sleep 0.5
done
kill -9 "$a_pid"
killed_at=$(date +%s.%N)
wait "$a_pid" 2>/dev/null || true  # reaped here, so bash reports no "Killed"
log "replica a (the leader) killed with $(vmis_seen) of $pods VMIs created"
wait "$creator"
for _ in $(seq 1 1200); do
  (($(vmis_seen) >= pods)) && break
  sleep 0.5
done
(($(vmis_seen) >= pods)) || { log "only $(vmis_seen) of $pods VMIs after 10 min"; tail -30 "$work/webhook-b.log" >&2; exit 1; }
metrics "$work/metrics.after"
sleep 2
kubectl get vmi -n nodeboot-marooned -o json >"$work/vmis.json"
kubectl get secrets -n kube-system -l maroonedpods.io/pod-uid -o json >"$work/tokens.json"
leads "$b_port" || log "replica b does not lead after the kill"

PYTHONPATH="$here" python3 - "$work" "$pods" "$killed_at" "$create_start" <<'PY'
import json, sys
from report import pct, print_requests, request_delta  # bench/marooned/report.py (PYTHONPATH)
work, n, killed_at, create_start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

created, vmi_at, added = {}, {}, {}
for line in open(f"{work}/watch.pods"):
    t, ev = line.split(" ", 1)
    pod = json.loads(ev)["object"]
    pid = pod["metadata"].get("annotations", {}).get("maroonedpods.io/pod-uid")
    if pid:
        created.setdefault(pid, float(t))
for line in open(f"{work}/watch.vmis"):
    t, ev = line.split(" ", 1)
    ev = json.loads(ev)
    if ev["type"] != "ADDED":
        continue
    vmi = ev["object"]
    pid = vmi["metadata"]["labels"]["maroonedpods.io/pod-uid"]
    vmi_at.setdefault(pid, float(t))
    added.setdefault(vmi["metadata"]["name"], set()).add(vmi["metadata"]["uid"])
ms = [(vmi_at[i] - created[i]) * 1000 for i in vmi_at if i in created]
before = [(vmi_at[i] - created[i]) * 1000 for i in vmi_at if i in created and vmi_at[i] < killed_at]
stored = json.load(open(f"{work}/vmis.json"))["items"]
tokens = json.load(open(f"{work}/tokens.json"))["items"]
per_pod_tokens = {}
for s in tokens:
    pid = s["metadata"]["labels"]["maroonedpods.io/pod-uid"]
    per_pod_tokens[pid] = per_pod_tokens.get(pid, 0) + 1
problems = []
if len(stored) != n:
    problems.append(f"{len(stored)} VMIs stored, expected {n}")
twice = [name for name, uids in added.items() if len(uids) > 1]
if twice:
    problems.append(f"{len(twice)} VMIs created more than once, e.g. {twice[0]}")
not_first = [v["metadata"]["name"] for v in stored
             if v["metadata"].get("annotations", {}).get("maroonedpods.io/vm-attempt") != "1"]
if not_first:
    problems.append(f"{len(not_first)} VMIs are not attempt 1")
if len(per_pod_tokens) != n or any(c != 1 for c in per_pod_tokens.values()):
    problems.append(f"bootstrap tokens: {len(tokens)} for {len(per_pod_tokens)} pods, expected one each")

delta = request_delta(f"{work}/metrics.before", f"{work}/metrics.after")
print(f"marooned pods: {n}; VMIs: {len(stored)}, each created once: {not twice}; bootstrap tokens: {len(tokens)}")
print(f"leader killed {killed_at - create_start:.1f} s after the pods' creation began, "
      f"with {len(before)} VMIs created; replica b took over")
print(f"pod created -> VMI created, watch receive times ({len(ms)} pods): p50 {pct(ms, .5):.0f} ms, "
      f"p99 {pct(ms, .99):.0f} ms, max {max(ms):.0f} ms")
if before:
    print(f"  before the leader was killed ({len(before)} pods): p50 {pct(before, .5):.0f} ms, "
          f"p99 {pct(before, .99):.0f} ms")
print_requests("pods created -> last VMI", delta, n, 14, 32)
if problems:
    sys.exit("FAILED: " + "; ".join(problems))
PY

# --- The nodes join (each with its pod's join proof), the pods are bound.
log "joining $pods kwok nodes"
join_nodes marooned-vm
bound() { kubectl get pods -n "$ns" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c . || true; }
for _ in $(seq 1 600); do
  (($(bound) >= pods)) && break
  sleep 1
done
(($(bound) >= pods)) || { log "only $(bound) of $pods pods bound after 10 min"; tail -20 "$work/webhook-b.log" >&2; exit 1; }

# --- Cleanup: delete every pod; wait until nothing made for them is left.
log "deleting the $pods pods"
left() {
  local vmis records tokens creds nodes
  vmis=$(kubectl get vmi -n nodeboot-marooned -o name | wc -l)
  records=$(kubectl get secrets -n nodeboot-marooned -l maroonedpods.io/pod-uid --field-selector type=Opaque -o name | wc -l)
  creds=$(kubectl get secrets -n nodeboot-marooned -l maroonedpods.io/pod-uid \
    --field-selector type=maroonedpods.io/join-credential -o name | wc -l)
  tokens=$(kubectl get secrets -n kube-system -l maroonedpods.io/pod-uid -o name | wc -l)
  nodes=$(kubectl get nodes -l maroonedpods.io/pod-uid -o name | wc -l)
  echo "$((vmis + records + creds + tokens + nodes)) (VMIs $vmis, records $records, credentials $creds, tokens $tokens, nodes $nodes)"
}
start=$(date +%s.%N)
kubectl delete pods -n "$ns" --all --wait=false >/dev/null
remaining=""
for _ in $(seq 1 1200); do
  remaining=$(left)
  [[ $remaining == 0\ * ]] && break
  sleep 0.5
done
end=$(date +%s.%N)
[[ $remaining == 0\ * ]] || { log "cleanup incomplete after 10 min: $remaining"; tail -30 "$work/webhook-b.log" >&2; exit 1; }
python3 -c "import sys; print(f'cleanup of {sys.argv[1]} pods: everything gone {float(sys.argv[3]) - float(sys.argv[2]):.1f} s after the delete (polled every 0.5 s)')" \
  "$pods" "$start" "$end"
