#!/usr/bin/env bash
# Builds one nodeboot image as an OCI archive from Debian's packages, without a registry or a
# container daemon (scripts/release.sh runs it for nodeboot-webhook and nodeboot-agent):
#
#   build-image.sh --name NAME --binary PATH [--host-binary PATH] --version V --revision SHA --out DIR
#
# --host-binary (nodeboot-agent only, required there): the portable agent
# (nodeboot-agent-portable, glibc >= 2.34, no other shared library) placed at
# /usr/lib/nodeboot/host/nodeboot-agent. The IPB DaemonSet's pod copies it to the host for the
# host unit (`--host-agent`): the image's own binary needs Debian 12's libraries, which an
# RHCOS or RHEL host lacks.
#
# writes DIR/NAME.oci.tar (an OCI image layout in a tar, reference name V), DIR/NAME.spdx.json
# (SPDX 2.3: every Debian package in the image and the nodeboot binary) and prints the
# manifest digest (sha256:...) on stdout.
#
# The root filesystem: `mmdebstrap --variant=extract` of the Debian 12 packages that provide
# the binary's NEEDED sonames (read from the binary and mapped with `dpkg -S` on this machine,
# which built it: same suite, same sonames), ca-certificates, and the image's extras (below);
# apt resolves their dependencies. Nothing is configured by maintainer scripts (there is no
# shell in the webhook image to run them); what they would have produced and the image
# needs is made here: the CA bundle, ld.so.cache, and a dpkg status and file lists so that
# scanners (and check-image.sh) see exactly which packages the image carries.
#
# Reproducible: every timestamp is SOURCE_DATE_EPOCH (default: the last commit's time), the
# layer is a sorted tar with fixed owners, the layout tar likewise; two runs over the same
# binary and the same Debian archive state give the same digest. The extracted root is
# cached in ~/.cache/nodeboot/images keyed by this script, the package set and the archive's
# InRelease files (so a Debian security update makes a new root, and nothing stale is reused).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name="" binary="" host_binary="" version="" revision="" out=""
while (($#)); do
  case $1 in
    --name) name=$2; shift 2 ;;
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --host-binary) host_binary=$(realpath "$2"); shift 2 ;;
    --version) version=$2; shift 2 ;;
    --revision) revision=$2; shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 --name NAME --binary PATH [--host-binary PATH] --version V --revision SHA --out DIR" >&2; exit 2 ;;
  esac
done
[[ -n $name && -f $binary && -n $version && -n $out ]] || { echo "build-image: --name, --binary, --version and --out are required" >&2; exit 2; }
if [[ $name == nodeboot-agent ]]; then
  [[ -f $host_binary ]] || { echo "build-image: nodeboot-agent needs --host-binary (build nodeboot-agent-portable)" >&2; exit 2; }
elif [[ -n $host_binary ]]; then
  echo "build-image: --host-binary is for nodeboot-agent only" >&2; exit 2
fi
host_path=usr/lib/nodeboot/host/nodeboot-agent
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
cache=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}/images
arch=$(dpkg --print-architecture)

# What each image adds beyond the binary's libraries, who it runs as, and its command.
case $name in
  nodeboot-webhook)
    extras=(ca-certificates)
    user=65532:65532  # distroless's "nonroot": no home, no shell, no privileges
    description="nodeboot admission webhook and gate-release controller" ;;
  nodeboot-agent)
    # util-linux: nsenter into the host's namespaces; tar: unpacks RHEL payloads; dash:
    # /bin/sh, through which the agent runs its firstboot, payload and reboot commands.
    extras=(ca-certificates util-linux tar dash)
    # Root: the IPB DaemonSet runs it privileged, in the host's PID namespace, to rewrite the OS.
    user=0:0
    description="nodeboot node agent: in-place bootstrap and marooned-node join" ;;
  *) echo "build-image: unknown image $name (nodeboot-webhook or nodeboot-agent)" >&2; exit 2 ;;
esac

# The packages that own the binary's NEEDED sonames on this (the build) machine.
mapfile -t needed < <(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}')
packages=("${extras[@]}")
for so in "${needed[@]}"; do
  owner=$(dpkg -S "*/$so" 2>/dev/null | grep -v -- '-dev' | head -1 | cut -d: -f1)
  [[ -n $owner ]] || { echo "build-image: no installed Debian package provides $so (needed by $binary)" >&2; exit 1; }
  packages+=("$owner")
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

# The same suites as the build machine's own sources (Debian 12, with updates and security).
source "$here/debian-archive.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/nodeboot-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The cache key: the archive's state and the recipe.
debian_archive_state >"$work/inrelease"
key=$( { cat "$here/build-image.sh" "$work/inrelease"; echo "$arch ${packages[*]}"; } | sha256sum | cut -c1-16)
base="$cache/root-$key"

if [[ ! -f $base/.complete ]]; then
  echo "build-image: $name: mmdebstrap ${packages[*]}" >&2
  rm -rf "$base.tmp" && mkdir -p "$base.tmp"
  root="$work/root"
  SOURCE_DATE_EPOCH=$epoch mmdebstrap --quiet --variant=extract --format=directory --architectures="$arch" \
    --include="$(IFS=,; echo "${packages[*]}")" --skip=cleanup/apt/cache \
    bookworm "$root" "${sources[@]}" >&2
  # dpkg's view of what is there: status paragraphs and file lists from each .deb's control
  # data, then the package SBOM rows (name, version, architecture, source, .deb sha256).
  rm -f "$root/var/lib/dpkg/status" && mkdir -p "$root/var/lib/dpkg/info"
  for deb in "$root"/var/cache/apt/archives/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    { dpkg-deb -f "$deb" | sed '/^Package:/a Status: install ok installed'; echo; } >"$work/status.$pkg"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' >"$root/var/lib/dpkg/info/$pkg.list"
    printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" "$(dpkg-deb -f "$deb" Architecture)" \
      "$(dpkg-deb -f "$deb" Source | cut -d' ' -f1)" "$(sha256sum "$deb" | cut -d' ' -f1)"
  done | LC_ALL=C sort >"$base.tmp/packages.tsv"
  # Only the status and the file lists: mmdebstrap's other dpkg state describes its own run.
  find "$root/var/lib/dpkg" -mindepth 1 -maxdepth 1 ! -name info -exec rm -rf {} +
  find "$work" -maxdepth 1 -name 'status.*' -print0 | LC_ALL=C sort -z | xargs -0 cat >"$root/var/lib/dpkg/status"
  # What ca-certificates' postinst (update-ca-certificates, with debconf's default of every
  # shipped certificate) would write: the bundle, in sorted order.
  (cd "$root/usr/share/ca-certificates" && find . -name '*.crt' | LC_ALL=C sort | while read -r crt; do
    cat "$crt"
  done) >"$root/etc/ssl/certs/ca-certificates.crt"
  # No package manager, no devices, no documentation beyond the licences (copyright files).
  rm -rf "${root:?}/var/cache/apt" "${root:?}/var/lib/apt" "${root:?}/etc/apt" "${root:?}/var/log" "${root:?}/dev" \
    "$root/etc/hostname" "$root/etc/resolv.conf" "$root/etc/fstab" "${root:?}"/usr/share/{man,info,lintian,locale}
  find "$root/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true
  find "$root/usr/share/doc" -type d -empty -delete 2>/dev/null || true
  tar -C "$root" --numeric-owner -cf "$base.tmp/root.tar" .
  touch "$base.tmp/.complete"
  rm -rf "$base" && mv "$base.tmp" "$base" && rm -rf "$root"
else
  echo "build-image: $name: Debian root cached in $base" >&2
fi

# The image's root: the cached Debian root plus the binary and the few files nodeboot owns.
root="$work/root"
mkdir -p "$root" && tar -C "$root" -xf "$base/root.tar"
install -D -m 0755 "$binary" "$root/usr/bin/$name"
objcopy --strip-debug "$root/usr/bin/$name"
if [[ -n $host_binary ]]; then
  install -D -m 0755 "$host_binary" "$root/$host_path"
  objcopy --strip-all "$root/$host_path"
fi
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
ldconfig -r "$root"
rm -rf "$root/var/cache/ldconfig"  # aux-cache records inodes and times: not reproducible
# The same bytes on every run: sorted names, numeric root ownership, every timestamp clamped
# to the epoch, GNU format (no pax atime/ctime records).
tar -C "$root" --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" --clamp-mtime \
  -cf "$work/layer.tar" .

layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:$version"
umoci raw add-layer --image "$layout:$version" --history.created "$created" \
  --history.created_by "nodeboot packaging/images/build-image.sh: Debian 12 packages and $name" "$work/layer.tar"
labels=(
  "org.opencontainers.image.title=$name"
  "org.opencontainers.image.description=$description"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.revision=$revision"
  "org.opencontainers.image.created=$created"
  "org.opencontainers.image.source=https://github.com/nodeboot/nodeboot"
  "org.opencontainers.image.licenses=Apache-2.0"
  "org.opencontainers.image.base.name=debian:bookworm (packages only, see the SBOM)"
)
config=(--created "$created" --author "nodeboot" --architecture "$arch" --os linux --no-history
  --config.user "$user" --config.entrypoint "/usr/bin/$name" --config.workingdir /
  --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --config.env "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
for l in "${labels[@]}"; do config+=(--config.label "$l" --manifest.annotation "$l"); done
umoci config --image "$layout:$version" "${config[@]}"
umoci gc --layout "$layout"
chmod -R u+rwX,go+rX "$layout"
find "$layout" -exec touch -h -d "@$epoch" {} +
mkdir -p "$out"
tar -C "$layout" --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
  -cf "$out/$name.oci.tar" .
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$layout/index.json")

python3 "$here/sbom.py" --name "$name" --version "$version" --digest "$digest" --created "$created" \
  --binary "$root/usr/bin/$name" ${host_binary:+--host-binary "$root/$host_path"} \
  --packages "$base/packages.tsv" >"$out/$name.spdx.json"
echo "build-image: $name $digest, $(stat -c %s "$out/$name.oci.tar") bytes, $(wc -l <"$base/packages.tsv") Debian packages" >&2
echo "$digest"
