#!/bin/sh
# Seed 002's commands over `kubectl-nodeboot cluster`, with the container's fixed paths:
# /config/cluster.yaml (read-only), /output (generated configs, logs, kubeconfig) and,
# when mounted, /templates (overrides for the built-in templates).
set -eu
config=${CLUSTER_CONFIG:-/config/cluster.yaml}
out=${OUTPUT_DIR:-/output}
templates=""
[ -d /templates ] && templates="--templates /templates"
# The image's build arguments (Containerfile): versions for a cluster.yaml that names none.
versions="--default-k8s-version=${K8S_VERSION:-} --default-flatcar-version=${FLATCAR_VERSION:-}"
cmd=${1:-init}
[ $# -gt 0 ] && shift
case $cmd in
  init)     exec kubectl-nodeboot cluster init -f "$config" -o "$out" $versions $templates "$@" ;;
  generate) exec kubectl-nodeboot cluster generate -f "$config" -o "$out" $versions $templates "$@" ;;
  # In a container, serve stays in the foreground (stopping the container stops both).
  serve)    exec kubectl-nodeboot cluster serve -o "$out" --foreground "$@" ;;
  wait)     exec kubectl-nodeboot cluster wait -f "$config" -o "$out" $versions "$@" ;;
  validate) exec kubectl-nodeboot cluster validate -f "$config" $versions "$@" ;;
  # From a fresh container too: the running one's state is in $out/run (services.hpp).
  teardown) exec kubectl-nodeboot cluster teardown -o "$out" "$@" ;;
  # The commented example, to start from: docker run --rm IMAGE example > cluster.yaml
  example)  exec cat /usr/share/nodeboot/cluster.yaml.example ;;
  *) echo "usage: init | generate | serve | wait | validate | teardown | example" >&2; exit 2 ;;
esac
