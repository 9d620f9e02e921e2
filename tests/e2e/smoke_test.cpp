// Proves the e2e control plane is real: the API server stores and serves objects, the
// scheduler binds pods, scheduling gates hold pods back, kwok nodes are Ready, and
// kubectl dispatches to kubectl-nodeboot.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using nlohmann::json;

namespace {

json get_json(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.insert(a.end(), {"-o", "json"});
  return json::parse(cluster().kubectl_ok(a));
}

std::string pod_manifest(const std::string& name, const json& extra_spec) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "registry.k8s.io/pause:3.10"}}})}}}};
  pod["spec"].update(extra_spec);
  return pod.dump();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smoke)

BOOST_AUTO_TEST_CASE(kwok_nodes_are_ready) {
  auto nodes = get_json({"get", "nodes", "-l", "type=kwok"});
  BOOST_REQUIRE_GE(nodes["items"].size(), 3u);
  for (const auto& node : nodes["items"]) {
    bool ready = false;
    for (const auto& c : node["status"]["conditions"])
      if (c["type"] == "Ready") ready = c["status"] == "True";
    BOOST_TEST(ready, node["metadata"]["name"].get<std::string>() << " is not Ready");
  }
}

BOOST_AUTO_TEST_CASE(scheduler_binds_a_pod_to_the_selected_node) {
  const std::string name = unique_name("smoke-pinned");
  cluster().kubectl_ok({"apply", "-f", "-"},
                       pod_manifest(name, {{"nodeSelector", {{"kubernetes.io/hostname", "kwok-node-2"}}}}));
  std::string node;
  BOOST_TEST(eventually([&] {
    node = get_json({"get", "pod", name})["spec"].value("nodeName", "");
    return !node.empty();
  }));
  BOOST_TEST(node == "kwok-node-2");
  // kwok plays the kubelet: the bound pod turns Running.
  BOOST_TEST(eventually([&] { return get_json({"get", "pod", name})["status"].value("phase", "") == "Running"; }));
  cluster().kubectl_ok({"delete", "pod", name, "--grace-period=0", "--force", "--wait=false"});
}

BOOST_AUTO_TEST_CASE(scheduling_gate_holds_the_pod_until_removed) {
  const std::string name = unique_name("smoke-gated");
  cluster().kubectl_ok({"apply", "-f", "-"},
                       pod_manifest(name, {{"schedulingGates", json::array({{{"name", "example.com/hold"}}})}}));
  auto scheduled_reason = [&] {
    for (const auto& c : get_json({"get", "pod", name})["status"].value("conditions", json::array()))
      if (c["type"] == "PodScheduled") return c.value("reason", std::string("True"));
    return std::string();
  };
  BOOST_TEST(eventually([&] { return scheduled_reason() == "SchedulingGated"; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the scheduler had time to (wrongly) bind it
  BOOST_TEST(get_json({"get", "pod", name})["spec"].value("nodeName", "").empty());
  BOOST_TEST(scheduled_reason() == "SchedulingGated");

  cluster().kubectl_ok(
      {"patch", "pod", name, "--type=json", "-p", R"([{"op":"remove","path":"/spec/schedulingGates"}])"});
  BOOST_TEST(eventually([&] { return !get_json({"get", "pod", name})["spec"].value("nodeName", "").empty(); }));
  cluster().kubectl_ok({"delete", "pod", name, "--grace-period=0", "--force", "--wait=false"});
}

BOOST_AUTO_TEST_CASE(kubectl_dispatches_to_the_plugin_which_reads_the_server_version) {
  const std::string expected = get_json({"version"})["serverVersion"]["gitVersion"];
  auto r = cluster().kubectl({"nodeboot", "version", "-o", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto doc = json::parse(r.out);
  BOOST_TEST(doc["serverVersion"]["gitVersion"].get<std::string>() == expected);
  BOOST_TEST(doc["clientVersion"]["gitVersion"].get<std::string>().starts_with("0."));

  // kubectl passes its own --kubeconfig through to the plugin; a wrong one must fail loudly.
  auto bad = cluster().kubectl({"nodeboot", "version", "--kubeconfig", "/nonexistent"});
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err.find("/nonexistent") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
