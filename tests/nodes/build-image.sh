#!/usr/bin/env bash
# Builds the worker VMs' disk image (tests/nodes/up.sh boots it under QEMU): a Debian 12
# root from Debian's packages (mmdebstrap: systemd, the Debian kernel, containerd, runc, the
# CNI plugins, iptables, conntrack), the kubelet built from the pinned module
# (build-kubelet.sh), containerd and kubelet configuration (image/), and the sandbox image
# nodeboot.test/pause:3.10 as an OCI archive (image/pause.c compiled static, plus Debian's
# busybox-static for test pods), and a stand-in for the seeds' docker.io/library/ubuntu:24.04
# (bash, nsenter, busybox), imported by containerd at the first boot. Nothing is pulled from
# a registry.
#
#   build-image.sh            prints the image directory on stdout:
#                             DIR/disk.ext4 (the root), DIR/vmlinuz, DIR/initrd.img
#
# Two caches under ~/.cache/nodeboot/nodes, as packaging/images/build-image.sh keys its
# roots: the Debian root (root-KEY: the mmdebstrap command, its package list and sources,
# and the archive's InRelease files), and the disk (disk-KEY: the root's key, this script,
# image/ and the kubelet).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}/nodes
log() { echo "nodes/build-image: $*" >&2; }
for tool in mmdebstrap mkfs.ext4 umoci gcc; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run scripts/deps.sh"; exit 1; }
done
[[ $(id -u) == 0 ]] || { log "must run as root (mmdebstrap's root mode keeps owners for the disk)"; exit 1; }
start=$SECONDS

packages=(systemd systemd-sysv udev dbus kmod iproute2 linux-image-amd64 initramfs-tools zstd
  containerd runc containernetworking-plugins iptables conntrack ca-certificates
  util-linux mount procps busybox-static)
# shellcheck source=../../packaging/images/debian-archive.sh
source "$here/../../packaging/images/debian-archive.sh"

mkdir -p "$cache"
work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
debian_archive_state >"$work/inrelease"
# The package lists and apt's cache stay, as on an installed system: the seeds' `apt-get
# update` then fetches only the suites' InRelease files instead of building every index
# again on an emulated CPU (90 s per VM under TCG, session 24). Only the .debs go.
debootstrap=(mmdebstrap --quiet --variant=minbase --skip=cleanup/apt --format=directory
  --include="$(IFS=,; echo "${packages[*]}")")
root_key=$( { echo "${debootstrap[*]} ${sources[*]}"; cat "$work/inrelease"; } | sha256sum | cut -c1-16)
root="$cache/root-$root_key"
if [[ ! -f $root.complete ]]; then
  log "mmdebstrap ${packages[*]} (cold)"
  rm -rf "$root"
  "${debootstrap[@]}" bookworm "$root" "${sources[@]}" >&2
  find "$root/var/cache/apt/archives" -name '*.deb' -delete
  touch "$root.complete"
  log "Debian root in $((SECONDS - start))s"
else
  log "Debian root cached in $root"
fi

kubelet=$("$here/build-kubelet.sh")
marooned="$here/../../packaging/marooned-node"
disk_key=$( { echo "$root_key"; cat "${BASH_SOURCE[0]}"; sha256sum "$kubelet"; cat "$marooned"/*.service
  cd "$here/image" && find . -type f | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16)
out="$cache/disk-$disk_key"
# Roots and disks of earlier keys (a new one comes with every archive update: about 1 GB
# each) go once they are two days old; this run's stay whatever their age.
find "$cache" -maxdepth 1 \( -name 'root-*' -o -name 'disk-*' \) -mtime +2 \
  ! -name "root-$root_key*" ! -name "disk-$disk_key" -exec rm -rf {} +
if [[ -f $out/.complete ]]; then
  log "disk cached in $out"
  echo "$out"
  exit 0
fi

log "assembling the disk"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
stage="$work/stage"
cp -a "$root" "$stage"
img="$here/image"
install -m 0755 "$kubelet" "$stage/usr/local/bin/kubelet"
install -m 0755 "$img/nodeboot-control" "$stage/usr/local/sbin/nodeboot-control"
install -m 0644 "$img/kubelet.service" "$img/nodeboot-control.service" "$stage/etc/systemd/system/"
install -D -m 0644 "$img/containerd.toml" "$stage/etc/containerd/config.toml"
install -D -m 0644 "$img/modules.conf" "$stage/etc/modules-load.d/kubernetes.conf"
install -D -m 0644 "$img/sysctl.conf" "$stage/etc/sysctl.d/90-kubernetes.conf"
install -D -m 0644 "$img/eth.network" "$stage/etc/systemd/network/10-eth.network"
# A marooned pod's dedicated node (seed 004) as packaging/marooned-node ships it: its two
# units as they are, nodeboot-agent join started by marooned-node-boot.service once
# /etc/marooned/join-info.yaml exists (up.sh --join-info; nodeboot-control plays
# cloud-init), k3s played by the stand-in image/k3s (drop-ins: image/marooned-node/).
install -m 0644 "$marooned/k3s-agent.service" "$marooned/marooned-node-boot.service" "$stage/etc/systemd/system/"
install -m 0755 "$img/k3s" "$stage/usr/local/bin/k3s"
for unit in k3s-agent marooned-node-boot; do
  install -D -m 0644 "$img/marooned-node/$unit.conf" "$stage/etc/systemd/system/$unit.service.d/nodeboot-test.conf"
done
systemctl --root="$stage" enable systemd-networkd.service containerd.service kubelet.service \
  nodeboot-control.service marooned-node-boot.service >/dev/null 2>&1
# QEMU boots the kernel and initrd copied out of the root at build time (up.sh: -kernel,
# -initrd), never the guest's /boot: a package that triggers update-initramfs (open-iscsi,
# which the seeds' DaemonSet installs) would spend minutes of emulated CPU on an initrd
# nothing reads. Test VMs only; the product's nodes keep their own setting.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$stage/etc/initramfs-tools/update-initramfs.conf"
grep -qx 'update_initramfs=no' "$stage/etc/initramfs-tools/update-initramfs.conf"
printf 'nameserver 10.0.2.3\n' >"$stage/etc/resolv.conf"  # QEMU user-mode DNS
: >"$stage/etc/machine-id"                                 # each VM makes its own at first boot
echo nodeboot-vm >"$stage/etc/hostname"
passwd -R "$stage" -d root >/dev/null                      # console login for debugging only

# The sandbox image: the pause program and busybox (sh, nsenter, ... for test pods).
layer="$work/pause-root"
mkdir -p "$layer/bin"
gcc -static -Os -Wall -Werror -o "$layer/pause" "$img/pause.c"
strip "$layer/pause"
cp "$stage/bin/busybox" "$layer/bin/busybox"
for applet in sh cat echo sleep ls nsenter; do ln -s busybox "$layer/bin/$applet"; done
tar -C "$layer" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$work/pause-layer.tar" .
umoci init --layout "$work/pause-oci"
umoci new --image "$work/pause-oci:3.10"
umoci raw add-layer --image "$work/pause-oci:3.10" "$work/pause-layer.tar"
umoci config --image "$work/pause-oci:3.10" --architecture amd64 --os linux --config.entrypoint /pause \
  --config.env PATH=/bin
umoci gc --layout "$work/pause-oci"
mkdir -p "$stage/usr/local/share/nodeboot/images"
tar -C "$work/pause-oci" -cf "$stage/usr/local/share/nodeboot/images/pause.oci.tar" .

# A stand-in for docker.io/library/ubuntu:24.04, the image the seeds' DaemonSets (and
# `verify --deep`'s probe pods) name, which no registry serves here: what their scripts use
# inside the container (bash, util-linux's nsenter, busybox for cat, tail, sleep, touch),
# from this root's Debian packages, imported under the seed's name so that
# manifests/node-bootstrap applies unchanged. Everything else the scripts run is the host's.
layer="$work/shell-root"
mkdir -p "$layer/bin" "$layer/lib/x86_64-linux-gnu" "$layer/lib64" "$layer/tmp"
chmod 1777 "$layer/tmp"
cp "$stage/usr/bin/bash" "$stage/usr/bin/nsenter" "$stage/bin/busybox" "$layer/bin/"
for applet in sh cat echo sleep ls tail touch env mkdir chmod mv; do ln -s busybox "$layer/bin/$applet"; done
# The shared libraries bash and nsenter need, found in the root as its loader would.
needed() { objdump -p "$1" | awk '$1 == "NEEDED" {print $2}'; }
libs=$(for b in bash nsenter; do needed "$layer/bin/$b"; done | sort -u)
for lib in $libs; do
  [[ $lib == ld-linux-x86-64.so.2 ]] && continue
  cp -L "$stage/usr/lib/x86_64-linux-gnu/$lib" "$layer/lib/x86_64-linux-gnu/$lib"
  for dep in $(needed "$stage/usr/lib/x86_64-linux-gnu/$lib"); do
    [[ $dep == ld-linux-x86-64.so.2 || -e $layer/lib/x86_64-linux-gnu/$dep ]] && continue
    cp -L "$stage/usr/lib/x86_64-linux-gnu/$dep" "$layer/lib/x86_64-linux-gnu/$dep"
  done
done
cp -L "$stage/usr/lib64/ld-linux-x86-64.so.2" "$layer/lib64/"
tar -C "$layer" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$work/shell-layer.tar" .
umoci init --layout "$work/shell-oci"
umoci new --image "$work/shell-oci:24.04"
umoci raw add-layer --image "$work/shell-oci:24.04" "$work/shell-layer.tar"
umoci config --image "$work/shell-oci:24.04" --architecture amd64 --os linux --config.cmd /bin/bash \
  --config.env PATH=/bin
umoci gc --layout "$work/shell-oci"
tar -C "$work/shell-oci" -cf "$stage/usr/local/share/nodeboot/images/ubuntu.oci.tar" .
echo docker.io/library/ubuntu >"$stage/usr/local/share/nodeboot/images/ubuntu.name"

cp -L "$stage"/boot/vmlinuz-* "$out.tmp/vmlinuz"
cp -L "$stage"/boot/initrd.img-* "$out.tmp/initrd.img"
# Room for images and pod data: the file is sparse, each VM writes to its own qcow2 overlay.
mkfs.ext4 -q -L nodeboot-root -d "$stage" "$out.tmp/disk.ext4" 6G >&2
touch "$out.tmp/.complete"
rm -rf "$out" && mv "$out.tmp" "$out"
log "disk in $out ($((SECONDS - start))s)"
echo "$out"
