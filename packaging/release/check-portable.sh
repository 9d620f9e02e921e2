#!/usr/bin/env bash
# Proves a portable binary (kubectl-nodeboot for the archive, nodeboot-agent for the host
# unit on RHCOS/RHEL) runs on any x86_64 Linux with glibc 2.34 or later (Ubuntu 22.04 has
# 2.35, RHEL 9 2.34):
#  1. the newest GLIBC_x.y symbol version it needs (objdump -T) is at most 2.34;
#  2. it needs no shared library outside glibc (NEEDED entries);
#  3. it runs `--help`, `--version` (and the plugin `version --client`) in a root that holds nothing but
#     this machine's glibc (the .so files of Debian's libc6 package and the dynamic loader),
#     entered with chroot (as root) or `unshare -r chroot` (unprivileged user namespace).
# Prints "max GLIBC_x.y" and the commands' first lines; exits non-zero on any failure.
set -euo pipefail
bin=$(readlink -f "$1")
limit=2.34
max=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
echo "max GLIBC_$max"
if [[ $(printf '%s\n' "$max" "$limit" | sort -V | tail -1) != "$limit" ]]; then
  echo "check-portable: $bin needs GLIBC_$max, newer than $limit" >&2
  exit 1
fi
glibc_libs=$(dpkg -L libc6 | grep -E '^/(usr/)?lib(64|/x86_64-linux-gnu)?/[^/]+\.so(\.[0-9]+)*$' || true)
while read -r needed; do
  if ! grep -q "/$needed\$" <<<"$glibc_libs"; then
    echo "check-portable: $bin needs $needed, which is not part of glibc" >&2
    exit 1
  fi
done < <(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}')

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
for f in $glibc_libs; do
  [[ -e $f ]] || continue
  mkdir -p "$root$(dirname "$f")"
  cp -L "$f" "$root$f"
done
# The dynamic loader, at the path the binary names (PT_INTERP).
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
mkdir -p "$root$(dirname "$interp")"
cp -L "$interp" "$root$interp"
case $(basename "$1") in
  nodeboot-agent*) name=nodeboot-agent runs=("--help" "--version") ;;
  *) name=kubectl-nodeboot runs=("--help" "--version" "version --client") ;;
esac
cp "$bin" "$root/$name"
echo "check-portable: root holds $(find "$root" -type f | wc -l) files: glibc and $name" >&2
enter=("$(command -v chroot)" "$root")
[[ $(id -u) == 0 ]] || enter=("$(command -v unshare)" -r "${enter[@]}")
for args in "${runs[@]}"; do
  # shellcheck disable=SC2086
  out=$(env -i "${enter[@]}" "/$name" $args) || { echo "check-portable: '$args' failed in the glibc-only root" >&2; exit 1; }
  echo "ran $args: $(head -1 <<<"$out")"
done
