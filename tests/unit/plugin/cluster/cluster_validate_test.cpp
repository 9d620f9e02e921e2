#include <string>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/test/support.hpp"

namespace cluster = nodeboot::plugin::cluster;
using cluster::Severity;

namespace {

// tests/support/data/cluster.yaml: a good file. Line numbers in the broken cases refer to it.
const std::string good = nodeboot::test::read_file(nodeboot::test::source_dir() / "tests/support/data/cluster.yaml");

struct Broken {
  const char* check;
  const char* from;  // replaced once in `good`
  const char* to;
  int line;
  int column;  // 0 = not checked
  const char* message;
  Severity severity = Severity::error;
};

std::ostream& operator<<(std::ostream& os, const Broken& b) { return os << b.check; }

const Broken broken[] = {
    {"yaml syntax", "  name: lab\n", "  name: [lab\n", 3, 0, "not valid YAML"},
    {"cluster.name required", "  name: lab\n", "", 2, 3, "cluster.name: is required"},
    {"cluster.name DNS-1123", "name: lab", "name: Lab_1", 2, 9, "not a DNS-1123 label"},
    {"k8s version format", "\"1.31.0\"", "1.31", 3, 16, "not a Kubernetes version"},
    {"sysext digest required", "  kubernetes_sysext_sha256: d10d", "  #", 2, 3,
     "cluster.kubernetes_sysext_sha256: is required (fix: add \"kubernetes_sysext_sha256: <64 hex digits: the line "
     "for kubernetes-v1.31.0-x86-64.raw in SHA256SUMS of the release "
     "https://github.com/flatcar/sysext-bakery/releases/tag/kubernetes-v1.31.0>\" under \"cluster:\")"},
    {"sysext digest format", ": d10d01462ebd", ": d10d0146zebd", 8, 29, "is not a sha256 (64 hex digits)"},
    {"sysext digest length", "c8  # sha256", "  # sha256", 8, 29, "is not a sha256 (64 hex digits)"},
    {"sysext digest placeholder", "d10d01462ebd0231a8d1b8a827869c5effd28ca5c2f9e6de5d02e36f8b7660c8",
     "\"0000000000000000000000000000000000000000000000000000000000000000\"", 8, 29,
     "is the example's placeholder (all zeros) (fix: replace it with the digest from the line for "
     "kubernetes-v1.31.0-x86-64.raw"},
    {"flatcar version format", "\"3975.2.2\"", "stable", 4, 20, "not a Flatcar release"},
    {"pod subnet host bits", "10.244.0.0/16", "10.244.1.0/16", 5, 15, "host bits set (fix: write 10.244.0.0/16)"},
    {"pod subnet not a CIDR", "10.244.0.0/16", "10.244.0.0", 5, 15, "no prefix length"},
    {"pod subnet too small for a node", "10.244.0.0/16", "10.244.0.0/25", 5, 15, "smaller than one node's /24"},
    {"pod subnet too small for the nodes", "10.244.0.0/16", "10.244.0.0/23", 5, 15, "room for 2 nodes"},
    {"service subnet too small", "10.96.0.0/12", "10.96.0.0/29", 6, 19, "fewer than 10 addresses"},
    {"service subnet too large", "10.96.0.0/12", "10.0.0.0/8", 6, 19, "larger than /12"},
    {"pod/service overlap", "10.96.0.0/12", "10.244.128.0/20", 6, 19, "overlaps the pod subnet 10.244.0.0/16"},
    {"pod subnet overlaps node network", "10.244.0.0/16", "192.168.0.0/16", 5, 15, "overlaps the node network"},
    {"ssh key type", "ssh-ed25519 AAAAC3", "ssh-dss AAAAC3", 7, 23, "unknown key type \"ssh-dss\""},
    {"ssh key base64", "AAAAC3NzaC1lZDI1NTE5AAAAIM0iL05Y", "AAAAC3NzaC1lZDI1NTE5AAAAIM0iL0!Y", 7, 23,
     "not valid base64"},
    {"ssh key embedded type", "ssh-ed25519 AAAAC3", "ssh-rsa AAAAC3", 7, 23,
     R"(is a "ssh-ed25519" key but the line says "ssh-rsa")"},
    {"ssh key is private",
     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0iL05Y/eNyFBaGLq2wMLkA3XpwOD6OAqYL1aDofyVL test@nodeboot",
     "\"-----BEGIN OPENSSH PRIVATE KEY-----\"", 7, 23, "private key"},
    {"kubeadm token format", "control_plane_vip", "  kubeadm_token: ABCDEF.0123456789abcdef\ncontrol_plane_vip", 9, 18,
     "does not match [a-z0-9]{6}\\.[a-z0-9]{16}"},
    {"VIP syntax", "192.168.1.100", "192.168.1.300", 9, 20, "not an IPv4 address"},
    {"VIP in node network", "192.168.1.100", "10.1.0.5", 9, 20, "outside the node network 192.168.1.0/24"},
    {"VIP is a node IP", "192.168.1.100", "192.168.1.11", 17, 9, "already the control-plane VIP (line 9)"},
    {"bootstrap IP on the L2 subnet", "192.168.1.10\n", "10.1.0.10\n", 11, 7, "proxy-DHCP"},
    {"bootstrap IP is a node IP", "ip: 192.168.1.22", "ip: 192.168.1.10", 25, 9, "already the bootstrap IP"},
    {"network host bits", "192.168.1.0/24", "192.168.1.1/24", 13, 9, "host bits set (fix: write 192.168.1.0/24)"},
    {"node IP in node network", "192.168.1.11", "192.168.2.11", 17, 9, "outside the node network"},
    {"node IP broadcast", "192.168.1.21", "192.168.1.255", 21, 9, "broadcast"},
    {"node IPs unique", "192.168.1.21", "192.168.1.11", 21, 9, "already node cp-1's IP (line 17)"},
    {"node name DNS-1123", "name: cp-1", "name: CP-1", 15, 11, "(fix: write \"cp-1\")"},
    {"node names unique", "name: worker-2", "name: worker-1", 23, 11, "\"worker-1\" is already used at line 19"},
    {"node fields required", "    mac: 5254.0000.00AB\n", "", 23, 5, "nodes[2].mac: is required"},
    {"MAC syntax", "5254.0000.00AB", "5254.0000.00zz", 26, 10, "not a MAC address"},
    {"MACs unique across forms", "52-54-00-00-00-02", "52-54-00-00-00-01", 22, 10,
     "52:54:00:00:00:01 is already used at line 18"},
    {"MAC multicast", "\"52:54:00:00:00:01\"", "\"01:00:5e:00:00:01\"", 18, 10, "multicast"},
    {"MAC zero", "\"52:54:00:00:00:01\"", "00-00-00-00-00-00", 18, 10, "all zeros"},
    {"role", "role: worker", "role: master", 20, 11, "\"master\" is not a role (fix: use controller or worker)"},
    {"at least one controller", "role: controller", "role: worker", 15, 3, "no node with role controller"},
    {"even controller count", "role: worker", "role: controller", 15, 3, "2 controllers", Severity::warning},
    {"unknown field", "pod_subnet:", "pod_subnets:", 5, 3, "did you mean \"pod_subnet\"?", Severity::warning},
    {"duplicate key", "  name: lab\n", "  name: lab\n  name: lab2\n", 3, 3, "is given twice (first at line 2)"},
    {"section empty", "network:\n  cidr: 192.168.1.0/24\n", "network:\n", 12, 0, "network: is empty"},
    {"nodes required", "nodes:", "notnodes:", 1, 1, "nodes: is required"},
    // Issue 19: the VIP, the pod network, the install disk.
    {"VIP is the broadcast address", "192.168.1.100", "192.168.1.255", 9, 20,
     "network or broadcast address of 192.168.1.0/24"},
    {"unknown CNI", "  pod_subnet:", "  cni: weave\n  pod_subnet:", 5, 8,
     "cluster.cni: \"weave\" is not a pod network nodeboot installs (fix: use flannel (the default), calico, or none"},
    {"NVMe-only machine without an install disk", "    mac: 5254.0000.00AB\n",
     "    mac: 5254.0000.00AB\n    disks: [nvme0n1, nvme1n1]\n", 27, 5,
     "nodes[2].install_disk: is not set, so flatcar-install would write /dev/sda, which this machine does not have "
     "(its disks: /dev/nvme0n1, /dev/nvme1n1; NVMe only) (fix: add \"install_disk: /dev/nvme0n1\" under \"nodes[2]:\""},
    {"install disk not among the disks", "    mac: 5254.0000.00AB\n",
     "    mac: 5254.0000.00AB\n    install_disk: /dev/sdb\n    disks: [sda]\n", 27, 19,
     "/dev/sdb is not one of worker-2's disks (/dev/sda)"},
    {"cluster install disk is a partition", "  pod_subnet:", "  install_disk: /dev/nvme0n1p1\n  pod_subnet:", 5, 17,
     "is a partition"},
    {"install disk outside /dev", "    mac: 5254.0000.00AB\n", "    mac: 5254.0000.00AB\n    install_disk: sda\n", 27,
     19, "not a device path under /dev/"},
    {"VIP interface name", "  cidr: 192.168.1.0/24\n", "  cidr: 192.168.1.0/24\n  interface: eth0/1\n", 14, 14,
     "not a network interface name"},
    {"kube-vip image by tag", "  pod_subnet:", "  kube_vip_image: ghcr.io/kube-vip/kube-vip:v0.8.9\n  pod_subnet:", 5,
     19, "is not pinned by digest"},
};

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  BOOST_REQUIRE_MESSAGE(p != std::string::npos, "test table: \"" << from << "\" not in the good file");
  return s.replace(p, from.size(), to);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_validate)

BOOST_AUTO_TEST_CASE(good_file_passes_strict_and_is_normalised) {
  auto v = cluster::validate(good);
  for (const auto& f : v.findings) BOOST_TEST_MESSAGE(cluster::format(f, "cluster.yaml"));
  BOOST_TEST(v.findings.empty());
  BOOST_REQUIRE(v.passes(true));
  const auto& cfg = *v.config;
  BOOST_TEST(cfg.nodes.size() == 3u);
  BOOST_TEST(cfg.nodes[0].mac == "52:54:00:00:00:01");
  BOOST_TEST(cfg.nodes[1].mac == "52:54:00:00:00:02");
  BOOST_TEST(cfg.nodes[2].mac == "52:54:00:00:00:ab");
  BOOST_TEST(cfg.k8s_version == "1.31.0");
  BOOST_TEST(cfg.kubernetes_sysext_sha256 == "d10d01462ebd0231a8d1b8a827869c5effd28ca5c2f9e6de5d02e36f8b7660c8");
  BOOST_TEST(cluster::validate(replace_once(good, "d10d01462ebd", "D10D01462EBD")).config->kubernetes_sysext_sha256 ==
             cfg.kubernetes_sysext_sha256);  // written in capitals: read in lowercase, as Ignition compares
  BOOST_TEST(cfg.flatcar_channel == "stable");
  BOOST_TEST(cfg.kubeadm_token.empty());
  BOOST_TEST(cfg.bootstrap_controller().name == "cp-1");
}

BOOST_DATA_TEST_CASE(each_broken_file_is_refused_at_its_line, boost::unit_test::data::make(broken), b) {
  auto v = cluster::validate(replace_once(good, b.from, b.to));
  std::string all;
  for (const auto& f : v.findings) all += cluster::format(f, "cluster.yaml") + "\n";
  BOOST_TEST_INFO("findings:\n" << all);
  bool found = false;
  for (const auto& f : v.findings) {
    auto text = cluster::format(f, "cluster.yaml");
    if (text.find(b.message) == std::string::npos) continue;
    found = true;
    BOOST_TEST(f.mark.line == b.line);
    if (b.column) BOOST_TEST(f.mark.column == b.column);
    BOOST_TEST((f.severity == b.severity));
    BOOST_TEST(!f.fix.empty());
  }
  BOOST_TEST(found, "expected \"" << b.message << "\"");
  BOOST_TEST(!v.passes(true));
  BOOST_TEST(v.passes(false) == (b.severity == Severity::warning));
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_at_once_in_file_order) {
  auto text = replace_once(replace_once(replace_once(good, "name: cp-1", "name: CP-1"), "role: worker", "role: master"),
                           "192.168.1.100", "10.1.0.5");
  auto v = cluster::validate(text);
  BOOST_REQUIRE(v.findings.size() == 3u);
  BOOST_TEST(v.findings[0].mark.line == 9);
  BOOST_TEST(v.findings[1].mark.line == 15);
  BOOST_TEST(v.findings[2].mark.line == 20);
  BOOST_TEST(!v.config.has_value());
}

BOOST_AUTO_TEST_CASE(a_supplied_token_is_kept_secret_in_messages) {
  auto v = cluster::validate(
      replace_once(good, "control_plane_vip", "  kubeadm_token: secret.0123456789abcdeX\ncontrol_plane_vip"));
  for (const auto& f : v.findings) BOOST_TEST(cluster::format(f, "f").find("0123456789") == std::string::npos);
  auto ok = cluster::validate(
      replace_once(good, "control_plane_vip", "  kubeadm_token: abcdef.0123456789abcdef\ncontrol_plane_vip"));
  BOOST_REQUIRE(ok.config);
  BOOST_TEST(ok.config->kubeadm_token.reveal() == "abcdef.0123456789abcdef");
}

BOOST_AUTO_TEST_CASE(cni_disks_and_interface_are_read_with_their_defaults) {
  auto defaults = cluster::validate(good);
  BOOST_REQUIRE(defaults.config);
  BOOST_TEST((defaults.config->cni == cluster::Cni::flannel));
  BOOST_TEST(defaults.config->vip_interface.empty());
  BOOST_TEST(defaults.config->nodes[0].install_disk == "/dev/sda");
  BOOST_TEST(defaults.config->kube_vip_image == "ghcr.io/kube-vip/kube-vip:v0.8.9");
  auto text = replace_once(good, "  pod_subnet:", "  cni: calico\n  install_disk: /dev/nvme0n1\n  pod_subnet:");
  text = replace_once(text, "  cidr: 192.168.1.0/24\n", "  cidr: 192.168.1.0/24\n  interface: enp1s0\n");
  text = replace_once(
      text, "    mac: 5254.0000.00AB\n",
      "    mac: 5254.0000.00AB\n    install_disk: /dev/disk/by-id/wwn-0x5000c500a1b2c3d4\n    disks: [sda]\n");
  auto v = cluster::validate(text);
  for (const auto& f : v.findings) BOOST_TEST_MESSAGE(cluster::format(f, "cluster.yaml"));
  BOOST_REQUIRE(v.passes(true));
  BOOST_TEST((v.config->cni == cluster::Cni::calico));
  BOOST_TEST(v.config->vip_interface == "enp1s0");
  BOOST_TEST(v.config->nodes[0].install_disk == "/dev/nvme0n1");
  BOOST_TEST(v.config->nodes[2].install_disk == "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4");
}

BOOST_AUTO_TEST_CASE(image_build_arguments_fill_in_missing_versions) {
  auto text =
      replace_once(replace_once(good, "  k8s_version: \"1.31.0\"\n", ""), "  flatcar_version: \"3975.2.2\"\n", "");
  BOOST_TEST(!cluster::validate(text).config.has_value());
  auto v = cluster::validate(text, {"1.32.1", "4081.2.0"});
  BOOST_REQUIRE(v.config);
  BOOST_TEST(v.config->k8s_version == "1.32.1");
  BOOST_TEST(v.config->flatcar_version == "4081.2.0");
  BOOST_TEST(cluster::validate(good, {"1.32.1", "4081.2.0"}).config->k8s_version == "1.31.0");  // the file wins
}

BOOST_AUTO_TEST_CASE(mac_forms_normalise) {
  BOOST_TEST(*cluster::normalise_mac("AA-BB-CC-DD-EE-0F") == "aa:bb:cc:dd:ee:0f");
  BOOST_TEST(*cluster::normalise_mac("aabb.ccdd.ee0f") == "aa:bb:cc:dd:ee:0f");
  BOOST_TEST(!cluster::normalise_mac("aa:bb-cc:dd:ee:0f"));
  BOOST_TEST(!cluster::normalise_mac("aa:bb:cc:dd:ee"));
}

BOOST_AUTO_TEST_CASE(ipv4_is_strict) {
  BOOST_TEST(*cluster::parse_ipv4("10.0.0.1") == 0x0a000001u);
  BOOST_TEST(!cluster::parse_ipv4("010.0.0.1"));
  BOOST_TEST(!cluster::parse_ipv4("10.0.0"));
  BOOST_TEST(!cluster::parse_ipv4("10.0.0.1.2"));
  BOOST_TEST(!cluster::parse_ipv4("10.0.0.256"));
}

BOOST_AUTO_TEST_SUITE_END()
