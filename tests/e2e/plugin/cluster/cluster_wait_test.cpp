// `cluster wait` against the real control plane: kwok nodes join after the wait has
// started (tests/cluster/nodes.sh), and it returns only once the last one is Ready, leaving
// a kubeconfig kubectl can use on its own. `cluster init` runs the whole flow with the
// real Matchbox (from NODEBOOT_CLUSTER_TOOLS) on loopback; dnsmasq is left out here because
// it would bind ports 67 and 69 beside the integration layer's serve test.
#include <cstdlib>
#include <future>
#include <string>

#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
namespace fs = std::filesystem;

namespace {

void add_nodes(const std::string& prefix, int start, int count) {
  auto r = run({(source_dir() / "tests/cluster/nodes.sh").string(), "--state-dir", cluster().state_dir.string(),
                "--prefix", prefix, "--start", std::to_string(start), "--count", std::to_string(count)});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

// The wait's nodes only: other e2e tests share the cluster. nodes.sh labels each node
// kubernetes.io/hostname=<name>.
std::string selector(const std::string& prefix, int count) {
  std::string s = "kubernetes.io/hostname in (";
  for (int i = 0; i < count; ++i) s += (i ? "," : "") + prefix + "-" + std::to_string(i);
  return s + ")";
}

struct DeleteNodes {
  std::string prefix;
  int count;
  ~DeleteNodes() {
    std::vector<std::string> args{"delete", "node", "--ignore-not-found", "--wait=false"};
    for (int i = 0; i < count; ++i) args.push_back(prefix + "-" + std::to_string(i));
    cluster().kubectl(args);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_wait)

BOOST_AUTO_TEST_CASE(returns_when_the_last_late_node_is_ready_and_saves_a_usable_kubeconfig) {
  const std::string prefix = unique_name("cw");
  DeleteNodes cleanup{prefix, 3};
  TempDir out;
  auto waiting = std::async(std::launch::async, [&] {
    return cluster().kubectl({"nodeboot", "cluster", "wait", "--nodes", "3", "--selector", selector(prefix, 3),
                              "--timeout", "300s", "-o", out.path().string()});
  });
  add_nodes(prefix, 0, 2);
  // Two of three are Ready: the wait must still be watching.
  BOOST_TEST((waiting.wait_for(std::chrono::seconds(2)) == std::future_status::timeout));
  BOOST_TEST(!fs::exists(out.path() / "kubeconfig"));
  add_nodes(prefix, 2, 1);
  auto r = waiting.get();
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("API server is up") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("node " + prefix + "-2 Ready (3/3)") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("kubeconfig saved to " + (out.path() / "kubeconfig").string()) != std::string::npos, r.out);

  // The saved kubeconfig stands alone: certificates inline, owner-only.
  auto kubeconfig = out.path() / "kubeconfig";
  BOOST_TEST(
      ((fs::status(kubeconfig).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write)));
  nodeboot::ProcessOptions no_env;
  no_env.env_unset = {"KUBECONFIG"};
  auto get = run({"kubectl", "--kubeconfig", kubeconfig.string(), "get", "node", prefix + "-2", "-o", "name"}, no_env);
  BOOST_TEST(get.exit_code == 0, get.err);
  BOOST_TEST(get.out == "node/" + prefix + "-2\n");
}

BOOST_AUTO_TEST_CASE(times_out_naming_how_many_are_ready) {
  TempDir out;
  auto r = cluster().kubectl({"nodeboot", "cluster", "wait", "--nodes", "1", "--selector", "nodeboot.io/no-such-node=x",
                              "--timeout", "3s", "-o", out.path().string()});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("timed out after 3s: 0 of 1 nodes Ready") != std::string::npos, r.err);
  BOOST_TEST(!fs::exists(out.path() / "kubeconfig"));
}

BOOST_AUTO_TEST_CASE(init_serves_prompts_waits_saves_the_kubeconfig_and_tears_down) {
  const char* tools = std::getenv("NODEBOOT_CLUSTER_TOOLS");
  BOOST_REQUIRE_MESSAGE(tools, "NODEBOOT_CLUSTER_TOOLS is not set (run through ctest)");
  const std::string prefix = unique_name("ci");
  DeleteNodes cleanup{prefix, 2};
  TempDir tmp;
  auto yaml = tmp.write("cluster.yaml", read_file(source_dir() / "tests/support/data/cluster.yaml"));
  const auto out = tmp.path() / "out";
  const std::string matchbox = "127.0.0.1:" + std::to_string(free_loopback_port());
  const std::string upload = "127.0.0.1:" + std::to_string(free_loopback_port());
  // Without KUBECONFIG: init must get the cluster's kubeconfig from the upload alone.
  nodeboot::ProcessOptions no_env;
  no_env.env_unset = {"KUBECONFIG"};
  auto init = std::async(std::launch::async, [&] {
    return run({(bin_dir() / "kubectl-nodeboot").string(),
                "cluster",
                "init",
                "-f",
                yaml.string(),
                "-o",
                out.string(),
                "--no-dnsmasq",
                "--matchbox",
                (fs::path(tools) / "matchbox").string(),
                "--matchbox-address",
                matchbox,
                "--upload-address",
                upload,
                "--yes",
                "--nodes",
                "2",
                "--selector",
                selector(prefix, 2),
                "--timeout",
                "300s"},
               no_env);
  });
  // While init waits, Matchbox serves the first controller's PXE script.
  BOOST_TEST(eventually([&] {
    return run({"curl", "-sf", "http://" + matchbox + "/ipxe?mac=52-54-00-00-00-01"})
               .out.find("flatcar.first_boot=yes") != std::string::npos;
  }));
  // The first controller's upload, played by curl with what its Ignition carries (the CA,
  // the token in a header file); admin.conf is the e2e cluster's, flattened.
  auto admin = cluster().kubectl({"config", "view", "--raw", "--minify", "--flatten"});
  BOOST_REQUIRE(admin.exit_code == 0);
  const auto admin_conf = tmp.write("admin.conf", admin.out);
  const auto token = read_file(out / "upload" / "token").substr(0, 64);
  const auto auth = tmp.write("upload-auth", "Authorization: Bearer " + token + "\n");
  auto sent =
      run({"curl", "-sS", "--fail-with-body", "--cacert", (out / "upload" / "ca.crt").string(), "-H",
           "@" + auth.string(), "--data-binary", "@" + admin_conf.string(), "https://" + upload + "/v1/kubeconfig"});
  BOOST_TEST_REQUIRE(sent.exit_code == 0, sent.out << sent.err);
  add_nodes(prefix, 0, 2);
  auto r = init.get();
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("Power on your nodes now") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("waiting for " + (out / "admin.conf").string()) != std::string::npos, r.out);
  BOOST_TEST(r.out.find("matchbox stopped") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("upload stopped") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("upload token revoked") != std::string::npos, r.out);
  BOOST_TEST(fs::exists(out / "kubeconfig"));
  BOOST_TEST(((fs::status(out / "kubeconfig").permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  BOOST_TEST(!fs::exists(out / "admin.conf"));
  BOOST_TEST(!fs::exists(out / "upload" / "token"));
  BOOST_TEST(!fs::exists(out / "run" / "matchbox.pid"));
  BOOST_TEST(!fs::exists(out / "run" / "upload.pid"));
  auto nodes = run(
      {"kubectl", "--kubeconfig", (out / "kubeconfig").string(), "get", "node", prefix + "-1", "-o", "name"}, no_env);
  BOOST_TEST(nodes.out == "node/" + prefix + "-1\n", nodes.err);
  BOOST_TEST(r.out.find(token) == std::string::npos);
  BOOST_TEST(r.err.find(token) == std::string::npos);
  BOOST_TEST(run({"curl", "-sf", "http://" + matchbox + "/"}).exit_code != 0);  // torn down
  const auto kubeadm_token = read_file(out / "kubeadm-token");
  BOOST_TEST(r.out.find(kubeadm_token.substr(0, 23)) == std::string::npos);  // never on the terminal
}

BOOST_AUTO_TEST_SUITE_END()
