// cluster.yaml → ClusterConfig, collecting every problem (with position and fix) rather
// than stopping at the first, as kubeadm and the OpenShift installer do.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "nodeboot/bootstrap/url.hpp"
#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/plugin/cluster/pins.hpp"

namespace nodeboot::plugin::cluster {
namespace {

Mark mark_of(const YAML::Mark& m) { return {m.line + 1, m.column + 1}; }
Mark mark_of(const YAML::Node& n) { return mark_of(n.Mark()); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

struct Findings {
  std::vector<Finding> list;
  void error(Mark m, std::string field, std::string message, std::string fix) {
    list.push_back({Severity::error, m, std::move(field), std::move(message), std::move(fix)});
  }
  void warn(Mark m, std::string field, std::string message, std::string fix) {
    list.push_back({Severity::warning, m, std::move(field), std::move(message), std::move(fix)});
  }
};

// A scalar field as written, with where it was written.
struct Field {
  std::string value;
  Mark mark;
  bool present = false;
};

// One YAML mapping: its keys checked for duplicates and typos once, then read by name.
class Mapping {
 public:
  Mapping(const YAML::Node& node, Mark where, std::string path, std::vector<std::string_view> known, Findings& f)
      : where_(where), path_(std::move(path)), f_(f) {
    if (!node || node.IsNull()) {
      valid_ = false;
      return;
    }
    if (!node.IsMap()) {
      f_.error(mark_of(node), path_, "must be a mapping of keys to values",
               "indent its fields under \"" + path_ + ":\"");
      valid_ = false;
      return;
    }
    where_ = mark_of(node);
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        f_.error(mark_of(it->first), path_, "has a key that is not a plain name", "use field names as keys");
        continue;
      }
      auto key = it->first.Scalar();
      auto key_mark = mark_of(it->first);
      if (entries_.contains(key)) {
        f_.error(key_mark, join(key), "is given twice (first at line " + std::to_string(entries_[key].key.line) + ")",
                 "keep one \"" + key + ":\"");
        continue;
      }
      entries_[key] = {key_mark, it->second};
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string fix = "remove it";
        for (auto k : known)
          if (edit_distance(key, k) <= 2) fix = "did you mean \"" + std::string(k) + "\"?";
        f_.warn(key_mark, join(key), "is not a known field and is ignored", fix);
      }
    }
  }

  bool valid() const { return valid_; }
  Mark where() const { return where_; }
  std::string join(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  Mark key_mark(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? where_ : it->second.key;
  }

  const YAML::Node* node(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  // A scalar; a missing or empty required one is reported here with `example` as the fix.
  Field scalar(const std::string& key, bool required, std::string_view example) const {
    Field out;
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.value.IsNull() ||
        (it->second.value.IsScalar() && it->second.value.Scalar().empty())) {
      if (required && valid_) {
        Mark m = it == entries_.end() ? where_ : it->second.key;
        f_.error(
            m, join(key), "is required",
            "add \"" + key + ": " + std::string(example) + "\"" + (path_.empty() ? "" : " under \"" + path_ + ":\""));
      }
      return out;
    }
    if (!it->second.value.IsScalar()) {
      f_.error(mark_of(it->second.value), join(key), "must be a single value, not a list or mapping",
               "write \"" + key + ": " + std::string(example) + "\"");
      return out;
    }
    return {it->second.value.Scalar(), mark_of(it->second.value), true};
  }

 private:
  struct Entry {
    Mark key;
    YAML::Node value;
  };
  Mark where_;
  std::string path_;
  Findings& f_;
  bool valid_ = true;
  std::map<std::string, Entry> entries_;
};

std::string node_path(std::size_t i) { return "nodes[" + std::to_string(i) + "]"; }

std::string cidr_text(const Cidr& c) { return format_ipv4(c.base) + "/" + std::to_string(c.prefix); }

struct ParsedCidr {
  Field field;
  std::string name;  // dotted path
  std::optional<Cidr> cidr;
};

std::optional<Cidr> check_cidr(const Field& f, const std::string& path, std::string_view example, Findings& out) {
  if (!f.present) return std::nullopt;
  auto c = parse_cidr_loose(f.value);
  if (!c) {
    std::string msg = "\"" + f.value + "\" is not an IPv4 CIDR";
    if (parse_ipv4(f.value)) msg += " (it has no prefix length)";
    out.error(f.mark, path, msg, "write ADDRESS/PREFIX, e.g. " + std::string(example));
    return std::nullopt;
  }
  if ((c->base & ~c->mask()) != 0) {
    Cidr fixed{c->base & c->mask(), c->prefix};
    out.error(f.mark, path, "\"" + f.value + "\" has host bits set", "write " + cidr_text(fixed));
    return fixed;  // keep checking overlaps with the network it was meant to be
  }
  return c;
}

struct ParsedIp {
  Field field;
  std::string path;
  std::string what;  // "the VIP", "node cp-1's IP"
  std::optional<std::uint32_t> ip;
};

std::optional<std::uint32_t> check_ip(const Field& f, const std::string& path, Findings& out) {
  if (!f.present) return std::nullopt;
  auto ip = parse_ipv4(f.value);
  if (!ip)
    out.error(f.mark, path, "\"" + f.value + "\" is not an IPv4 address",
              "write four decimal octets, e.g. 192.168.1.10");
  return ip;
}

// flatcar-install -d takes a whole disk: /dev/sda, /dev/nvme0n1, /dev/disk/by-id/...
// Empty when `path` is usable, else why not.
std::string check_install_disk(std::string_view path) {
  if (!path.starts_with("/dev/") || path.size() == 5) return "is not a device path under /dev/";
  if (path.find_first_of(" \t\n'\"$`\\") != std::string_view::npos) return "has spaces or shell characters";
  if (path.find("/../") != std::string_view::npos || path.ends_with("/..")) return "has a \"..\" component";
  static const std::regex partition("/dev/((sd|vd|hd|xvd)[a-z]+[0-9]+|(nvme|mmcblk)[0-9]+(n[0-9]+)?p[0-9]+)");
  if (std::regex_match(path.begin(), path.end(), partition))
    return "is a partition, and flatcar-install writes a whole disk";
  return "";
}

// A disk hint as the machine's spec sheet or `lsblk` names it: "nvme0n1" or "/dev/nvme0n1".
std::string disk_device(std::string_view hint) {
  return hint.starts_with("/dev/") ? std::string(hint) : "/dev/" + std::string(hint);
}
bool is_nvme(std::string_view device) { return device.starts_with("/dev/nvme"); }

// nodes[i].install_disk, else the cluster's, else /dev/sda; checked against the node's
// `disks` hint (what its spec sheet or lsblk lists) when it gives one.
void check_node_disk(const Mapping& m, const std::string& path, const Field& cluster_disk, NodeConfig& n,
                     Findings& out) {
  auto own = m.scalar("install_disk", false, "/dev/nvme0n1");
  if (own.present) {
    if (auto why = check_install_disk(own.value); !why.empty())
      out.error(own.mark, path + ".install_disk", "\"" + own.value + "\" " + why,
                "name the whole disk, e.g. /dev/sda, /dev/nvme0n1 or /dev/disk/by-id/...");
  }
  const Field& chosen = own.present ? own : cluster_disk;
  n.install_disk = chosen.present ? chosen.value : "/dev/sda";
  const YAML::Node* hint = m.node("disks");
  if (!hint || hint->IsNull()) return;
  if (!hint->IsSequence() || hint->size() == 0) {
    out.error(mark_of(*hint), path + ".disks", "must be a list of the machine's disks",
              "write e.g. disks: [nvme0n1, nvme1n1]");
    return;
  }
  std::vector<std::string> devices;
  for (const auto& d : *hint) {
    if (!d.IsScalar() || d.Scalar().empty() ||
        (d.Scalar().find_first_of(" /") != std::string::npos && !d.Scalar().starts_with("/dev/"))) {
      out.error(mark_of(d), path + ".disks", "has an entry that is not a disk name",
                "write names as lsblk shows them, e.g. nvme0n1 or sda");
      return;
    }
    devices.push_back(disk_device(d.Scalar()));
  }
  std::string listed;
  for (const auto& d : devices) listed += (listed.empty() ? "" : ", ") + d;
  if (!chosen.present) {
    if (std::find(devices.begin(), devices.end(), "/dev/sda") != devices.end()) return;
    const bool nvme_only = std::all_of(devices.begin(), devices.end(), [](const std::string& d) { return is_nvme(d); });
    out.error(m.key_mark("disks"), path + ".install_disk",
              "is not set, so flatcar-install would write /dev/sda, which this machine does not have (its disks: " +
                  listed + (nvme_only ? "; NVMe only)" : ")"),
              "add \"install_disk: " + devices.front() + "\" under \"" + path +
                  ":\" (or cluster.install_disk for every node)");
    return;
  }
  // A by-id or by-path link cannot be checked against kernel names: only /dev/NAME.
  if (!chosen.value.starts_with("/dev/disk/") &&
      std::find(devices.begin(), devices.end(), chosen.value) == devices.end())
    out.error(chosen.mark, own.present ? path + ".install_disk" : "cluster.install_disk",
              chosen.value + " is not one of " + n.name + "'s disks (" + listed + ")",
              "use one of them, e.g. \"install_disk: " + devices.front() + "\" under \"" + path + ":\"");
}

// Linux interface names: 1 to 15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not . or ..
bool is_interface_name(std::string_view s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." && std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c == '/' || c == ':' || std::isspace(c) || c < 0x20;
  });
}

}  // namespace

std::string_view cni_name(Cni c) {
  switch (c) {
    case Cni::flannel:
      return "flannel";
    case Cni::calico:
      return "calico";
    case Cni::none:
      return "none";
  }
  return "none";
}

const NodeConfig& ClusterConfig::bootstrap_controller() const {
  for (const auto& n : nodes)
    if (n.role == "controller") return n;
  return nodes.front();  // unreachable for a validated config (at least one controller)
}

std::size_t Validation::count(Severity s) const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.severity == s; }));
}

bool Validation::passes(bool strict) const {
  return config && count(Severity::error) == 0 && (!strict || count(Severity::warning) == 0);
}

std::string format(const Finding& f, std::string_view file) {
  std::ostringstream s;
  s << file << ':' << f.mark.line << ':' << f.mark.column << ": "
    << (f.severity == Severity::error ? "error" : "warning") << ": ";
  if (!f.field.empty()) s << f.field << ": ";
  s << f.message;
  if (!f.fix.empty()) s << " (fix: " << f.fix << ')';
  return s.str();
}

Validation validate(std::string_view yaml_text, const Defaults& defaults) {
  Validation result;
  Findings out;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    out.error(mark_of(e.mark), "", "not valid YAML: " + e.msg, "correct the syntax at this position");
    result.findings = std::move(out.list);
    return result;
  }
  if (!root || root.IsNull() || !root.IsMap()) {
    out.error({1, 1}, "",
              "cluster.yaml must be a mapping with cluster, control_plane_vip, bootstrap, network and nodes",
              "start from the example in `kubectl nodeboot cluster --help`");
    result.findings = std::move(out.list);
    return result;
  }

  ClusterConfig cfg;
  Mapping top(root, {1, 1}, "", {"cluster", "control_plane_vip", "bootstrap", "network", "nodes"}, out);
  auto required_map = [&](const std::string& key) {
    const YAML::Node* n = top.node(key);
    if (!n)
      out.error({1, 1}, key, "is required", "add a \"" + key + ":\" section");
    else if (n->IsNull())  // "network:" with nothing under it
      out.error(top.key_mark(key), key, "is empty", "indent its fields under \"" + key + ":\"");
  };
  required_map("cluster");
  required_map("bootstrap");
  required_map("network");
  static const YAML::Node absent;
  auto section = [&](const std::string& key) { return top.node(key) ? *top.node(key) : absent; };

  Mapping cl(section("cluster"), {1, 1}, "cluster",
             {"name", "k8s_version", "kubernetes_sysext_sha256", "flatcar_version", "flatcar_channel", "pod_subnet",
              "service_subnet", "ssh_authorized_key", "kubeadm_token", "cni", "install_disk", "kube_vip_image"},
             out);
  Mapping boot(section("bootstrap"), {1, 1}, "bootstrap", {"ip"}, out);
  Mapping net(section("network"), {1, 1}, "network", {"cidr", "interface"}, out);

  // Names and versions.
  auto name = cl.scalar("name", true, "my-cluster");
  if (name.present) {
    if (!is_dns1123_label(name.value))
      out.error(name.mark, "cluster.name", "\"" + name.value + "\" is not a DNS-1123 label",
                "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit");
    cfg.name = name.value;
  }
  auto k8s = cl.scalar("k8s_version", defaults.k8s_version.empty(), "1.31.0");
  if (!k8s.present && !defaults.k8s_version.empty()) k8s = {defaults.k8s_version, cl.where(), true};
  if (k8s.present) {
    std::string v = k8s.value.starts_with('v') ? k8s.value.substr(1) : k8s.value;
    unsigned major = 0, minor = 0, patch = 0;
    char tail = 0;
    if (std::sscanf(v.c_str(), "%u.%u.%u%c", &major, &minor, &patch, &tail) != 3 ||
        v.find_first_not_of("0123456789.") != std::string::npos)
      out.error(k8s.mark, "cluster.k8s_version", "\"" + k8s.value + "\" is not a Kubernetes version",
                "write MAJOR.MINOR.PATCH, quoted, e.g. \"1.31.0\"");
    else if (major != 1)
      out.error(k8s.mark, "cluster.k8s_version", "\"" + k8s.value + "\" is not a Kubernetes 1.x release",
                "write a release such as \"1.31.0\"");
    cfg.k8s_version = v;
  }
  // Every node downloads the Kubernetes sysext image from GitHub: unpinned, whoever serves
  // that URL (or sits between) would choose the kubelet every node runs.
  const std::string release = "kubernetes-v" + (cfg.k8s_version.empty() ? std::string("X.Y.Z") : cfg.k8s_version);
  const std::string sysext_fix_source = "the line for " + release +
                                        "-x86-64.raw in SHA256SUMS of the release "
                                        "https://github.com/flatcar/sysext-bakery/releases/tag/" +
                                        release;
  auto sysext = cl.scalar("kubernetes_sysext_sha256", true, "<64 hex digits: " + sysext_fix_source + ">");
  if (sysext.present) {
    std::string hex = sysext.value;
    std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!is_hex64(hex))
      out.error(sysext.mark, "cluster.kubernetes_sysext_sha256",
                "\"" + sysext.value + "\" is not a sha256 (64 hex digits)",
                "copy the digest from " + sysext_fix_source);
    else if (hex.find_first_not_of('0') == std::string::npos)
      out.error(sysext.mark, "cluster.kubernetes_sysext_sha256", "is the example's placeholder (all zeros)",
                "replace it with the digest from " + sysext_fix_source);
    cfg.kubernetes_sysext_sha256 = hex;
  }
  auto flatcar = cl.scalar("flatcar_version", defaults.flatcar_version.empty(), "3975.2.2");
  if (!flatcar.present && !defaults.flatcar_version.empty()) flatcar = {defaults.flatcar_version, cl.where(), true};
  if (flatcar.present) {
    unsigned a = 0, b = 0, c = 0;
    char tail = 0;
    if (flatcar.value != "current" && (std::sscanf(flatcar.value.c_str(), "%u.%u.%u%c", &a, &b, &c, &tail) != 3 ||
                                       flatcar.value.find_first_not_of("0123456789.") != std::string::npos))
      out.error(flatcar.mark, "cluster.flatcar_version", "\"" + flatcar.value + "\" is not a Flatcar release",
                R"(write BUILD.BRANCH.PATCH, quoted, e.g. "3975.2.2", or "current")");
    cfg.flatcar_version = flatcar.value;
  }
  auto channel = cl.scalar("flatcar_channel", false, "stable");
  cfg.flatcar_channel = channel.present ? channel.value : "stable";
  if (channel.present && channel.value != "stable" && channel.value != "beta" && channel.value != "alpha" &&
      channel.value != "lts")
    out.error(channel.mark, "cluster.flatcar_channel", "\"" + channel.value + "\" is not a Flatcar channel",
              "use stable, beta, alpha or lts");

  auto ssh = cl.scalar("ssh_authorized_key", true, "ssh-ed25519 AAAA... you@host");
  if (ssh.present) {
    auto why = check_ssh_public_key(ssh.value);
    if (!why.empty())
      out.error(ssh.mark, "cluster.ssh_authorized_key", "is not a usable SSH public key: " + why,
                "paste one line of your ~/.ssh/id_ed25519.pub (or another .pub file)");
    cfg.ssh_authorized_key = ssh.value;
    while (!cfg.ssh_authorized_key.empty() && std::isspace(static_cast<unsigned char>(cfg.ssh_authorized_key.back())))
      cfg.ssh_authorized_key.pop_back();
  }
  auto token = cl.scalar("kubeadm_token", false, "");
  if (token.present) {
    // The value is a secret: the message never repeats it.
    if (!is_kubeadm_token(token.value))
      out.error(token.mark, "cluster.kubeadm_token", "does not match [a-z0-9]{6}\\.[a-z0-9]{16}",
                "remove it to have one generated, or run `kubeadm token generate`");
    else
      cfg.kubeadm_token = Secret(token.value);
  }

  auto cni = cl.scalar("cni", false, "flannel");
  if (cni.present) {
    constexpr std::array cnis{Cni::flannel, Cni::calico, Cni::none};
    const auto* known = std::find_if(cnis.begin(), cnis.end(), [&](Cni c) { return cni_name(c) == cni.value; });
    if (known != cnis.end())
      cfg.cni = *known;
    else
      out.error(cni.mark, "cluster.cni", "\"" + cni.value + "\" is not a pod network nodeboot installs",
                "use flannel (the default), calico, or none to apply your own after kubeadm init");
  }
  auto vip_image = cl.scalar("kube_vip_image", false, "ghcr.io/kube-vip/kube-vip@sha256:...");
  cfg.kube_vip_image = std::string(kube_vip_image);
  if (vip_image.present) {
    if (auto ref = bootstrap::parse_digest_ref(vip_image.value); !ref)
      out.error(vip_image.mark, "cluster.kube_vip_image",
                "\"" + vip_image.value + "\" is not pinned by digest: " + ref.error().message,
                "write REGISTRY/REPOSITORY@sha256:<64 hex>, e.g. the digest `crane digest " +
                    std::string(kube_vip_image) + "` prints");
    cfg.kube_vip_image = vip_image.value;
  }
  auto default_disk = cl.scalar("install_disk", false, "/dev/nvme0n1");
  if (default_disk.present) {
    if (auto why = check_install_disk(default_disk.value); !why.empty())
      out.error(default_disk.mark, "cluster.install_disk", "\"" + default_disk.value + "\" " + why,
                "name the whole disk, e.g. /dev/sda, /dev/nvme0n1 or /dev/disk/by-id/...");
  }

  // Addresses.
  auto net_field = net.scalar("cidr", true, "192.168.1.0/24");
  auto node_net = check_cidr(net_field, "network.cidr", "192.168.1.0/24", out);
  if (node_net && node_net->prefix > 30)  // /31 and /32 leave no room for nodes plus a VIP
    out.error(net_field.mark, "network.cidr", "/" + std::to_string(node_net->prefix) + " has no room for nodes",
              "give the nodes' whole L2 subnet, e.g. 192.168.1.0/24");
  cfg.node_network = node_net ? cidr_text(*node_net) : "";
  auto iface = net.scalar("interface", false, "eno1");
  if (iface.present && !is_interface_name(iface.value))
    out.error(iface.mark, "network.interface", "\"" + iface.value + "\" is not a network interface name",
              "give the controllers' NIC as `ip -br link` shows it on Flatcar, e.g. eno1 or enp1s0");
  cfg.vip_interface = iface.present ? iface.value : "";

  auto pod_field = cl.scalar("pod_subnet", false, "10.244.0.0/16");
  auto svc_field = cl.scalar("service_subnet", false, "10.96.0.0/12");
  // kubeadm's defaults when cluster.yaml gives none.
  if (!pod_field.present) pod_field = {"10.244.0.0/16", cl.where(), true};
  if (!svc_field.present) svc_field = {"10.96.0.0/12", cl.where(), true};
  auto pod = check_cidr(pod_field, "cluster.pod_subnet", "10.244.0.0/16", out);
  auto svc = check_cidr(svc_field, "cluster.service_subnet", "10.96.0.0/12", out);
  cfg.pod_subnet = pod ? cidr_text(*pod) : "";
  cfg.service_subnet = svc ? cidr_text(*svc) : "";
  if (svc && svc->prefix > 28)  // /28 is the smallest block with at least 10 addresses
    out.error(svc_field.mark, "cluster.service_subnet",
              "/" + std::to_string(svc->prefix) + " holds fewer than 10 addresses",
              "use a /28 or larger, e.g. 10.96.0.0/12");
  if (svc && svc->prefix < 12)  // kube-apiserver refuses service ranges over 2^20 addresses
    out.error(svc_field.mark, "cluster.service_subnet", "/" + std::to_string(svc->prefix) + " is larger than /12",
              "use /12 or smaller, e.g. 10.96.0.0/12");
  if (pod && svc && pod->overlaps(*svc))
    out.error(svc_field.mark, "cluster.service_subnet", cidr_text(*svc) + " overlaps the pod subnet " + cidr_text(*pod),
              "choose disjoint ranges, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12");
  std::vector<ParsedCidr> kube_ranges;
  if (pod) kube_ranges.push_back({pod_field, "cluster.pod_subnet", pod});
  if (svc) kube_ranges.push_back({svc_field, "cluster.service_subnet", svc});
  std::set<std::string> range_overlaps_network;
  if (node_net)
    for (const auto& r : kube_ranges)
      if (r.cidr->overlaps(*node_net)) {
        out.error(r.field.mark, r.name, cidr_text(*r.cidr) + " overlaps the node network " + cidr_text(*node_net),
                  "choose a range the nodes' LAN does not use");
        range_overlaps_network.insert(r.name);
      }

  std::vector<ParsedIp> ips;  // every host address, for uniqueness and range checks
  auto vip_field = top.scalar("control_plane_vip", true, "192.168.1.100");
  auto vip = check_ip(vip_field, "control_plane_vip", out);
  cfg.control_plane_vip = vip_field.value;
  if (vip) ips.push_back({vip_field, "control_plane_vip", "the control-plane VIP", vip});
  auto boot_field = boot.scalar("ip", true, "192.168.1.10");
  auto boot_ip = check_ip(boot_field, "bootstrap.ip", out);
  cfg.bootstrap_ip = boot_field.value;
  if (boot_ip) ips.push_back({boot_field, "bootstrap.ip", "the bootstrap IP", boot_ip});
  if (node_net && vip && !node_net->contains(*vip))
    out.error(vip_field.mark, "control_plane_vip",
              vip_field.value + " is outside the node network " + cidr_text(*node_net),
              "pick a free address inside " + cidr_text(*node_net));
  if (node_net && vip && node_net->contains(*vip) &&
      (*vip == node_net->base || *vip == (node_net->base | ~node_net->mask())))
    out.error(vip_field.mark, "control_plane_vip",
              vip_field.value + " is the network or broadcast address of " + cidr_text(*node_net),
              "pick a free host address inside " + cidr_text(*node_net));
  if (node_net && boot_ip && !node_net->contains(*boot_ip))
    out.error(boot_field.mark, "bootstrap.ip",
              boot_field.value + " is outside the node network " + cidr_text(*node_net) +
                  "; proxy-DHCP only answers PXE requests on its own L2 subnet",
              "run the bootstrap node on the nodes' LAN and give its address there");

  // Nodes.
  const YAML::Node* nodes = top.node("nodes");
  Mark nodes_mark{1, 1};
  if (!nodes || nodes->IsNull()) {
    out.error(nodes_mark, "nodes", "is required", "add a \"nodes:\" list with name, role, ip and mac for each machine");
  } else if (!nodes->IsSequence() || nodes->size() == 0) {
    out.error(mark_of(*nodes), "nodes", "must be a non-empty list", "list each machine with name, role, ip and mac");
  } else {
    std::map<std::string, Mark> names, macs;
    std::size_t controllers = 0;
    for (std::size_t i = 0; i < nodes->size(); ++i) {
      const YAML::Node item = (*nodes)[i];
      auto path = node_path(i);
      Mapping m(item, mark_of(item), path, {"name", "role", "ip", "mac", "install_disk", "disks"}, out);
      if (!m.valid()) {
        if (item.IsNull()) out.error(mark_of(item), path, "is empty", "give name, role, ip and mac");
        continue;
      }
      NodeConfig n;
      auto nm = m.scalar("name", true, "node-1");
      if (nm.present) {
        if (!is_dns1123_subdomain(nm.value) || nm.value.find('.') != std::string::npos) {
          std::string lower = nm.value;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          out.error(
              nm.mark, path + ".name",
              "\"" + nm.value + "\" is not a DNS-1123 label (it becomes the hostname and Node name)",
              is_dns1123_label(lower)
                  ? "write \"" + lower + "\""
                  : "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit");
        } else if (auto [it, fresh] = names.emplace(nm.value, nm.mark); !fresh) {
          out.error(nm.mark, path + ".name",
                    "\"" + nm.value + "\" is already used at line " + std::to_string(it->second.line),
                    "give every node its own name");
        }
        n.name = nm.value;
      }
      auto role = m.scalar("role", true, "controller");
      if (role.present) {
        if (role.value == "controller")
          ++controllers;
        else if (role.value != "worker")
          out.error(role.mark, path + ".role", "\"" + role.value + "\" is not a role", "use controller or worker");
        n.role = role.value;
      }
      auto ipf = m.scalar("ip", true, "192.168.1.11");
      auto ip = check_ip(ipf, path + ".ip", out);
      n.ip = ipf.value;
      if (ip) {
        ips.push_back({ipf, path + ".ip", "node " + n.name + "'s IP", ip});
        if (node_net && !node_net->contains(*ip))
          out.error(ipf.mark, path + ".ip", ipf.value + " is outside the node network " + cidr_text(*node_net),
                    "give the node an address inside " + cidr_text(*node_net) + " or correct network.cidr");
        else if (node_net && node_net->prefix <= 30 &&
                 (*ip == node_net->base || *ip == (node_net->base | ~node_net->mask())))
          out.error(ipf.mark, path + ".ip",
                    ipf.value + " is the network or broadcast address of " + cidr_text(*node_net),
                    "give the node a host address");
      }
      auto macf = m.scalar("mac", true, "52:54:00:12:34:56");
      if (macf.present) {
        auto mac = normalise_mac(macf.value);
        if (!mac) {
          out.error(macf.mark, path + ".mac", "\"" + macf.value + "\" is not a MAC address",
                    "write six hex octets: 52:54:00:12:34:56, 52-54-00-12-34-56 or 5254.0012.3456 (quote it)");
        } else if (*mac == "00:00:00:00:00:00") {
          out.error(macf.mark, path + ".mac", "is all zeros",
                    "copy the NIC's burned-in address from the machine's label or BIOS");
        } else if (std::stoi(mac->substr(0, 2), nullptr, 16) & 1) {  // I/G bit: group address
          out.error(macf.mark, path + ".mac", *mac + " is a multicast address, which no NIC boots from",
                    "copy the NIC's unicast address");
        } else if (auto [it, fresh] = macs.emplace(*mac, macf.mark); !fresh) {
          out.error(macf.mark, path + ".mac", *mac + " is already used at line " + std::to_string(it->second.line),
                    "every node needs its own NIC's MAC");
        }
        n.mac = mac.value_or(macf.value);
      }
      check_node_disk(m, path, default_disk, n, out);
      cfg.nodes.push_back(std::move(n));
    }
    if (controllers == 0)
      out.error(mark_of(*nodes), "nodes", "has no node with role controller",
                "make at least one node role: controller");
    else if (controllers % 2 == 0)
      out.warn(mark_of(*nodes), "nodes",
               std::to_string(controllers) + " controllers: etcd tolerates no more failures than with " +
                   std::to_string(controllers - 1),
               "use an odd number of controllers (1, 3 or 5)");
    if (pod && pod->prefix > 24)  // kube-controller-manager's default --node-cidr-mask-size
      out.error(pod_field.mark, "cluster.pod_subnet",
                "/" + std::to_string(pod->prefix) + " is smaller than one node's /24 pod range",
                "use a /16, e.g. 10.244.0.0/16");
    else if (pod && (std::uint64_t{1} << (24 - pod->prefix)) < nodes->size())
      out.error(pod_field.mark, "cluster.pod_subnet",
                "/" + std::to_string(pod->prefix) + " has room for " + std::to_string(1u << (24 - pod->prefix)) +
                    " nodes' /24 pod ranges, but there are " + std::to_string(nodes->size()) + " nodes",
                "use a larger range, e.g. 10.244.0.0/16");
  }

  // Every host address unique, and outside the cluster's internal ranges.
  std::map<std::uint32_t, const ParsedIp*> seen;
  for (const auto& p : ips) {
    if (auto [it, fresh] = seen.emplace(*p.ip, &p); !fresh)
      out.error(p.field.mark, p.path,
                p.field.value + " is already " + it->second->what + " (line " +
                    std::to_string(it->second->field.mark.line) + ")",
                "give each node, the VIP and the bootstrap node distinct addresses");
    for (const auto& r : kube_ranges)
      if (!range_overlaps_network.contains(r.name) && r.cidr->contains(*p.ip))
        out.error(r.field.mark, r.name, cidr_text(*r.cidr) + " contains " + p.what + " " + p.field.value,
                  "choose a range that no machine on the LAN uses");
  }

  std::stable_sort(out.list.begin(), out.list.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  result.findings = std::move(out.list);
  if (std::none_of(result.findings.begin(), result.findings.end(),
                   [](const Finding& f) { return f.severity == Severity::error; }))
    result.config = std::move(cfg);
  return result;
}

}  // namespace nodeboot::plugin::cluster
