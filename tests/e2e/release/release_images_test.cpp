// The release's agent image (fixture integration/release_build) run as a container in a
// private dockerd (../../integration/release/release_support.hpp) the way its DaemonSet runs it:
// `bootstrap --dry-run` for a kwok node of the real control plane, the node's Secret made by
// `kubectl nodeboot start`, the Ignition endpoint a real HTTPS server with its own CA, and a
// host root mounted in. The container shares the host's network to reach the loopback API
// server and Ignition server.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "../../integration/release/release_support.hpp"
#include "../plugin/ipb_env.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/https_server.hpp"

using namespace nodeboot::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Every file under `root`, relative, to see that a dry run wrote nothing on the host.
std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) files.insert(fs::relative(e.path(), root).string());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(release_images)

BOOST_AUTO_TEST_CASE(agent_image_dry_runs_a_bootstrap_against_a_mounted_host_root) {
  Docker docker;
  if (!docker.up()) return;
  const auto image = docker.load("nodeboot-agent");

  const std::string token = "e2e-image-ignition-token-7c2e";
  HttpsServer ignition;
  ignition.server.Get("/ignition", [token](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer " + token) {
      res.status = 401;
      return;
    }
    res.set_content(R"({"ignition":{"version":"3.4.0"},"storage":{"files":[]}})", "application/json");
  });
  ignition.start();

  cluster().kubectl_ok({"apply", "-k", (source_dir() / "manifests/ipb").string()});
  const std::string node = unique_name("img-agent");
  auto nodes = run({(source_dir() / "tests/cluster/nodes.sh").string(), "--state-dir", cluster().state_dir.string(),
                    "--count", "1", "--prefix", node});
  BOOST_REQUIRE_MESSAGE(nodes.exit_code == 0, nodes.err);
  const std::string name = node + "-0";
  struct Cleanup {
    std::string node;
    ~Cleanup() {
      cluster().kubectl({"nodeboot", "abort", node, "--delete-secret"});
      cluster().kubectl({"delete", "node", node, "--wait=false"});
    }
  } cleanup{name};

  TempDir files;
  const auto token_file = files.write("ignition.token", token + "\n");
  cluster().kubectl_ok({"nodeboot", "start", name, "--os", "rhcos", "--ignition-url", ignition.url("/ignition"),
                        "--ignition-token-file", token_file.string(), "--ca-cert", test_pki().ca});
  TempDir host;
  host.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n");
  // What the DaemonSet's pod has: a pod-bound token, and the kubelet's identity in the host's /.
  const ipb::AgentIdentity id(files, host.path(), name);
  const auto& kubeconfig = id.kubeconfig;
  const auto before = files_under(host.path());

  auto r = docker({"run",
                   "--rm",
                   "--network",
                   "host",
                   "--env",
                   "NODE_NAME=" + name,
                   "--volume",
                   kubeconfig.string() + ":/etc/nodeboot/kubeconfig:ro",
                   "--volume",
                   host.path().string() + ":/host",
                   image,
                   "bootstrap",
                   "--kubeconfig",
                   "/etc/nodeboot/kubeconfig",
                   "--host-root",
                   "/host",
                   "--host-kubeconfig",
                   id.host_kubeconfig,
                   "--dry-run",
                   "--firstboot-command",
                   "true",
                   "--reboot-command",
                   "true",
                   "--attempts",
                   "1",
                   "--http-timeout",
                   "5s"},
                  std::chrono::minutes(3));
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST((r.out + r.err).find("dry run") != std::string::npos, r.out << r.err);

  // The agent in the image read its Secret, fetched the Ignition config over TLS with the
  // Secret's CA and token, and reported on its Node; the host root is as it was.
  const auto n = json::parse(cluster().kubectl_ok({"get", "node", name, "-o", "json"}));
  const auto annotations = n["metadata"].value("annotations", json::object());
  BOOST_TEST(annotations.contains(std::string(nodeboot::names::ann_state)), annotations.dump());
  BOOST_TEST(annotations.value(std::string(nodeboot::names::ann_state), "") != "Failed", annotations.dump());
  BOOST_TEST(files_under(host.path()) == before);
}

BOOST_AUTO_TEST_SUITE_END()
