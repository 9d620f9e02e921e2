#!/usr/bin/env bash
# Benchmark: `kubectl nodeboot verify` against its named peer, kubectl fetching the same data
# (`kubectl get nodes -o json` then `kubectl get pods -A -l 'app in (...)' -o json`), in the
# same run, on a real control plane with N kwok nodes and both bootstrap DaemonSets' pods
# (two per node, the pod template rendered from manifests/node-bootstrap, created directly
# so 2N pods do not wait on the DaemonSet controller's 20 QPS; kwok marks them Running/Ready).
# Reports the median wall time and peak RSS of R alternating runs, and the ratios
# (targets: verify <= 1.2x kubectl's wall time, <= 1.5x its peak RSS).
#
#   bench/verify/run.sh [--nodes 5000] [--runs 5] [--state-dir DIR] [--build-dir build]
# Not part of the test command: it takes minutes and measures, it does not assert.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nodes=5000 runs=5 state=/tmp/nodeboot-bench-verify build=$repo/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "run.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -x $build/bin/kubectl-nodeboot ]] || { echo "run.sh: build kubectl-nodeboot first ($build/bin)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
work=$(mktemp -d)
# The binary under test is copied: a rebuild during the run cannot change it.
plugin=$work/kubectl-nodeboot
cp "$build/bin/kubectl-nodeboot" "$plugin"

"$repo/tests/cluster/up.sh" --state-dir "$state" --nodes 0 --watch-pid $$
trap '"$repo/tests/cluster/down.sh" --state-dir "$state" --quiet || true; rm -rf "$work"' EXIT
export KUBECONFIG=$state/kubeconfig
selector='app in (rke2-node-bootstrap-iscsi,rke2-node-bootstrap-gpu)'

# Nodes as tests/cluster/nodes.sh makes them, but applied 500 at a time and counted with one
# list: on 2 shared cores one 5,000-object apply and `kubectl wait` over thousands of objects
# each ran for more than 15 minutes.
log "creating $nodes kwok nodes and $((2 * nodes)) bootstrap pods"
for base in iscsi gpu; do
  kubectl kustomize "$repo/manifests/node-bootstrap/$base" | kubectl create --dry-run=client -o json -f - >"$work/$base.json"
done
python3 - "$work" "$nodes" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/nodes.json", "w") as out:
    for i in range(n):
        name = f"kwok-node-{i}"
        out.write(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                       "kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                                    "osImage": "Ubuntu 24.04.1 LTS", "kernelVersion": "6.8.0-45-generic",
                                    "kubeletVersion": "fake", "containerRuntimeVersion": "fake"}}}) + "\n")
with open(f"{work}/pods.json", "w") as out:
    for base in ("iscsi", "gpu"):
        text, items, pos, dec = open(f"{work}/{base}.json").read(), [], 0, json.JSONDecoder()
        while pos < len(text.rstrip()):  # kubectl prints one JSON document per object
            obj, end = dec.raw_decode(text, pos)
            items.append(obj)
            pos = end + (len(text[end:]) - len(text[end:].lstrip()))
        ds = next(i for i in items if i["kind"] == "DaemonSet")
        tmpl = ds["spec"]["template"]
        for i in range(n):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{ds['metadata']['name']}-{i}", "namespace": "kube-system",
                                "labels": tmpl["metadata"]["labels"]},
                   "spec": dict(tmpl["spec"], nodeName=f"kwok-node-{i}")}
            out.write(json.dumps(pod) + "\n")
PY
apply_chunks() {  # file: server-side apply, 500 objects per kubectl (idempotent on re-runs)
  rm -f "$work"/chunk.*
  split -l 500 "$1" "$work/chunk."
  for chunk in "$work"/chunk.*; do
    kubectl apply --server-side --force-conflicts --field-manager nodeboot-bench -f "$chunk" >/dev/null
  done
}
wait_count() {  # what target command...: until the command prints a number >= target (15 min at most)
  local what=$1 target=$2
  shift 2
  for _ in $(seq 1 180); do
    (($("$@") >= target)) && { log "$target $what"; return 0; }
    sleep 5
  done
  log "fewer than $target $what after 15 min"
  exit 1
}
ready_nodes() { kubectl get nodes -l type=kwok --no-headers 2>/dev/null | awk '$2 == "Ready" {n++} END {print n + 0}'; }
ready_pods() {
  kubectl get pods -n kube-system -l "$selector" --no-headers 2>/dev/null | awk '$2 == "1/1" {n++} END {print n + 0}'
}
apply_chunks "$work/nodes.json"
wait_count "nodes Ready" "$nodes" ready_nodes
apply_chunks "$work/pods.json"
wait_count "bootstrap pods Ready" $((2 * nodes)) ready_pods

measure() {  # label command...: appends "label wall_s maxrss_kib" to $work/results
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
  echo "$label $(tail -n 1 "$work/time")" >>"$work/results"
}
peer() {
  kubectl get nodes -o json >/dev/null
  kubectl get pods -A -l "$selector" -o json >/dev/null
}
export -f peer
export selector
# Warm-up (page cache, the API server's caches), then alternate so drift hits both alike.
"$plugin" verify >/dev/null 2>&1 || true
peer
for ((r = 1; r <= runs; r++)); do
  measure verify "$plugin" verify
  measure verify-json "$plugin" verify -o json
  measure kubectl-pair bash -c peer
  measure kubectl-nodes kubectl get nodes -o json
  measure kubectl-pods kubectl get pods -A -l "$selector" -o json
done
"$plugin" verify | tail -n 1 >&2 || true

python3 - "$work/results" "$nodes" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, wall, rss = line.split()
    rows.setdefault(label, []).append((float(wall), int(rss)))
med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in rows.items()}
print(f"nodes={sys.argv[2]} runs={len(rows['verify'])} (median wall s, median peak RSS MiB)")
for k, (w, r) in med.items():
    print(f"  {k:14s} {w:7.2f} s  {r / 1024:8.1f} MiB")
pw, pr = med["kubectl-pair"][0], max(med["kubectl-nodes"][1], med["kubectl-pods"][1])
for k in ("verify", "verify-json"):
    w, r = med[k]
    print(f"  {k}: wall {w / pw:.2f}x kubectl (target <= 1.2x), peak RSS {r / pr:.2f}x kubectl (target <= 1.5x)")
PY
