#!/bin/sh
# Seed 002's commands over `kubectl-nodeboot cluster`, with the container's fixed paths:
# /config/cluster.yaml (read-only), /output (generated configs, logs, kubeconfig) and,
# when mounted, /templates (overrides for the built-in templates).
set -eu
config=${CLUSTER_CONFIG:-/config/cluster.yaml}
out=${OUTPUT_DIR:-/output}
templates=""
[ -d /templates ] && templates="--templates /templates"
cmd=${1:-init}
[ $# -gt 0 ] && shift
case $cmd in
  init)     exec kubectl-nodeboot cluster init -f "$config" -o "$out" $templates "$@" ;;
  generate) exec kubectl-nodeboot cluster generate -f "$config" -o "$out" $templates "$@" ;;
  # In a container, serve stays in the foreground (stopping the container stops both).
  serve)    exec kubectl-nodeboot cluster serve -o "$out" --foreground "$@" ;;
  wait)     exec kubectl-nodeboot cluster wait -f "$config" -o "$out" "$@" ;;
  validate) exec kubectl-nodeboot cluster validate -f "$config" "$@" ;;
  teardown) exec kubectl-nodeboot cluster teardown -o "$out" "$@" ;;
  *) echo "usage: init | generate | serve | wait | validate | teardown" >&2; exit 2 ;;
esac
