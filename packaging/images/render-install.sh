#!/usr/bin/env bash
# Renders the one-file install for an image set (scripts/release.sh writes the release's;
# the plugin's build embeds it for `kubectl nodeboot install`):
#
#   render-install.sh --images FILE [--certs self-managed|cert-manager] [--base DIR]
#
# --base renders another kustomization of manifests/ with the same images (the node layer
# applies manifests/ipb alone this way).
#
# FILE has lines "registry PREFIX", "version V" and, for a release, "nodeboot-webhook sha256:..."
# and "nodeboot-agent sha256:...". An image with a digest is named PREFIX/NAME@DIGEST; without
# one (a development build, whose images nobody published) PREFIX/NAME:V.
# The manifests are rendered through a kustomize overlay (`images:`) made in a temporary
# directory, so manifests/ itself names only the images (nodeboot-webhook, nodeboot-agent).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
images="" certs=self-managed base=""
usage="usage: $0 --images FILE [--certs self-managed|cert-manager] [--base DIR]"
while (($#)); do
  case $1 in
    --images) images=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $certs in
  self-managed) base=${base:-$root/manifests} ;;
  cert-manager) base=${base:-$root/manifests/install-parts/cert-manager} ;;
  *) echo "render-install: --certs must be self-managed or cert-manager, not \"$certs\"" >&2; exit 2 ;;
esac
[[ -f $base/kustomization.yaml ]] || { echo "render-install: --base $base holds no kustomization.yaml" >&2; exit 2; }
field() { awk -v k="$1" '$1 == k {print $2}' "$images"; }
registry=$(field registry) version=$(field version)
[[ -n $registry && -n $version ]] || { echo "render-install: $images lacks a registry or version line" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/nodeboot-render.XXXXXX")
trap 'rm -rf "$work"' EXIT
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  # kustomize takes only relative paths for a base.
  echo "  - $(realpath --relative-to="$work" "$base")"
  echo "images:"
  for name in nodeboot-webhook nodeboot-agent; do
    echo "  - name: $name"
    echo "    newName: $registry/$name"
    digest=$(field "$name")
    if [[ -n $digest ]]; then echo "    digest: $digest"; else echo "    newTag: \"$version\""; fi
  done
} >"$work/kustomization.yaml"
kubectl kustomize "$work"
