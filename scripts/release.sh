#!/usr/bin/env bash
# The release command. Produces in OUT (default dist/):
#   kubectl-nodeboot_<version>_linux_amd64.tar.gz  the portable binary (runs on glibc >= 2.34,
#       see packaging/release/), kubectl_complete-nodeboot, LICENSE, README.md
#   nodeboot.yaml          the krew manifest (krew/nodeboot.yaml with this archive's sha256)
#   nodeboot-webhook.oci.tar, nodeboot-agent.oci.tar  the images, OCI archives built from
#       Debian's packages without a registry or a daemon (packaging/images/build-image.sh)
#   nodeboot-webhook.spdx.json, nodeboot-agent.spdx.json  their SBOMs (every Debian package)
#   images.txt             the registry prefix, the version and each image's digest
#   nodeboot-install.yaml  the one-file install (`manifests/`, self-managed certificates) and
#   nodeboot-install-cert-manager.yaml  (cert-manager issues the certificate), both naming
#       the images as REGISTRY/NAME@DIGEST (packaging/images/render-install.sh); the plugin in
#       the archive embeds both (`kubectl nodeboot install`)
#   SHA256SUMS
# and refuses to finish if the binary fails packaging/release/check-portable.sh or an image
# fails packaging/images/check-image.py (a package the SBOM does not list; a webhook image
# that runs as root).
#
#   scripts/release.sh [--build-dir DIR] [--out DIR] [--image-registry PREFIX] [--update-krew]
# --build-dir reuses a configured build (the tests pass theirs); the default, build-release,
# is a Release build of the three binaries.
# --image-registry: where the images will be pushed (host[:port][/path], e.g. ghcr.io/acme);
# the default, nodeboot.invalid, is a placeholder that resolves nowhere (README: publishing).
# --update-krew also writes the manifest back to krew/nodeboot.yaml (commit it with the tag).
# SOURCE_DATE_EPOCH (default: the last commit's time) dates every file and image: two runs
# over the same commit and the same Debian archive give the same bytes and digests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-release" out="$root/dist" update_krew=0 registry=nodeboot.invalid
while (($#)); do
  case $1 in
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --image-registry) registry=${2%/}; shift 2 ;;
    --update-krew) update_krew=1; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--out DIR] [--image-registry PREFIX] [--update-krew]" >&2; exit 2 ;;
  esac
done
# A registry prefix: lower-case host[:port] and path, no scheme, tag or digest.
if ! [[ $registry =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]]; then
  echo "release: --image-registry \"$registry\" is not a registry prefix: give host[:port][/path] without a scheme, tag or digest, e.g. ghcr.io/acme" >&2
  exit 2
fi
start=$SECONDS
"$root/scripts/deps.sh"
version=$(sed -n 's/^project(nodeboot VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
archive="kubectl-nodeboot_${version}_linux_amd64.tar.gz"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNODEBOOT_TESTS=OFF -DNODEBOOT_WERROR=ON >/dev/null
fi
ln -sfn "$("$root/packaging/release/static-curl.sh")" "$build/static-curl"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
# -j2: the build machine is shared (and 2 cores is what it has).
ninja -C "$build" -j2 nodeboot-webhook nodeboot-agent nodeboot-agent-portable >&2
# The agent image carries the portable agent for the host unit: it must run on RHCOS/RHEL.
"$root/packaging/release/check-portable.sh" "$build/bin/nodeboot-agent-portable" >&2
rm -rf "$out" && mkdir -p "$out/stage"

# The images, checked, and the install bundles that name them by digest.
images_start=$SECONDS
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
printf 'registry %s\nversion %s\n' "$registry" "$version" >"$out/images.txt"
for name in nodeboot-webhook nodeboot-agent; do
  host=()
  [[ $name == nodeboot-agent ]] && host=(--host-binary "$build/bin/nodeboot-agent-portable")
  digest=$("$root/packaging/images/build-image.sh" --name "$name" --binary "$build/bin/$name" "${host[@]}" \
    --version "$version" --revision "$revision" --out "$out")
  check=("$out/$name.oci.tar" "$out/$name.spdx.json")
  [[ $name == nodeboot-webhook ]] && check+=(--non-root)
  python3 "$root/packaging/images/check-image.py" "${check[@]}" >&2
  echo "$name $digest" >>"$out/images.txt"
done
echo "release: images in $((SECONDS - images_start))s" >&2
"$root/packaging/images/render-install.sh" --images "$out/images.txt" >"$out/nodeboot-install.yaml"
"$root/packaging/images/render-install.sh" --images "$out/images.txt" --certs cert-manager \
  >"$out/nodeboot-install-cert-manager.yaml"

# The plugin embeds the bundles of exactly these images (plugin/CMakeLists.txt reads this file).
cmp -s "$out/images.txt" "$build/install-images.txt" || cp "$out/images.txt" "$build/install-images.txt"
ninja -C "$build" -j2 kubectl-nodeboot-portable >&2
objcopy --strip-all "$build/bin/kubectl-nodeboot-portable" "$out/stage/kubectl-nodeboot"
install -m 0755 "$root/plugin/kubectl_complete-nodeboot" "$out/stage/"
install -m 0644 "$root/LICENSE" "$root/README.md" "$out/stage/"
"$root/packaging/release/check-portable.sh" "$out/stage/kubectl-nodeboot" >&2
# Same inputs, same bytes: sorted names, fixed owner and mtime (SOURCE_DATE_EPOCH), no gzip timestamp.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C "$out/stage" -cf - \
  kubectl-nodeboot kubectl_complete-nodeboot LICENSE README.md | gzip -9 -n >"$out/$archive"
rm -rf "$out/stage"
sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)

sed -e "s|^  version: .*|  version: v$version|" \
    -e "s|^      uri: .*|      uri: https://github.com/nodeboot/nodeboot/releases/download/v$version/$archive|" \
    -e "s|^      sha256: .*|      sha256: $sha|" "$root/krew/nodeboot.yaml" >"$out/nodeboot.yaml"
((update_krew)) && cp "$out/nodeboot.yaml" "$root/krew/nodeboot.yaml"
(cd "$out" && sha256sum "$archive" nodeboot-install.yaml nodeboot-install-cert-manager.yaml images.txt \
  nodeboot-webhook.oci.tar nodeboot-agent.oci.tar nodeboot-webhook.spdx.json nodeboot-agent.spdx.json >SHA256SUMS)
echo "release: $out/$archive ($(stat -c %s "$out/$archive") bytes, sha256 $sha) in $((SECONDS - start))s" >&2
