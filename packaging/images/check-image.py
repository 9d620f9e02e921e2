#!/usr/bin/env python3
"""Refuses a nodeboot image archive (build-image.sh's output) that carries more than its SBOM
says, or a webhook image that runs as root. scripts/release.sh runs it on every image it
builds; the integration test runs it too.

  check-image.py ARCHIVE.oci.tar SBOM.spdx.json [--non-root]

Read from the archive alone (blobs checked against their digests): the Debian packages the
image carries are those in its dpkg status; every file in the layer must belong to one of
them (their file lists) or be one nodeboot writes; that package set must equal the SBOM's.
--non-root: the image's user must be a numeric uid other than 0 (the kubelet can only enforce
runAsNonRoot on a numeric uid). The agent image must carry the portable host agent
(/usr/lib/nodeboot/host/nodeboot-agent) that the DaemonSet's `--host-agent` names, and the
SBOM must list it."""
import argparse
import hashlib
import io
import json
import sys
import tarfile

# Written by build-image.sh, not by a package.
OWN_FILES = {
    "etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/ld.so.cache", "etc/ssl/certs/ca-certificates.crt",
    "var/lib/dpkg/status",
}

HOST_AGENT = "usr/lib/nodeboot/host/nodeboot-agent"

ap = argparse.ArgumentParser()
ap.add_argument("archive")
ap.add_argument("sbom")
ap.add_argument("--non-root", action="store_true")
a = ap.parse_args()
problems = []

with tarfile.open(a.archive) as outer:
    def blob(digest):
        algo, hexd = digest.split(":", 1)
        data = outer.extractfile(f"./blobs/{algo}/{hexd}").read()
        if hashlib.sha256(data).hexdigest() != hexd:
            sys.exit(f"check-image: {a.archive}: blob {digest} does not match its digest")
        return data

    index = json.loads(outer.extractfile("./index.json").read())
    if len(index["manifests"]) != 1:
        sys.exit(f"check-image: {a.archive}: expected one manifest, found {len(index['manifests'])}")
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    layers = [blob(layer["digest"]) for layer in manifest["layers"]]

name = config.get("config", {}).get("Labels", {}).get("org.opencontainers.image.title", a.archive)
user = config.get("config", {}).get("User", "")
if a.non_root:
    uid = user.split(":", 1)[0]
    if not uid.isdigit() or int(uid) == 0:
        problems.append(f"runs as {user or 'root (no User set)'}; it must run as a numeric non-root uid (65532)")

files, lists, status = set(), {}, ""
for data in layers:
    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
        for m in layer.getmembers():
            path = m.name[2:] if m.name.startswith("./") else m.name
            if not m.isdir():
                files.add(path)
            if path.startswith("var/lib/dpkg/info/") and path.endswith(".list"):
                pkg = path[len("var/lib/dpkg/info/"):-len(".list")]
                lists[pkg] = {p.lstrip("/") for p in layer.extractfile(m).read().decode().splitlines()}
            elif path == "var/lib/dpkg/status":
                status = layer.extractfile(m).read().decode()

carried = {line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("Package:")}
for pkg in sorted(set(lists) - carried):
    problems.append(f"file list of {pkg}, which the dpkg status does not record")
owned = set().union(*lists.values()) if lists else set()
stray = sorted(f for f in files if f not in owned and f not in OWN_FILES and not f.startswith("var/lib/dpkg/info/")
               and f != f"usr/bin/{name}" and f != HOST_AGENT)
for f in stray[:20]:
    problems.append(f"/{f} belongs to no package the image records")
if len(stray) > 20:
    problems.append(f"... and {len(stray) - 20} more files that belong to no recorded package")

with open(a.sbom) as f:
    sbom = json.load(f)
if name == "nodeboot-agent":
    if HOST_AGENT not in files:
        problems.append(f"no /{HOST_AGENT}: the IPB DaemonSet's --host-agent copies it to the host")
    if not any(p.get("comment") == "/" + HOST_AGENT for p in sbom["packages"]):
        problems.append(f"the SBOM does not list /{HOST_AGENT}")
listed = {p["name"] for p in sbom["packages"] if p.get("supplier") == "Organization: Debian"}
for pkg in sorted(carried - listed):
    problems.append(f"carries the Debian package {pkg}, which the SBOM does not list")
for pkg in sorted(listed - carried):
    problems.append(f"the SBOM lists {pkg}, which the image does not carry")

if problems:
    print(f"check-image: {name} refused:", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1)
print(f"check-image: {name}: user {user or 'root'}, {len(carried)} Debian packages, all in the SBOM; "
      f"{len(files)} files, each from a listed package or nodeboot's own")
