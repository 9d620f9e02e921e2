#!/usr/bin/env bash
# Benchmark: putting nodes back after an in-place bootstrap, on a real control plane
# (tests/cluster/up.sh) with N kwok nodes per tool, against its named peer in the same run:
# completion by hand, the way left without the controller (`kubectl nodeboot watch` only
# displays): a `kubectl get nodes -w` follower that runs `kubectl nodeboot finish NODE` the
# moment a node is Ready on a new boot; and nodeboot-webhook --enable-completion-controller
# (nobody watching), each over its own pool of N nodes.
#
# Both pools go through the real `kubectl nodeboot start`; a driver then plays the node side
# (kwok cannot reboot): state Rebooting and the schedule label gone, as the agent leaves a
# node, then the reboot as a kubelet shows it (Ready with a new bootID). A watch stream
# timestamps, per node, the moment its Ready-on-a-new-boot write is stored and the moment
# the node is Done. Reports p50/p99 of Ready → Done per tool, their ratio, and the API
# requests per node of the completing client (audit log, by user agent, after start).
#
#   bench/ipb/completion.sh [--nodes 100] [--state-dir DIR] [--build-dir build]
# Not part of the test command: it measures, it does not assert.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nodes=100 state=/tmp/nodeboot-bench-completion build=$repo/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "completion.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
for b in kubectl-nodeboot nodeboot-webhook; do
  [[ -x $build/bin/$b ]] || { echo "completion.sh: build $b first ($build/bin)" >&2; exit 1; }
done
log() { echo "bench: $*" >&2; }
work=$(mktemp -d)
mkdir "$work/bin"
cp "$build/bin/kubectl-nodeboot" "$build/bin/nodeboot-webhook" "$work/bin/"
export PATH=$work/bin:$PATH

"$repo/tests/cluster/up.sh" --state-dir "$state" --nodes 0 --watch-pid $$ --audit
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$repo/tests/cluster/down.sh" --state-dir "$state" --quiet || true
  rm -rf "$work"
}
trap cleanup EXIT
export KUBECONFIG=$state/kubeconfig
log "creating 2 x $nodes kwok nodes"
"$repo/tests/cluster/nodes.sh" --state-dir "$state" --count "$nodes" --prefix bench-hand >/dev/null
"$repo/tests/cluster/nodes.sh" --state-dir "$state" --count "$nodes" --prefix bench-ctrl >/dev/null
kubectl apply -k "$repo/manifests/ipb" >/dev/null
kubectl create serviceaccount nodeboot-webhook -n nodeboot-system >/dev/null
kubectl apply -f "$repo/manifests/webhook/base/completion-rbac.yaml" -f "$repo/manifests/webhook/base/completion-policy.yaml" >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.crt" \
  -days 2 -subj /CN=bench-ignition-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/token"
mkdir "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls/tls.key" -out "$work/tls/tls.crt" \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
cadata=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
token=$(kubectl create token nodeboot-webhook -n nodeboot-system --duration 2h)
umask 077
cat >"$work/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: $server, certificate-authority-data: $cadata}}]
users: [{name: sa, user: {token: $token}}]
contexts: [{name: c, context: {cluster: c, user: sa}}]
current-context: c
KC

pool() { seq -f "$1-%g" 0 $((nodes - 1)); }
start_pool() {  # prefix
  local names
  mapfile -t names < <(pool "$1")
  kubectl nodeboot start "${names[@]}" --os rhcos \
    --ignition-url https://ignition.example.internal:22623/config/worker \
    --ignition-token-file "$work/token" --ca-cert "$work/ca.crt" >/dev/null
}
audit_lines() { wc -l <"$state/audit.log"; }

# The driver: plays the agent's last report and the reboot for every node of a pool, and
# times Ready-on-a-new-boot (the stored write) to Done (the stored write), from one watch.
drive() {  # prefix out.json
  python3 - "$1" "$nodes" "$2" <<'PY'
import json, subprocess, sys, threading, time
prefix, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = [f"{prefix}-{i}" for i in range(n)]
back, done = {}, {}
w = subprocess.Popen(["kubectl", "get", "nodes", "-w", "--output-watch-events", "-o", "json",
                      "-l", "nodeboot-bench-pool=" + prefix], stdout=subprocess.PIPE, text=True)
def follow():
    dec, buf = json.JSONDecoder(), ""
    for line in w.stdout:
        buf += line
        while buf.strip():
            try:
                ev, end = dec.raw_decode(buf.lstrip())
            except ValueError:
                break
            buf = buf.lstrip()[end:]
            node, t = ev["object"], time.monotonic()
            name = node["metadata"]["name"]
            ann = node["metadata"].get("annotations", {})
            boot = node.get("status", {}).get("nodeInfo", {}).get("bootID", "")
            if boot == "bench-new-" + name and name not in back:
                back[name] = t
            if ann.get("nodeboot.io/state") == "Done" and name not in done:
                done[name] = t
threading.Thread(target=follow, daemon=True).start()
time.sleep(1)
cond = lambda s: {"type": "Ready", "status": s, "reason": "KubeletReady" if s == "True" else "KubeletNotReady",
                  "message": "played by the benchmark"}
def kc(*a, stdin=None):
    subprocess.run(["kubectl", *a], check=True, capture_output=True, text=True, input=stdin)
for name in names:
    kc("label", "node", name, "nodeboot.io/ipb-schedule-")
    kc("annotate", "node", name, "--overwrite", "kwok.x-k8s.io/status=custom", "nodeboot.io/state=Rebooting",
       "nodeboot.io/updated=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
for name in names:
    kc("patch", "node", name, "--subresource=status", "--type=strategic", "-p",
       json.dumps({"status": {"nodeInfo": {"bootID": "bench-new-" + name}, "conditions": [cond("True")]}}))
deadline = time.monotonic() + 600
while len(done) < n and time.monotonic() < deadline:
    time.sleep(0.2)
w.kill()
lat = sorted(done[k] - back[k] for k in names if k in done and k in back)
json.dump({"latencies": lat, "done": len(done), "back": len(back)}, open(out, "w"))
PY
}
pct() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["latencies"]; q=float(sys.argv[2]); print("%.3f" % (d[min(len(d)-1, int(q*len(d)))] if d else float("nan")))' "$1" "$2"; }
count() {  # from to user-agent-prefix
  python3 - "$state/audit.log" "$1" "$2" "$3" <<'PY'
import itertools, json, sys
path, start, stop, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(sum(1 for line in itertools.islice(open(path), start, stop)
          if json.loads(line).get("userAgent", "").startswith(prefix)))
PY
}
for p in bench-hand bench-ctrl; do
  for ((i = 0; i < nodes; i++)); do kubectl label node "$p-$i" nodeboot-bench-pool=$p >/dev/null; done
done

# Peer: `kubectl nodeboot finish` per node, run by a follower of `kubectl get nodes -w`.
log "pool 1: $nodes nodes completed by kubectl nodeboot finish, run as each comes back"
start_pool bench-hand
python3 - bench-hand "$nodes" <<'PY' &
import json, subprocess, sys
prefix, n = sys.argv[1], int(sys.argv[2])
w = subprocess.Popen(["kubectl", "get", "nodes", "-w", "-o", "json", "-l", "nodeboot-bench-pool=" + prefix],
                     stdout=subprocess.PIPE, text=True)
dec, buf, started, running = json.JSONDecoder(), "", set(), []
for line in w.stdout:
    buf += line
    while buf.strip():
        try:
            node, end = dec.raw_decode(buf.lstrip())
        except ValueError:
            break
        buf = buf.lstrip()[end:]
        name = node["metadata"]["name"]
        boot = node.get("status", {}).get("nodeInfo", {}).get("bootID", "")
        if boot == "bench-new-" + name and name not in started:
            started.add(name)
            running.append(subprocess.Popen(["kubectl", "nodeboot", "finish", name], stdout=subprocess.DEVNULL))
    if len(started) == n:
        break
for p in running:
    p.wait()
w.kill()
PY
pids+=($!)
sleep 2
a0=$(audit_lines)
drive bench-hand "$work/hand.json"
wait "${pids[-1]}" || true
a1=$(audit_lines)

log "pool 2: $nodes nodes completed by the completion controller, nobody watching"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nodeboot-webhook --cert-dir "$work/tls" --port "$port" --bind-address 127.0.0.1 --kubeconfig "$work/sa.kubeconfig" \
  --enable-completion-controller >"$work/webhook.log" 2>&1 &
pids+=($!)
sleep 3
start_pool bench-ctrl
a2=$(audit_lines)
drive bench-ctrl "$work/ctrl.json"
a3=$(audit_lines)

w50=$(pct "$work/hand.json" 0.5) w99=$(pct "$work/hand.json" 0.99)
c50=$(pct "$work/ctrl.json" 0.5) c99=$(pct "$work/ctrl.json" 0.99)
wr=$(count "$a0" "$a1" nodeboot/) cr=$(count "$a2" "$a3" nodeboot/)
echo "nodes per pool: $nodes"
echo "Ready on a new boot -> Done (s):   p50      p99"
echo "  watch + finish by hand (peer)    $w50    $w99"
echo "  completion controller            $c50    $c99"
python3 -c "import sys; w50,w99,c50,c99=map(float,sys.argv[1:]); print('ratio controller/by hand: p50 %.2fx, p99 %.2fx' % (c50/w50, c99/w99))" "$w50" "$w99" "$c50" "$c99"
python3 -c "import sys; n=int(sys.argv[1]); print('API requests per node while completing (nodeboot clients): by hand %.2f, controller %.2f' % (int(sys.argv[2])/n, int(sys.argv[3])/n))" "$nodes" "$wr" "$cr"
