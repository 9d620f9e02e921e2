// Where `nodeboot-agent bootstrap` finds the kubelet's kubeconfig when --host-kubeconfig is
// not given: the distributions' own paths, under the host's / (a temp dir here).
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "nodeboot/agent/node_reporter.hpp"
#include "nodeboot/test/support.hpp"

using nodeboot::agent::find_kubelet_kubeconfig;
using nodeboot::test::TempDir;

BOOST_AUTO_TEST_SUITE(kubelet_kubeconfig)

BOOST_AUTO_TEST_CASE(a_kubeadm_node_has_its_kubelet_conf_found) {
  TempDir host;
  host.write("etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n");
  const auto found = find_kubelet_kubeconfig(host.path());
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(*found == "/etc/kubernetes/kubelet.conf");  // a host path, not the mount's
}

BOOST_AUTO_TEST_CASE(openshifts_path_comes_first) {
  TempDir host;
  host.write("etc/kubernetes/kubelet.conf", "apiVersion: v1\n");
  host.write("var/lib/kubelet/kubeconfig", "apiVersion: v1\n");
  const auto found = find_kubelet_kubeconfig(host.path());
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(*found == "/var/lib/kubelet/kubeconfig");
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_a_kubeconfig) {
  TempDir host;
  std::filesystem::create_directories(host.path() / "var/lib/kubelet/kubeconfig");
  host.write("var/lib/rancher/rke2/agent/kubelet.kubeconfig", "apiVersion: v1\n");
  const auto found = find_kubelet_kubeconfig(host.path());
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(*found == "/var/lib/rancher/rke2/agent/kubelet.kubeconfig");
}

BOOST_AUTO_TEST_CASE(none_found_names_every_path_tried_and_the_flag) {
  TempDir host;
  const auto found = find_kubelet_kubeconfig(host.path());
  BOOST_REQUIRE(!found.has_value());
  const auto& m = found.error().message;
  for (const auto path : nodeboot::agent::kubelet_kubeconfig_paths) BOOST_TEST(m.find(path) != std::string::npos, m);
  BOOST_TEST(m.find("--host-kubeconfig") != std::string::npos, m);
  BOOST_TEST(m.find("--host-root") != std::string::npos, m);
}

BOOST_AUTO_TEST_SUITE_END()
