// The VM controller's decision about one marooned id, as a pure function of its cached pod,
// record, VMI and nodes (plan_vm). The API side (informers, Lease, the writes) is in
// e2e/marooned_vm.
#include <chrono>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/webhook/controller/vm.hpp"

using nlohmann::json;
using namespace nodeboot;
using webhook::controller::plan_vm;
using webhook::controller::VmAction;
using webhook::controller::VmInputs;

namespace {

const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
const auto now = std::chrono::system_clock::from_time_t(1800000000);  // 2027-01-15T08:00:00Z

json pod(bool gated = true) {
  json p = {{"metadata",
             {{"namespace", "default"},
              {"name", "p1"},
              {"uid", "pod-uid-1"},
              {"annotations", {{std::string(names::maroon_pod_uid), id}}}}},
            {"spec", {{"nodeSelector", {{std::string(names::maroon_pod_uid), id}}}}},
            {"status", {{"phase", "Pending"}}}};
  if (gated) p["spec"]["schedulingGates"] = json::array({{{"name", std::string(names::maroon_gate)}}});
  return p;
}

json record(int attempt, bool failed_to_place = false) {
  marooned::VmRecord r;
  r.id = id;
  r.userdata = Secret("#cloud-config\n");
  r.token = {"abcdef", Secret("0123456789abcdef")};
  r.attempt = attempt;
  r.token_ids = {"abcdef"};
  r.failed_to_place = failed_to_place;
  auto secret = marooned::vm_record(r, pod());
  secret["metadata"]["uid"] = "record-uid";
  return secret;
}

json vmi(int attempt, const std::string& phase = "", const std::string& created = "2027-01-15T07:59:00Z") {
  json v = {{"metadata",
             {{"name", "marooned-" + id},
              {"creationTimestamp", created},
              {"annotations", {{std::string(names::maroon_vm_attempt), std::to_string(attempt)}}}}}};
  // As created: no status until KubeVirt reports one.
  if (!phase.empty()) v["status"]["phase"] = phase;
  return v;
}

VmInputs inputs(std::optional<json> p, std::optional<json> r, std::optional<json> v) {
  VmInputs in;
  in.id = id;
  in.pod = std::move(p);
  in.record = std::move(r);
  in.vmi = std::move(v);
  in.now = now;
  in.leading = true;
  return in;
}

json with_condition(json p, const std::string& reason, const std::string& message) {
  p["status"]["conditions"] = json::array({{{"type", std::string(names::maroon_vm_condition)},
                                            {"status", "False"},
                                            {"reason", reason},
                                            {"message", message}}});
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vm_plan)

BOOST_AUTO_TEST_CASE(a_gated_pod_gets_a_record_then_a_vm_from_the_leader_only) {
  BOOST_TEST((plan_vm(inputs(pod(), std::nullopt, std::nullopt)).action == VmAction::create_record));
  auto follower = inputs(pod(), std::nullopt, std::nullopt);
  follower.leading = false;
  BOOST_TEST((plan_vm(follower).action == VmAction::nothing));
  // Released before any record: a VM made by hand, not ours to make.
  BOOST_TEST((plan_vm(inputs(pod(false), std::nullopt, std::nullopt)).action == VmAction::nothing));
  const auto create = plan_vm(inputs(pod(), record(2), std::nullopt));
  BOOST_TEST((create.action == VmAction::create_vm));
  BOOST_TEST(create.attempt == 2);
}

BOOST_AUTO_TEST_CASE(a_waiting_vm_is_rechecked_at_its_join_deadline_then_replaced) {
  const auto waiting = plan_vm(inputs(pod(), record(1), vmi(1)));
  BOOST_TEST((waiting.action == VmAction::wait));
  BOOST_TEST((waiting.recheck_at == now + std::chrono::minutes(9)));  // created a minute ago, 10m deadline
  BOOST_TEST_REQUIRE(waiting.condition.has_value());
  BOOST_TEST(waiting.condition->reason == "VMCreated");
  BOOST_TEST(plan_vm(inputs(pod(), record(1), vmi(1, "Running"))).condition->reason == "VMRunning");

  auto late = inputs(pod(), record(1), vmi(1));
  late.settings.join_deadline = std::chrono::seconds(5);
  const auto replaced = plan_vm(late);
  BOOST_TEST((replaced.action == VmAction::recreate));
  BOOST_TEST(replaced.attempt == 2);
  BOOST_TEST(replaced.condition->reason == "NodeJoinTimeout");
  BOOST_TEST(replaced.condition->warning);
}

BOOST_AUTO_TEST_CASE(a_failed_vm_is_replaced_up_to_max_attempts) {
  const auto second = plan_vm(inputs(pod(), record(1), vmi(1, "Failed")));
  BOOST_TEST((second.action == VmAction::recreate));
  BOOST_TEST(second.attempt == 2);
  BOOST_TEST(second.condition->reason == "VMFailed");
  BOOST_TEST(second.condition->message.find("replacing it (attempt 2 of 3)") != std::string::npos,
             second.condition->message);
  const auto last = plan_vm(inputs(pod(), record(3), vmi(3, "Failed")));
  BOOST_TEST((last.action == VmAction::give_up));
  BOOST_TEST(last.condition->reason == "FailedToPlace");
  BOOST_TEST(last.condition->message.find("attempt 3 of 3: giving up") != std::string::npos, last.condition->message);
  // A replacement recorded but its old VM still there (a leader change between the two):
  // finished without counting another attempt.
  const auto resumed = plan_vm(inputs(pod(), record(2), vmi(1)));
  BOOST_TEST((resumed.action == VmAction::recreate));
  BOOST_TEST(resumed.attempt == 2);
  BOOST_TEST(!resumed.condition.has_value());
}

BOOST_AUTO_TEST_CASE(a_pod_given_up_on_keeps_the_reason_it_was_given) {
  // The reason the controller gave when it gave up stays; no second word, no second Event.
  const auto given = with_condition(pod(), "FailedToPlace", "VM x stopped (phase Failed); that was attempt 3 of 3");
  const auto kept = plan_vm(inputs(given, record(3, true), std::nullopt));
  BOOST_TEST((kept.action == VmAction::nothing));
  BOOST_TEST(!kept.condition.has_value());
  // A pod that does not say so yet (given up on by an earlier leader) is told.
  const auto told = plan_vm(inputs(with_condition(pod(), "VMCreated", "VM x created"), record(3, true), std::nullopt));
  BOOST_TEST_REQUIRE(told.condition.has_value());
  BOOST_TEST(told.condition->reason == "FailedToPlace");
  // Giving up was interrupted before its VM went: it goes now.
  BOOST_TEST((plan_vm(inputs(given, record(3, true), vmi(3, "Failed"))).action == VmAction::give_up));
}

BOOST_AUTO_TEST_CASE(everything_goes_with_the_pod) {
  BOOST_TEST((plan_vm(inputs(std::nullopt, record(1), vmi(1))).action == VmAction::clean_up));
  auto finished = pod(false);
  finished["status"]["phase"] = "Succeeded";
  BOOST_TEST((plan_vm(inputs(finished, record(1), vmi(1))).action == VmAction::clean_up));
  BOOST_TEST((plan_vm(inputs(std::nullopt, std::nullopt, std::nullopt)).action == VmAction::nothing));
}

BOOST_AUTO_TEST_SUITE_END()
