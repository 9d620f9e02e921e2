#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/plugin/ipb/node_state.hpp"

using namespace nodeboot::plugin::ipb;
using nlohmann::json;

namespace {

constexpr std::string_view schedule = "nodeboot.io/ipb-schedule";

json node() {
  return json::parse(R"({
    "metadata": {"name": "n1",
      "labels": {"kubernetes.io/hostname": "n1", "team": "blue"},
      "annotations": {"nodeboot.io/state": "Applying", "nodeboot.io/progress": "60", "nodeboot.io/attempt": "2",
                      "nodeboot.io/reason": "", "nodeboot.io/message": "running firstboot"}},
    "spec": {"unschedulable": true, "taints": [
      {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
      {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
    "status": {"nodeInfo": {"bootID": "boot-1"}, "conditions": [{"type": "Ready", "status": "True"}]}
  })");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_node_state)

BOOST_AUTO_TEST_CASE(reads_progress_annotations_and_node_status) {
  auto p = read_progress(node(), schedule);
  BOOST_TEST(p.name == "n1");
  BOOST_TEST(p.state == "Applying");
  BOOST_TEST(p.progress == 60);
  BOOST_TEST(p.attempt == "2");
  BOOST_TEST(p.boot_id == "boot-1");
  BOOST_TEST(p.ready);
  BOOST_TEST(p.unschedulable);
  BOOST_TEST(!p.scheduled);
}

BOOST_AUTO_TEST_CASE(garbage_progress_reads_as_zero) {
  auto n = node();
  n["metadata"]["annotations"]["nodeboot.io/progress"] = "lots";
  BOOST_TEST(read_progress(n, schedule).progress == 0);
}

BOOST_AUTO_TEST_CASE(prior_state_leaves_out_the_cordon_taint_and_round_trips_through_a_configmap) {
  auto prior = record_prior_state(node(), "2026-01-01T00:00:00Z");
  BOOST_TEST(prior.unschedulable);
  BOOST_TEST(prior.taints.size() == 1u);
  BOOST_TEST(prior.boot_id == "boot-1");
  auto cm = prior_state_configmap("n1", prior);
  BOOST_TEST(cm["metadata"]["name"] == "nodeboot-n1");
  BOOST_TEST(cm["metadata"]["namespace"] == "nodeboot-system");
  BOOST_TEST(cm["metadata"]["labels"]["nodeboot.io/node"] == "n1");
  auto back = prior_state_of_configmap(cm);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(to_json(*back) == to_json(prior));
}

BOOST_AUTO_TEST_CASE(restore_puts_back_labels_taints_and_cordon_of_a_reregistered_node) {
  json before = node();
  before["spec"].erase("unschedulable");
  before["spec"]["taints"].erase(1);
  auto prior = record_prior_state(before, "t");
  // Re-registered after the reboot: no custom label or taint, a lifecycle taint, our label gone.
  json now = json::parse(R"({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1", "new": "x"}},
    "spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}})");
  now["metadata"]["labels"][std::string(schedule)] = "true";
  BOOST_TEST(restore(now, prior, schedule));
  BOOST_TEST(now["metadata"]["labels"]["team"] == "blue");
  BOOST_TEST(now["metadata"]["labels"]["new"] == "x");
  BOOST_TEST(!now["metadata"]["labels"].contains(std::string(schedule)));
  BOOST_TEST(now["spec"]["taints"].size() == 2u);
  BOOST_TEST(now["spec"]["taints"][0]["key"] == "dedicated");
  BOOST_TEST(!now["spec"].contains("unschedulable"));
  BOOST_TEST(!restore(now, prior, schedule));  // idempotent
}

BOOST_AUTO_TEST_CASE(restore_keeps_a_node_cordoned_that_was_cordoned_before) {
  auto prior = record_prior_state(node(), "t");
  json now = node();
  now["metadata"]["labels"]["team"] = "red";
  restore(now, prior, schedule);
  BOOST_TEST(now["spec"]["unschedulable"] == true);
  BOOST_TEST(now["metadata"]["labels"]["team"] == "blue");
}

BOOST_AUTO_TEST_CASE(completion_needs_ready_and_a_new_boot_id) {
  auto prior = record_prior_state(node(), "t");
  auto p = read_progress(node(), schedule);
  BOOST_TEST(!rebooted(p, prior));
  p.boot_id = "boot-2";
  BOOST_TEST(rebooted(p, prior));
  p.ready = false;
  BOOST_TEST(!rebooted(p, prior));
}

// The node's Secret reader: get of that one Secret, for that node's kubelet, named and
// labelled like the Secret.
BOOST_AUTO_TEST_CASE(the_secret_reader_grants_the_node_its_own_secret_only) {
  const json role = secret_reader_role("n1");
  BOOST_TEST(role == json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
      "metadata":{"name":"nodeboot-n1","namespace":"nodeboot-system","labels":{"nodeboot.io/node":"n1"}},
      "rules":[{"apiGroups":[""],"resources":["secrets"],"resourceNames":["nodeboot-n1"],"verbs":["get"]}]})"));
  const json binding = secret_reader_binding("n1");
  BOOST_TEST(binding == json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
      "metadata":{"name":"nodeboot-n1","namespace":"nodeboot-system","labels":{"nodeboot.io/node":"n1"}},
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"nodeboot-n1"},
      "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"system:node:n1"}]})"));

  // As stored (server fields added) it is the same grant; another rule or subject is not.
  json stored = role;
  stored["metadata"]["uid"] = "u";
  stored["metadata"]["resourceVersion"] = "7";
  BOOST_TEST(same_grant(stored, role));
  stored["rules"][0]["verbs"].push_back("list");
  BOOST_TEST(!same_grant(stored, role));
  json other = binding;
  other["subjects"][0]["name"] = "system:node:n2";
  BOOST_TEST(!same_grant(other, binding));
  BOOST_TEST(same_grant(binding, binding));
}

BOOST_AUTO_TEST_SUITE_END()
