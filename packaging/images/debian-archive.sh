# shellcheck shell=bash
# Sourced by packaging/images/build-image.sh and tests/nodes/build-image.sh: the Debian 12
# suites both install from (the build machine's own: with updates and security), and the
# archive's state for their cache keys.
mirror=${NODEBOOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${NODEBOOT_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
sources=("deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main")

# The archive's state: its signed InRelease files (a few hundred KB) on stdout, so that a
# Debian security update makes a new cache key and nothing stale is reused.
debian_archive_state() {
  local s
  for s in "$mirror/dists/bookworm" "$mirror/dists/bookworm-updates" "$security/dists/bookworm-security"; do
    curl -fsS --retry 3 "$s/InRelease"
  done
}
