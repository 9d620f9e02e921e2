#!/usr/bin/env python3
"""The SPDX 2.3 SBOM of one nodeboot image (build-image.sh): every Debian package in it, with
its version, source package, .deb checksum and package URL, and the nodeboot binary (and, in
the agent image, the portable host binary beside it).
Deterministic: the same inputs give the same bytes (sorted, the image's own creation time)."""
import argparse
import hashlib
import json
import sys

ap = argparse.ArgumentParser()
for flag in ("--name", "--version", "--digest", "--created", "--binary", "--packages"):
    ap.add_argument(flag, required=True)
ap.add_argument("--host-binary")
a = ap.parse_args()


def nodeboot_package(name, path, in_image):
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    return {
        "SPDXID": f"SPDXRef-Package-{name}",
        "name": name,
        "versionInfo": a.version,
        "supplier": "Organization: nodeboot",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "Apache-2.0",
        "copyrightText": "NOASSERTION",
        "checksums": [{"algorithm": "SHA256", "checksumValue": sha}],
        "comment": in_image,
    }


packages = [nodeboot_package(a.name, a.binary, f"/usr/bin/{a.name}")]
relationships = [
    {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": f"SPDXRef-Package-{a.name}"}
]
if a.host_binary:
    # Statically linked but for glibc: its OpenSSL, libcurl, yaml-cpp, zlib and nghttp2 are
    # the same Debian packages' (static-curl.sh builds Debian's curl source).
    packages.append(nodeboot_package(f"{a.name}-host", a.host_binary, "/usr/lib/nodeboot/host/nodeboot-agent"))
    relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                          "relatedSpdxElement": f"SPDXRef-Package-{a.name}-host"})
with open(a.packages) as f:
    for line in f:
        name, version, arch, source, sha = line.rstrip("\n").split("\t")
        spdxid = "SPDXRef-Package-deb-" + "".join(c if c.isalnum() or c in ".-" else "-" for c in name)
        purl = f"pkg:deb/debian/{name}@{version}?arch={arch}&distro=debian-12"
        if source and source != name:
            purl += f"&upstream={source}"
        packages.append(
            {
                "SPDXID": spdxid,
                "name": name,
                "versionInfo": version,
                "supplier": "Organization: Debian",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "sourceInfo": f"Debian source package {source or name}",
                "checksums": [{"algorithm": "SHA256", "checksumValue": sha}],
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}],
            }
        )
        relationships.append(
            {"spdxElementId": f"SPDXRef-Package-{a.name}", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": spdxid}
        )

doc = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": f"{a.name}-{a.version}",
    "documentNamespace": f"https://github.com/nodeboot/nodeboot/spdx/{a.name}/{a.version}/{a.digest}",
    "creationInfo": {"created": a.created, "creators": ["Tool: nodeboot packaging/images/sbom.py"]},
    "packages": packages,
    "relationships": relationships,
}
json.dump(doc, sys.stdout, indent=2, sort_keys=True)
sys.stdout.write("\n")
