// One schedule label (issue 17): the shipped manifests name the same label in every place
// the cluster side configures it (the DaemonSet's nodeSelector, the agent's
// --schedule-label, the agent's ValidatingAdmissionPolicy, the node webhook's matchCondition)
// and it is DESIGN.md's, the plugin's default; components/ibm-schedule-label switches the
// policy's variable too. The component is checked rendered, in e2e/ipb_workflow.
#include <yaml-cpp/yaml.h>

#include <boost/test/unit_test.hpp>

#include "nodeboot/names.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::test;

BOOST_AUTO_TEST_SUITE(ipb_schedule_label)

BOOST_AUTO_TEST_CASE(daemonset_agent_and_node_webhook_name_the_same_label) {
  const std::string label(names::schedule_label);
  const auto ds = YAML::LoadFile((source_dir() / "manifests/ipb/daemonset.yaml").string());
  const auto pod = ds["spec"]["template"]["spec"];
  BOOST_REQUIRE(pod["nodeSelector"].size() == 1u);
  BOOST_TEST(pod["nodeSelector"][label].as<std::string>() == "true");
  const auto agent = pod["containers"][0];
  BOOST_TEST(agent["name"].as<std::string>() == "agent");
  // The component replaces this list: only the label belongs in it.
  BOOST_REQUIRE(agent["args"].size() == 1u);
  BOOST_TEST(agent["args"][0].as<std::string>() == "--schedule-label=" + label);

  bool found = false;
  for (const auto& doc : YAML::LoadAllFromFile((source_dir() / "manifests/webhook/base/webhooks.yaml").string())) {
    if (doc["kind"].as<std::string>() != "ValidatingWebhookConfiguration") continue;
    // components/ibm-schedule-label patches /webhooks/3/matchConditions/0 (and tests it first).
    const auto nodes = doc["webhooks"][3];
    BOOST_TEST(nodes["name"].as<std::string>() == "validate.nodes.nodeboot.io");
    BOOST_TEST(nodes["matchConditions"][0]["name"].as<std::string>() == "schedule-label-added");
    const auto cel = nodes["matchConditions"][0]["expression"].as<std::string>();
    BOOST_TEST(cel.find("'" + label + "' in object.metadata.labels") != std::string::npos, cel);
    BOOST_TEST(cel.find("'" + label + "' in oldObject.metadata.labels") != std::string::npos, cel);
    found = true;
  }
  BOOST_TEST(found);

  // manifests/ipb/policy.yaml: the one label the agent may remove is variables[0].
  const auto policy = YAML::LoadAllFromFile((source_dir() / "manifests/ipb/policy.yaml").string())[0];
  BOOST_REQUIRE(policy["kind"].as<std::string>() == "ValidatingAdmissionPolicy");
  const auto var = policy["spec"]["variables"][0];
  BOOST_TEST(var["name"].as<std::string>() == "scheduleLabel");
  BOOST_TEST(var["expression"].as<std::string>() == "'" + label + "'");
}

BOOST_AUTO_TEST_CASE(the_ibm_component_switches_the_agent_policy_too) {
  const auto dir = source_dir() / "manifests/ipb/components/ibm-schedule-label";
  const auto component = YAML::LoadFile((dir / "kustomization.yaml").string());
  std::string path;
  for (const auto& p : component["patches"])
    if (p["target"]["kind"].as<std::string>() == "ValidatingAdmissionPolicy") {
      BOOST_TEST(p["target"]["name"].as<std::string>() == "nodeboot-ipb-agent-nodes");
      path = p["path"].as<std::string>();
    }
  BOOST_REQUIRE_MESSAGE(!path.empty(), "the component does not patch the agent's policy");
  const auto ops = YAML::LoadFile((dir / path).string());
  BOOST_REQUIRE(ops.size() == 2u);
  BOOST_TEST(ops[0]["op"].as<std::string>() == "test");  // a reordered policy fails the build
  BOOST_TEST(ops[0]["path"].as<std::string>() == "/spec/variables/0/name");
  BOOST_TEST(ops[0]["value"].as<std::string>() == "scheduleLabel");
  BOOST_TEST(ops[1]["path"].as<std::string>() == "/spec/variables/0/expression");
  BOOST_TEST(ops[1]["value"].as<std::string>() == "'ibm-cloud.kubernetes.io/ipb-schedule'");
}

BOOST_AUTO_TEST_SUITE_END()
