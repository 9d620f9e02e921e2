#pragma once

// cluster.yaml (seed 002): the bare-metal Flatcar cluster a bootstrap node brings up.
// Parsing and validation are one pure step from text to either a normalised ClusterConfig
// or every problem found, each with its position and the fix.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/util/secret.hpp"

namespace nodeboot::plugin::cluster {

// 1-based position in cluster.yaml (yaml-cpp's marks are 0-based).
struct Mark {
  int line = 0;
  int column = 0;
};

enum class Severity { error, warning };

struct Finding {
  Severity severity = Severity::error;
  Mark mark;
  std::string field;    // dotted path, e.g. nodes[2].mac
  std::string message;  // what is wrong; never holds a secret value
  std::string fix;      // what to write instead
};

struct NodeConfig {
  std::string name;
  std::string role;  // controller | worker
  std::string ip;
  std::string mac;  // normalised: lowercase, colon-separated
  // Where flatcar-install writes: nodes[].install_disk, else cluster.install_disk, else
  // /dev/sda (Flatcar's own docs' example). A /dev path or a /dev/disk/by-* link.
  std::string install_disk;
};

// The pod network the first controller applies after kubeadm init (plugin/cluster/pins.hpp).
enum class Cni { flannel, calico, none };
std::string_view cni_name(Cni c);

struct ClusterConfig {
  std::string name;
  std::string k8s_version;      // 1.31.0 (no leading v)
  std::string flatcar_version;  // 3975.2.2 or "current"
  std::string flatcar_channel;  // stable | beta | alpha | lts
  // cluster.kubernetes_sysext_sha256: the sha256 (64 lowercase hex) of the sysext-bakery's
  // kubernetes-v<k8s_version>-x86-64.raw. Ignition refuses any other bytes.
  std::string kubernetes_sysext_sha256;
  std::string pod_subnet;
  std::string service_subnet;
  std::string ssh_authorized_key;
  Secret kubeadm_token;  // empty when cluster.yaml gives none (generate makes one)
  std::string control_plane_vip;
  // kube-vip's interface on the controllers (network.interface); empty: kube-vip takes the
  // interface of the default route.
  std::string vip_interface;
  // cluster.kube_vip_image (an image@sha256:... reference), else pins.hpp's tag.
  std::string kube_vip_image;
  Cni cni = Cni::flannel;
  std::string bootstrap_ip;
  std::string node_network;  // network.cidr: the nodes' L2 subnet
  std::vector<NodeConfig> nodes;

  // The node that runs `kubeadm init` (the first controller); the others join.
  const NodeConfig& bootstrap_controller() const;
};

struct Validation {
  std::optional<ClusterConfig> config;  // set when there is no error (warnings allowed)
  std::vector<Finding> findings;        // ordered by position

  std::size_t count(Severity s) const;
  // Whether the file may be used: no errors, and no warnings when strict.
  bool passes(bool strict) const;
};

// Versions for a cluster.yaml that names none: the bootstrap image's build arguments
// (Containerfile ARG K8S_VERSION / FLATCAR_VERSION). Empty: cluster.yaml must name them.
struct Defaults {
  std::string k8s_version;
  std::string flatcar_version;
};

Validation validate(std::string_view yaml_text, const Defaults& defaults = {});

// "cluster.yaml:12:7: error: nodes[1].mac: ... (fix: ...)"
std::string format(const Finding& f, std::string_view file);

// Lower-level checks, exposed for the generator and the tests.
struct Ipv4 {
  std::uint32_t value = 0;
};
struct Cidr {
  std::uint32_t base = 0;
  int prefix = 0;
  std::uint32_t mask() const noexcept { return prefix == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix); }
  bool contains(std::uint32_t ip) const noexcept { return (ip & mask()) == base; }
  bool overlaps(const Cidr& o) const noexcept { return contains(o.base) || o.contains(base); }
};
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(std::uint32_t ip);
// Parses "a.b.c.d/n" without requiring zero host bits (callers check base & ~mask).
std::optional<Cidr> parse_cidr_loose(std::string_view text);
// Colon, hyphen or dot (Cisco) form → lowercase colon form; nullopt when not a MAC.
std::optional<std::string> normalise_mac(std::string_view text);
bool is_dns1123_label(std::string_view s);
bool is_dns1123_subdomain(std::string_view s);
// Empty when the authorized_keys line is sound, else why not.
std::string check_ssh_public_key(std::string_view line);
bool is_kubeadm_token(std::string_view s);
// 64 lower-case hex digits: a sha256, or 32 bytes of a key or token.
bool is_hex64(std::string_view s);

}  // namespace nodeboot::plugin::cluster
