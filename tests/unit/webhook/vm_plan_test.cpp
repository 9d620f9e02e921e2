// The VM controller's decision about one marooned id, as a pure function of its caches
// (plan_vm): the live pod, its VM record, its VirtualMachineInstance and the nodes claiming
// the id; and the record's round trip. The API side is in e2e/marooned_vm.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/webhook/controller/vm.hpp"

using nlohmann::json;
using namespace nodeboot;
using webhook::controller::plan_vm;
using webhook::controller::VmAction;
using webhook::controller::VmInputs;
using webhook::controller::VmSettings;

namespace {

const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string vouched_label(names::maroon_vouched_label);
const auto t0 = parse_rfc3339("2026-12-04T10:00:00Z").value();

json pod(const std::string& uid = "pod-uid-1", bool gated = true, const std::string& phase = "Pending") {
  json p = {{"metadata",
             {{"namespace", "tenant"},
              {"name", "p1"},
              {"uid", uid},
              {"annotations", {{std::string(names::maroon_pod_uid), id}}}}},
            {"spec", json::object()},
            {"status", {{"phase", phase}}}};
  if (gated) p["spec"]["schedulingGates"] = json::array({{{"name", std::string(names::maroon_gate)}}});
  return p;
}

json with_condition(json p, const std::string& status, const std::string& reason, const std::string& message) {
  p["status"]["conditions"] = json::array({{{"type", std::string(names::maroon_vm_condition)},
                                            {"status", status},
                                            {"reason", reason},
                                            {"message", message}}});
  return p;
}

json record(int attempt = 1, bool failed = false, const std::string& owner = "pod-uid-1") {
  marooned::VmRecord r;
  r.id = id;
  r.userdata = Secret("#cloud-config\n");
  r.token = {"abcdef", Secret("0123456789abcdef")};
  r.attempt = attempt;
  r.token_ids = {"abcdef"};
  r.failed_to_place = failed;
  json p = pod(owner);
  auto s = marooned::vm_record(r, p);
  s["metadata"]["uid"] = "record-uid";
  return s;
}

json vmi(int attempt = 1, const std::string& phase = "", const std::string& created = "2026-12-04T10:00:00Z") {
  json v = {{"metadata",
             {{"name", marooned::vmi_name(id)},
              {"namespace", std::string(names::marooned_namespace)},
              {"uid", "vmi-uid"},
              {"creationTimestamp", created},
              {"labels", {{std::string(names::maroon_pod_uid), id}}},
              {"annotations", {{std::string(names::maroon_vm_attempt), std::to_string(attempt)}}}}}};
  if (!phase.empty()) v["status"]["phase"] = phase;
  return v;
}

json node(const std::string& name, const std::string& owner = "pod-uid-1") {
  json n = {{"metadata", {{"name", name}, {"labels", {{std::string(names::maroon_pod_uid), id}}}}}};
  if (!owner.empty()) {
    n["metadata"]["labels"][vouched_label] = id;
    n["metadata"]["annotations"][std::string(names::maroon_owner_pod_uid)] = owner;
  }
  return n;
}

VmInputs inputs(std::optional<json> p = pod(), std::optional<json> rec = std::nullopt,
                std::optional<json> vm = std::nullopt, std::vector<json> nodes = {},
                std::chrono::seconds since_t0 = std::chrono::seconds(30)) {
  VmInputs in;
  in.id = id;
  in.pod = std::move(p);
  in.record = std::move(rec);
  in.vmi = std::move(vm);
  in.nodes = std::move(nodes);
  in.now = t0 + since_t0;
  in.leading = true;
  return in;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vm_plan)

BOOST_AUTO_TEST_CASE(a_gated_pod_gets_a_record_then_a_vm) {
  auto plan = plan_vm(inputs());
  BOOST_TEST((plan.action == VmAction::create_record));
  BOOST_TEST(plan.attempt == 1);
  plan = plan_vm(inputs(pod(), record()));
  BOOST_TEST((plan.action == VmAction::create_vm));
  BOOST_TEST(plan.attempt == 1);
}

BOOST_AUTO_TEST_CASE(a_follower_plans_no_write) {
  for (auto in : {inputs(), inputs(pod(), record()), inputs(std::nullopt, record(), vmi())}) {
    in.leading = false;
    BOOST_TEST((plan_vm(in).action == VmAction::nothing));
  }
  auto in = inputs(pod(), record(), vmi(1, "Failed"));
  in.leading = false;
  BOOST_TEST((plan_vm(in).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(a_released_pod_without_a_record_gets_no_vm) {
  // Released before the controller ran (its VM made by hand): nothing to create.
  BOOST_TEST((plan_vm(inputs(pod("pod-uid-1", false, "Running"))).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(two_live_pods_claiming_the_id_get_nothing) {
  auto in = inputs();
  in.conflict = true;
  BOOST_TEST((plan_vm(in).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(a_record_made_for_another_pod_is_left_alone) {
  BOOST_TEST((plan_vm(inputs(pod(), record(1, false, "someone-else"))).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(a_vm_waiting_for_its_node_says_so_until_the_deadline) {
  auto plan = plan_vm(inputs(pod(), record(), vmi()));
  BOOST_TEST((plan.action == VmAction::wait));
  BOOST_TEST((plan.recheck_at == t0 + std::chrono::minutes(10)));
  BOOST_TEST_REQUIRE(plan.condition.has_value());
  BOOST_TEST(plan.condition->reason == "VMCreated");
  BOOST_TEST(plan.condition->status == "False");
  BOOST_TEST(plan.condition->message.find("attempt 1 of 3") != std::string::npos, plan.condition->message);
  BOOST_TEST(plan.condition->message.find("2026-12-04T10:10:00Z") != std::string::npos, plan.condition->message);
  // Running: another step; and a condition already set is not written again.
  plan = plan_vm(inputs(pod(), record(), vmi(1, "Running")));
  BOOST_TEST_REQUIRE(plan.condition.has_value());
  BOOST_TEST(plan.condition->reason == "VMRunning");
  const auto again = plan_vm(
      inputs(with_condition(pod(), "False", "VMRunning", plan.condition->message), record(), vmi(1, "Running")));
  BOOST_TEST((again.action == VmAction::wait));
  BOOST_TEST(!again.condition.has_value());
}

BOOST_AUTO_TEST_CASE(a_joined_node_is_reported_once_and_stops_the_clock) {
  auto plan = plan_vm(inputs(pod(), record(), vmi(1, "Running"), {node("n1")}, std::chrono::hours(1)));
  BOOST_TEST((plan.action == VmAction::nothing));
  BOOST_TEST_REQUIRE(plan.condition.has_value());
  BOOST_TEST(plan.condition->status == "True");
  BOOST_TEST(plan.condition->reason == "NodeJoined");
  // A node claiming the id but vouched for another pod is not this pod's node.
  plan = plan_vm(inputs(pod(), record(), vmi(1, "Running"), {node("n2", "other-pod")}));
  BOOST_TEST((plan.action == VmAction::wait));
}

BOOST_AUTO_TEST_CASE(a_failed_vm_is_replaced_with_the_next_attempt_and_its_node_deleted) {
  const auto plan = plan_vm(inputs(pod(), record(1), vmi(1, "Failed"), {node("n1"), node("n2", "")}));
  BOOST_TEST((plan.action == VmAction::recreate));
  BOOST_TEST(plan.attempt == 2);
  BOOST_TEST(plan.delete_nodes == std::vector<std::string>{"n1"});
  BOOST_TEST_REQUIRE(plan.condition.has_value());
  BOOST_TEST(plan.condition->reason == "VMFailed");
  BOOST_TEST(plan.condition->warning);
  BOOST_TEST(plan.condition->message.find("attempt 2 of 3") != std::string::npos, plan.condition->message);
}

BOOST_AUTO_TEST_CASE(a_node_that_misses_the_deadline_gets_its_vm_replaced) {
  auto plan = plan_vm(inputs(pod(), record(2), vmi(2, "Running"), {}, std::chrono::minutes(10)));
  BOOST_TEST((plan.action == VmAction::recreate));
  BOOST_TEST(plan.attempt == 3);
  BOOST_TEST(plan.condition->reason == "NodeJoinTimeout");
  // The deadline comes from MaroonedPodsConfig.
  auto in = inputs(pod(), record(), vmi(1, "Running"), {}, std::chrono::seconds(6));
  in.settings.join_deadline = std::chrono::seconds(5);
  BOOST_TEST((plan_vm(in).action == VmAction::recreate));
}

BOOST_AUTO_TEST_CASE(the_last_attempt_gives_up_and_the_pod_stays_failed_to_place) {
  auto plan = plan_vm(inputs(pod(), record(3), vmi(3, "Failed"), {node("n1")}));
  BOOST_TEST((plan.action == VmAction::give_up));
  BOOST_TEST(plan.delete_nodes == std::vector<std::string>{"n1"});
  BOOST_TEST(plan.condition->reason == "FailedToPlace");
  BOOST_TEST(plan.condition->warning);
  // Given up: nothing more is created; an interrupted give-up is finished.
  plan = plan_vm(inputs(pod(), record(3, true)));
  BOOST_TEST((plan.action == VmAction::nothing));
  BOOST_TEST(plan.condition->reason == "FailedToPlace");
  BOOST_TEST((plan_vm(inputs(pod(), record(3, true), vmi(3, "Failed"))).action == VmAction::give_up));
}

BOOST_AUTO_TEST_CASE(a_pod_given_up_on_keeps_the_reason_it_was_given_once) {
  // The last attempt said what stopped its VM; the record's FailedToPlace must not rewrite
  // it (a second write and a second Warning), only fill it in for a pod that lacks it.
  const auto said = plan_vm(inputs(pod(), record(3), vmi(3, "Failed"))).condition.value();
  const auto after = plan_vm(inputs(with_condition(pod(), "False", said.reason, said.message), record(3, true)));
  BOOST_TEST(!after.condition.has_value());
  BOOST_TEST(plan_vm(inputs(pod(), record(3, true))).condition.has_value());
}

BOOST_AUTO_TEST_CASE(a_replacement_interrupted_by_a_leader_change_counts_once) {
  // The record says attempt 2, the VM is still attempt 1's: delete it, do not count again.
  const auto plan = plan_vm(inputs(pod(), record(2), vmi(1, "Failed")));
  BOOST_TEST((plan.action == VmAction::recreate));
  BOOST_TEST(plan.attempt == 2);
}

BOOST_AUTO_TEST_CASE(a_vm_being_deleted_is_waited_for) {
  auto v = vmi(1, "Failed");
  v["metadata"]["deletionTimestamp"] = "2026-12-04T10:01:00Z";
  BOOST_TEST((plan_vm(inputs(pod(), record(2), v)).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(a_vm_that_stops_under_a_running_pod_is_reported_not_replaced) {
  const auto plan = plan_vm(inputs(pod("pod-uid-1", false, "Running"), record(), vmi(1, "Failed"), {node("n1")}));
  BOOST_TEST((plan.action == VmAction::nothing));
  BOOST_TEST_REQUIRE(plan.condition.has_value());
  BOOST_TEST(plan.condition->reason == "VMFailed");
}

BOOST_AUTO_TEST_CASE(a_deleted_or_finished_pod_has_everything_cleaned_up) {
  auto plan = plan_vm(inputs(std::nullopt, record(), vmi(1, "Running"), {node("n1"), node("n2", "")}));
  BOOST_TEST((plan.action == VmAction::clean_up));
  BOOST_TEST(plan.delete_nodes == std::vector<std::string>{"n1"});
  plan = plan_vm(inputs(pod("pod-uid-1", false, "Succeeded"), record(), vmi(1, "Running"), {node("n1")}));
  BOOST_TEST((plan.action == VmAction::clean_up));
  BOOST_TEST(plan.delete_nodes == std::vector<std::string>{"n1"});
  // Only the node vouched for the record's owner.
  plan = plan_vm(inputs(std::nullopt, record(), std::nullopt, {node("n3", "another-pod")}));
  BOOST_TEST(plan.delete_nodes.empty());
  // Nothing left: nothing to do.
  BOOST_TEST((plan_vm(inputs(std::nullopt)).action == VmAction::nothing));
}

BOOST_AUTO_TEST_CASE(an_unreadable_record_is_reported_not_acted_on) {
  auto r = record();
  r["metadata"]["annotations"][std::string(names::maroon_vm_attempt)] = "two";
  const auto plan = plan_vm(inputs(pod(), r));
  BOOST_TEST((plan.action == VmAction::nothing));
  BOOST_TEST(plan.why.find(std::string(names::maroon_vm_attempt)) != std::string::npos, plan.why);
}

BOOST_AUTO_TEST_CASE(settings_come_from_the_config_with_defaults) {
  auto s = webhook::controller::vm_settings(json::object());
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->join_deadline.count() == 600);
  BOOST_TEST(s->max_attempts == 3);
  s = webhook::controller::vm_settings({{"joinDeadline", "1m30s"}, {"maxVMAttempts", 5}});
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->join_deadline.count() == 90);
  BOOST_TEST(s->max_attempts == 5);
  for (const auto& bad : {json{{"joinDeadline", "soon"}}, json{{"joinDeadline", 10}}, json{{"maxVMAttempts", 0}},
                          json{{"maxVMAttempts", "3"}}}) {
    const auto r = webhook::controller::vm_settings(bad);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message.find("spec.") != std::string::npos, r.error().message);
  }
}

BOOST_AUTO_TEST_CASE(the_record_round_trips) {
  const auto back = marooned::read_vm_record(record(2)).value();
  BOOST_TEST(back.id == id);
  BOOST_TEST(back.attempt == 2);
  BOOST_TEST((back.token.token() == Secret("abcdef.0123456789abcdef")));
  BOOST_TEST(back.token_ids == std::vector<std::string>{"abcdef"});
  BOOST_TEST((back.userdata == Secret("#cloud-config\n")));
  BOOST_TEST(!back.failed_to_place);
  BOOST_TEST(marooned::read_vm_record(record(3, true)).value().failed_to_place);
  auto unlabelled = record();
  unlabelled["metadata"].erase("labels");
  BOOST_TEST(!marooned::read_vm_record(unlabelled).has_value());
  // The VM is owned by the record as stored.
  const auto owned = marooned::owned_by_record(vmi(), record());
  BOOST_TEST(owned["metadata"]["ownerReferences"][0]["uid"] == "record-uid");
  BOOST_TEST(owned["metadata"]["ownerReferences"][0]["kind"] == "Secret");
}

BOOST_AUTO_TEST_SUITE_END()
