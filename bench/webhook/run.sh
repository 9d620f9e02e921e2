#!/usr/bin/env bash
# Benchmarks nodeboot-webhook's /mutate/pods against two peers in one run, on this machine:
#   nginx (Debian, 1 worker) answering a static AdmissionReview over TLS: the ceiling;
#   a controller-runtime webhook doing the same mutation (bench/peers/crwebhook): what
#   users would pick instead.
# Load: wrk (Debian) over TLS with keep-alive, POSTing bench/webhook/review.json (a ~4 KiB
# pod CREATE review), 1 thread, 25 connections (the API server's idle-connection limit).
# Per server: saturation throughput, then p50/p99 at fixed offered rates, then peak RSS.
#
#   bench/webhook/run.sh [--build-dir build] [--duration 10]
# Needs: a built nodeboot-webhook, wrk, nginx (scripts/deps.sh), Go (the peer is built
# through the module proxy from the committed go.mod/go.sum).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
duration=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "run.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx go openssl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
webhook=$build/bin/nodeboot-webhook
[[ -x $webhook ]] || { echo "run.sh: build nodeboot-webhook first (ninja -C $build nodeboot-webhook)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# One certificate for all three servers: same key type (P-256), same handshake cost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
chmod 644 "$work/tls.key"   # nginx's worker runs as nobody

echo "bench: building the controller-runtime peer" >&2
(cd "$root/bench/peers/crwebhook" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath -o "$work/crwebhook" .)

export REVIEW=$here/review.json

# The static answer nginx serves: exactly what nodeboot-webhook answers for this review.
port_nb=$(free_port)
"$webhook" --no-api --cert-dir "$work" --port "$port_nb" --bind-address 127.0.0.1 --log-level error &
pids+=($!); nb_pid=$!
until curl -skf "https://127.0.0.1:$port_nb/healthz" >/dev/null; do sleep 0.1; done
answer=$(curl -sk "https://127.0.0.1:$port_nb/mutate/pods" -H 'Content-Type: application/json' --data-binary @"$REVIEW")

port_ng=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log stderr error;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:$port_ng ssl;
    ssl_certificate $work/tls.crt;
    ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type "application/json";
      return 200 '$answer';
    }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=($!); ng_pid=$!

port_cr=$(free_port)
"$work/crwebhook" --cert-dir "$work" --port "$port_cr" 2>"$work/cr.log" &
pids+=($!); cr_pid=$!
for p in "$port_ng" "$port_cr"; do
  until curl -sk -o /dev/null "https://127.0.0.1:$p/mutate/pods"; do sleep 0.1; done
done

rss_kib() {  # peak resident set (VmHWM) of a process and its children, KiB
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$p/status")))
  done
  echo "$total"
}

declare -A rps p50 p99
run_wrk() {  # name port rate connections
  local out
  out=$(RATE=$3 CONNECTIONS=$4 wrk -t1 -c"$4" -d"${duration}s" --timeout 5s -s "$here/post.lua" \
        "https://127.0.0.1:$2/mutate/pods" | grep '^RESULT')
  echo "bench: $1 rate=${3:-max} $out" >&2
  echo "$out"
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }

printf '%-22s %10s %10s %10s %10s %10s %10s %10s %8s\n' server "max req/s" "p50 max" "p99 max" \
  "p50@1k" "p99@1k" "p50@2k" "p99@2k" "RSS MiB"
declare -A result
for server in nginx nodeboot controller-runtime; do
  case $server in
    nginx) port=$port_ng pid=$ng_pid ;;
    nodeboot) port=$port_nb pid=$nb_pid ;;
    controller-runtime) port=$port_cr pid=$cr_pid ;;
  esac
  run_wrk "$server" "$port" 0 25 >/dev/null   # warm-up: connections, caches, Go's GC pacing
  max=$(run_wrk "$server" "$port" 0 25)
  # Fixed rates: 20 connections each waiting 20 ms (1,000/s) or 10 ms (2,000/s).
  at1k=$(run_wrk "$server" "$port" 1000 20)
  at2k=$(run_wrk "$server" "$port" 2000 20)
  rss=$(rss_kib "$pid")
  result[$server]=$(field rps "$max")
  printf '%-22s %10s %9sus %9sus %9sus %9sus %9sus %9sus %8.1f\n' "$server" "$(field rps "$max")" \
    "$(field p50_us "$max")" "$(field p99_us "$max")" "$(field p50_us "$at1k")" "$(field p99_us "$at1k")" \
    "$(field p50_us "$at2k")" "$(field p99_us "$at2k")" "$(echo "$rss / 1024" | bc -l)"
done
echo
printf 'nodeboot / controller-runtime throughput: %.2fx (target >= 3x)\n' \
  "$(echo "${result[nodeboot]} / ${result[controller-runtime]}" | bc -l)"
printf 'nodeboot / nginx throughput:              %.2fx (target >= 0.3x)\n' \
  "$(echo "${result[nodeboot]} / ${result[nginx]}" | bc -l)"
