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
plugin=$build/bin/kubectl-nodeboot
[[ -x $plugin ]] || { echo "run.sh: build kubectl-nodeboot first ($plugin)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

"$repo/tests/cluster/up.sh" --state-dir "$state" --nodes 0 --watch-pid $$
trap '"$repo/tests/cluster/down.sh" --state-dir "$state" --quiet || true' EXIT
export KUBECONFIG=$state/kubeconfig
log "creating $nodes kwok nodes"
"$repo/tests/cluster/nodes.sh" --state-dir "$state" --count "$nodes"

log "creating $((2 * nodes)) bootstrap pods"
work=$(mktemp -d)
for base in iscsi gpu; do
  kubectl kustomize "$repo/manifests/node-bootstrap/$base" | kubectl create --dry-run=client -o json -f - >"$work/$base.json"
done
python3 - "$work" "$nodes" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
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
# One server-side apply stream per 2,000 pods: bounded request bodies, idempotent on re-runs.
split -l 2000 "$work/pods.json" "$work/chunk."
for chunk in "$work"/chunk.*; do
  kubectl apply --server-side --field-manager nodeboot-bench -f "$chunk" >/dev/null
done
selector='app in (rke2-node-bootstrap-iscsi,rke2-node-bootstrap-gpu)'
# Poll one list rather than `kubectl wait` (one watch per pod: minutes for thousands).
ready_pods() {
  kubectl get pods -n kube-system -l "$selector" --no-headers 2>/dev/null | awk '$2 == "1/1" {n++} END {print n + 0}'
}
for _ in $(seq 1 180); do
  (($(ready_pods) >= 2 * nodes)) && break
  sleep 5
done
(($(ready_pods) >= 2 * nodes)) || { log "only $(ready_pods) of $((2 * nodes)) pods Ready after 15 min"; exit 1; }
log "$((2 * nodes)) pods Ready"

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
rm -rf "$work"
