#!/usr/bin/env bash
# The release command. Produces in OUT (default dist/):
#   kubectl-nodeboot_<version>_linux_amd64.tar.gz  the portable binary (runs on glibc >= 2.34,
#       see packaging/release/), kubectl_complete-nodeboot, LICENSE, README.md
#   nodeboot.yaml          the krew manifest (krew/nodeboot.yaml with this archive's sha256)
#   nodeboot-install.yaml  `kubectl kustomize manifests/`: the one-file install
#   SHA256SUMS
# and refuses to finish if the binary fails packaging/release/check-portable.sh.
#
#   scripts/release.sh [--build-dir DIR] [--out DIR] [--update-krew]
# --build-dir reuses a configured build (the tests pass theirs: only a link is added);
# the default, build-release, is a Release build of the plugin alone.
# --update-krew also writes the manifest back to krew/nodeboot.yaml (commit it with the tag).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-release" out="$root/dist" update_krew=0
while (($#)); do
  case $1 in
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --update-krew) update_krew=1; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--out DIR] [--update-krew]" >&2; exit 2 ;;
  esac
done
start=$SECONDS
"$root/scripts/deps.sh"
version=$(sed -n 's/^project(nodeboot VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
archive="kubectl-nodeboot_${version}_linux_amd64.tar.gz"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNODEBOOT_TESTS=OFF -DNODEBOOT_WERROR=ON >/dev/null
fi
ln -sfn "$("$root/packaging/release/static-curl.sh")" "$build/static-curl"
# -j2: the build machine is shared (and 2 cores is what it has).
ninja -C "$build" -j2 kubectl-nodeboot-portable >&2

rm -rf "$out" && mkdir -p "$out/stage"
objcopy --strip-all "$build/bin/kubectl-nodeboot-portable" "$out/stage/kubectl-nodeboot"
install -m 0755 "$root/plugin/kubectl_complete-nodeboot" "$out/stage/"
install -m 0644 "$root/LICENSE" "$root/README.md" "$out/stage/"
"$root/packaging/release/check-portable.sh" "$out/stage/kubectl-nodeboot" >&2
# Same inputs, same bytes: sorted names, fixed owner and mtime (the commit's), no gzip timestamp.
mtime=$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C "$out/stage" -cf - \
  kubectl-nodeboot kubectl_complete-nodeboot LICENSE README.md | gzip -9 -n >"$out/$archive"
rm -rf "$out/stage"
sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)

sed -e "s|^  version: .*|  version: v$version|" \
    -e "s|^      uri: .*|      uri: https://github.com/nodeboot/nodeboot/releases/download/v$version/$archive|" \
    -e "s|^      sha256: .*|      sha256: $sha|" "$root/krew/nodeboot.yaml" >"$out/nodeboot.yaml"
((update_krew)) && cp "$out/nodeboot.yaml" "$root/krew/nodeboot.yaml"
kubectl kustomize "$root/manifests" >"$out/nodeboot-install.yaml"
(cd "$out" && sha256sum "$archive" nodeboot-install.yaml >SHA256SUMS)
echo "release: $out/$archive ($(stat -c %s "$out/$archive") bytes, sha256 $sha) in $((SECONDS - start))s" >&2
