#!/usr/bin/env bash
# Builds a static libcurl with only what kube::Client uses (HTTP/1.1 and HTTP/2 over
# OpenSSL, gzip, proxies) for the portable kubectl-nodeboot (scripts/release.sh).
#
# Why not Debian's libcurl.a: it is built with LDAP, GSSAPI/Kerberos, SSH, RTMP, IDN and PSL,
# so linking it statically drags in ~20 more libraries, some (krb5, ldap) shipped only as
# shared objects. Instead this builds the same curl Debian ships (the source package of the
# installed libcurl4-openssl-dev, Debian's patches applied, so headers and ABI match what
# nodeboot_common was compiled against) with everything else configured out.
#
# The source comes from Debian's deb-src archive through a private apt state under the cache
# (the system's apt configuration is left alone). Cached in ~/.cache/nodeboot/static-curl,
# keyed on the curl version and this script. Prints the install prefix (lib/libcurl.a,
# include/) on stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${NODEBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeboot}
version=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev)
key=$( (echo "$version"; cat "$here/static-curl.sh") | sha256sum | cut -c1-16)
out="$cache/static-curl/$key"
if [[ -f "$out/.complete" ]]; then
  echo "static-curl: cached in $out" >&2
  echo "$out"
  exit 0
fi
start=$SECONDS
work="$out.tmp"
rm -rf "$work" && mkdir -p "$work/apt/lists/partial" "$work/src"
# deb-src for the suites the machine's own sources use (bookworm and its security updates).
cat > "$work/apt/sources.list" <<'LIST'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root -qq)
apt-get "${apt_opts[@]}" update >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "curl=$version" >&2 \
  && dpkg-source -x --no-check ./*.dsc curl >&2)
cd "$work/src/curl"
echo "static-curl: configuring curl $version" >&2
./configure --prefix="$out" --disable-shared --enable-static --with-pic \
  --with-openssl --with-zlib --with-nghttp2 \
  --without-brotli --without-zstd --without-libpsl --without-libidn2 --without-libssh2 --without-libssh \
  --without-librtmp --without-gssapi --without-libgsasl --without-ngtcp2 --without-nghttp3 \
  --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
  --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
  --disable-ftp --disable-file --disable-ntlm --disable-manual \
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt >"$work/configure.log" 2>&1 \
  || { tail -30 "$work/configure.log" >&2; exit 1; }
# configure quietly drops a feature whose library is missing: insist on the ones kube::Client uses.
for feature in 'SSL: +enabled \(OpenSSL' 'zlib: +enabled' 'HTTP2: +enabled \(nghttp2' 'Protocols: +HTTP HTTPS$'; do
  grep -qE "^  $feature" "$work/configure.log" || { echo "static-curl: curl configured without /$feature/" >&2; exit 1; }
done
make -C lib -j2 >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
mkdir -p "$out.new"
make -C lib install prefix="$out.new" >/dev/null
make -C include install prefix="$out.new" >/dev/null
touch "$out.new/.complete"
rm -rf "$out" && mv "$out.new" "$out" && rm -rf "$work"
echo "static-curl: built curl $version in $((SECONDS - start))s" >&2
echo "$out"
