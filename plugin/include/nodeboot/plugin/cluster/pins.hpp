#pragma once

// What the generated Ignition fetches from the internet, pinned. No manifest is vendored:
// Ignition downloads each one on the first controller's first boot and refuses it unless
// its sha256 matches (`verification.hash`), and the apply unit checks it again.
//
// Where each hash comes from (never from the file's own server alone):
// - flannel v0.28.10: Documentation/kube-flannel.yml in the Go module zip
//   github.com/flannel-io/flannel@v0.28.10 from proxy.golang.org (the module zip holds the
//   tag's files byte for byte, so raw.githubusercontent.com at the tag serves the same bytes).
//   tests/support/data/cni/kube-flannel-v0.28.10.yml is that file; a unit test hashes it.
// - calico: manifests/calico.yaml in the Go module zip github.com/projectcalico/calico@
//   v1.11.0-cni-plugin.0.20250813170300-a0db560f0520 (the only version the module proxy
//   holds), a commit whose manifest names the v3.28.5 images. It is pinned by that commit,
//   not by the v3.28.5 tag: the tag's manifest could not be fetched here to compare.
// - kube-vip: pinned by tag only. Its registry (ghcr.io) is not reachable here, so no
//   digest could be read; cluster.yaml's `cluster.kube_vip_image` takes an
//   image@sha256:... reference to pin it by digest.

#include <string_view>

namespace nodeboot::plugin::cluster {

struct PinnedManifest {
  std::string_view name;
  std::string_view version;
  std::string_view url;
  std::string_view sha256;  // lowercase hex of the file at `url`
};

inline constexpr PinnedManifest flannel_manifest{
    "flannel", "v0.28.10",
    "https://raw.githubusercontent.com/flannel-io/flannel/v0.28.10/Documentation/kube-flannel.yml",
    "944a3c1f925f117727a1b7272a323c80965da642498397ec7e6ea9bef0f9e6c5"};

inline constexpr PinnedManifest calico_manifest{
    "calico", "v3.28.5 (commit a0db560f0520)",
    "https://github.com/projectcalico/calico/raw/a0db560f0520/manifests/calico.yaml",
    "206678e7adb2e931bb97385300c408490635616f371941d68468207d6e0f9713"};

// The tag whose static-pod shape (ARP, control-plane leader election) the template follows.
inline constexpr std::string_view kube_vip_image = "ghcr.io/kube-vip/kube-vip:v0.8.9";

// The kubeconfig upload endpoint `serve` runs beside Matchbox (seed 002 gives Matchbox 8080).
inline constexpr int upload_port = 8443;

}  // namespace nodeboot::plugin::cluster
