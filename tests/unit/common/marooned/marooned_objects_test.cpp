#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::marooned;
using nlohmann::json;

namespace {
const std::string id = "0b7c1e3a-1111-4222-8333-444455556666";
json node(bool ready, bool cordoned, const std::string& taint_value) {
  return {{"metadata", {{"name", "n"}, {"labels", {{"maroonedpods.io/pod-uid", id}}}}},
          {"spec", {{"unschedulable", cordoned},
                    {"taints", {{{"key", "maroonedpods.io/dedicated"}, {"value", taint_value}, {"effect", "NoSchedule"}}}}}},
          {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_objects)

BOOST_AUTO_TEST_CASE(node_is_eligible_only_when_ready_schedulable_and_tainted_for_the_pod) {
  BOOST_TEST(!node_not_eligible(node(true, false, id), id, "maroonedpods.io"));
  BOOST_TEST(*node_not_eligible(node(false, false, id), id, "maroonedpods.io") == "it is not Ready");
  BOOST_TEST(*node_not_eligible(node(true, true, id), id, "maroonedpods.io") == "it is cordoned");
  BOOST_TEST(node_not_eligible(node(true, false, "other"), id, "maroonedpods.io")->find("lacks the taint") != std::string::npos);
  BOOST_TEST(node_not_eligible(node(true, false, id), id, "example.com")->find("lacks the taint example.com/dedicated") != std::string::npos);
  BOOST_TEST(node_not_eligible(node(true, false, id), "other-id", "maroonedpods.io")->find("not labelled") != std::string::npos);
  // Ready, but the node lifecycle controller has not lifted its not-ready taint yet: the
  // scheduler would refuse the pod.
  json lagging = node(true, false, id);
  lagging["spec"]["taints"].push_back({{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
  BOOST_TEST(*node_not_eligible(lagging, id, "maroonedpods.io") == "it still carries the taint node.kubernetes.io/not-ready:NoSchedule");
  // NoExecute taints are not the scheduler's business here (the pod tolerates not-ready
  // and unreachable NoExecute by default).
  json no_execute = node(true, false, id);
  no_execute["spec"]["taints"].push_back({{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}});
  BOOST_TEST(!node_not_eligible(no_execute, id, "maroonedpods.io"));
}

BOOST_AUTO_TEST_CASE(gate_patch_removes_only_our_gate_and_fails_if_the_gates_changed) {
  nodeboot::test::TempDir dir;
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "p"}, {"namespace", "default"}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}},
                        {"schedulingGates", {{{"name", "a.io/x"}}, {{"name", "maroonedpods.io/gate"}}}}}}};
  const auto patch = gate_removal_patch(pod);
  BOOST_TEST_REQUIRE(patch.has_value());
  const auto file = dir.write("pod.json", pod.dump());
  // kubectl applies JSON patches offline with the API server's own library.
  auto r = nodeboot::test::run({"kubectl", "patch", "--local", "--type=json", "-f", file.string(), "-p", patch->dump(), "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(json::parse(r.out)["spec"]["schedulingGates"] == json::parse(R"([{"name":"a.io/x"}])"));

  json changed = pod;
  changed["spec"]["schedulingGates"].push_back({{"name", "b.io/y"}});
  const auto stale = dir.write("changed.json", changed.dump());
  auto s = nodeboot::test::run({"kubectl", "patch", "--local", "--type=json", "-f", stale.string(), "-p", patch->dump(), "-o", "json"});
  BOOST_TEST(s.exit_code != 0);
  BOOST_TEST(!gate_removal_patch(json::parse(r.out)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
