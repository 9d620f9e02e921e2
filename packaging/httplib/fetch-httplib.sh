#!/usr/bin/env bash
# Fetches cpp-httplib's header-only httplib.h from Debian 13 (trixie)'s own source package,
# pinned by sha256, for nodeboot-webhook and the tests (cmake/dependencies.cmake runs this
# at configure time, so a clean clone gets it without a manual step).
#
# Why not Debian 12's libcpp-httplib-dev: it is 0.11.4, whose keep-alive wait sleeps, which
# ignores a stopped listener on idle connections and which has no header-count limit; the
# webhook needed a poll() override and a /proc/self/fd scan to live with it. Why the source
# package and not trixie's binary: libcpp-httplib-dev 0.18 is split into a declarations
# header and a shared library built for trixie's glibc; the source package holds the
# complete header-only httplib.h, with Debian's security patches applied by dpkg-source.
#
# The source comes through a private apt state under the cache (the system's apt
# configuration is left alone), the way packaging/release/static-curl.sh takes curl's.
# Cached in ~/.cache/nodeboot/cpp-httplib/<version> (NODEBOOT_CACHE overrides the root).
# Prints the include directory (holding httplib.h) on stdout.
#
# When trixie moves to a new point release of cpp-httplib the pinned version leaves the
# archive and this fails loudly: update `version` and the three sums below together
# (apt-cache showsrc cpp-httplib under the same private state prints them).
set -euo pipefail
version=0.18.7-1+deb13u1
declare -A sha256=(
  [cpp-httplib_0.18.7-1+deb13u1.dsc]=2bd292aea7bf4326ff43f4d9263291c444e4cb18aca4d9acf686598cd7c14711
  [cpp-httplib_0.18.7.orig.tar.xz]=c88f6495da71e778c82c22995b547a92ceb41cc4016f9028df67106a24b9210d
  [cpp-httplib_0.18.7-1+deb13u1.debian.tar.xz]=00ea33189a7421a434b6d9ccb431ef4debce086534d249e8efa89050e7593198
)
cache=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}
out="$cache/cpp-httplib/$version"
if [[ -f "$out/.complete" ]]; then
  echo "$out/include"
  exit 0
fi
for tool in apt-get dpkg-source sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-httplib: $tool is missing (scripts/deps.sh installs dpkg-dev)" >&2; exit 1; }
done
work="$out.tmp.$$"
trap 'rm -rf "$work"' EXIT
rm -rf "$work" && mkdir -p "$work/apt/lists/partial" "$work/src"
echo 'deb-src http://deb.debian.org/debian trixie main' > "$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root -qq)
echo "fetch-httplib: downloading cpp-httplib $version (Debian 13 source)" >&2
apt-get "${apt_opts[@]}" update >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "cpp-httplib=$version" >&2)
for file in "${!sha256[@]}"; do
  [[ -f "$work/src/$file" ]] || { echo "fetch-httplib: $file was not downloaded" >&2; exit 1; }
  echo "${sha256[$file]}  $work/src/$file" | sha256sum --check --quiet - >&2 \
    || { echo "fetch-httplib: $file does not match its pinned sha256" >&2; exit 1; }
done
# dpkg-source checks the tarballs against the .dsc again and applies Debian's patches (the
# CVE fixes). The .dsc's signature cannot be checked without Debian's keyring; the pinned
# sums above stand in for it.
(cd "$work/src" && dpkg-source -x "cpp-httplib_${version}.dsc" cpp-httplib >"$work/dpkg-source.log" 2>&1) \
  || { cat "$work/dpkg-source.log" >&2; exit 1; }
grep -q '#define CPPHTTPLIB_VERSION "0.18.7"' "$work/src/cpp-httplib/httplib.h" \
  || { echo "fetch-httplib: the extracted httplib.h is not 0.18.7" >&2; exit 1; }
mkdir -p "$work/out/include"
cp "$work/src/cpp-httplib/httplib.h" "$work/out/include/"
cp "$work/src/cpp-httplib/LICENSE" "$work/out/"
touch "$work/out/.complete"
mkdir -p "$(dirname "$out")"
rm -rf "$out" && mv "$work/out" "$out"
echo "fetch-httplib: cpp-httplib $version in $out" >&2
echo "$out/include"
