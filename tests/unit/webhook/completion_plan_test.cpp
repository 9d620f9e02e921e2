// The completion controller's decision about one node, as a pure function of the
// prior-state record and the Node: when it finishes, when it waits, when it calls a node
// stuck. The API side (informers, Lease, the finish itself) is in e2e/ipb_completion.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "nodeboot/names.hpp"
#include "nodeboot/plugin/ipb/node_state.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/webhook/controller/completion.hpp"

using nlohmann::json;
using namespace nodeboot;
using webhook::controller::CompletionAction;
using webhook::controller::plan_completion;

namespace {

const auto t0 = *parse_rfc3339("2026-12-02T10:00:00Z");
constexpr std::chrono::milliseconds deadline = std::chrono::hours(2);
const std::string label(names::schedule_label);

json node(std::string state, std::string boot, bool ready, std::string uid = "uid-1",
          std::string updated = "2026-12-02T10:05:00Z") {
  json ann = json::object();
  if (!state.empty()) {
    ann[std::string(names::ann_state)] = state;
    ann[std::string(names::ann_updated)] = updated;
  }
  return {{"metadata", {{"name", "n1"}, {"uid", uid}, {"resourceVersion", "7"}, {"annotations", ann}}},
          {"status",
           {{"nodeInfo", {{"bootID", boot}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

json record() {
  plugin::ipb::PriorState p;
  p.boot_id = "boot-1";
  p.uid = "uid-1";
  p.recorded = "2026-12-02T10:00:00Z";
  return plugin::ipb::prior_state_configmap("n1", p);
}

CompletionAction act(const json& n, std::chrono::system_clock::time_point now = t0 + std::chrono::minutes(10)) {
  return plan_completion(record(), n, label, deadline, now).action;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(completion_plan)

BOOST_AUTO_TEST_CASE(a_node_back_on_a_new_boot_after_the_final_reboot_is_finished) {
  BOOST_TEST((act(node("Rebooting", "boot-2", true)) == CompletionAction::finish));
  BOOST_TEST((act(node("Joining", "boot-2", true)) == CompletionAction::finish));
}

// The final reboot is reported from the boot the host is on; a node Ready on that boot (a
// payload's own reboot earlier made it differ from the recorded one) is not back yet.
BOOST_AUTO_TEST_CASE(rebooting_is_over_only_on_another_boot_than_the_one_reported) {
  json n = node("Rebooting", "boot-2", true);
  n["metadata"]["annotations"][std::string(names::ann_boot_id)] = "boot-2";
  BOOST_TEST((act(n) == CompletionAction::recheck_later));
  n["status"]["nodeInfo"]["bootID"] = "boot-3";
  BOOST_TEST((act(n) == CompletionAction::finish));
}

BOOST_AUTO_TEST_CASE(not_ready_or_the_same_boot_waits) {
  BOOST_TEST((act(node("Rebooting", "boot-2", false)) == CompletionAction::recheck_later));
  BOOST_TEST((act(node("Rebooting", "boot-1", true)) == CompletionAction::recheck_later));
}

// A RHEL payload reboots mid-way: the node is Ready on a new boot while the agent still
// applies. Finishing then would put a half-configured node back in service.
BOOST_AUTO_TEST_CASE(a_reboot_in_the_middle_of_applying_is_not_the_end) {
  BOOST_TEST((act(node("Applying", "boot-2", true)) == CompletionAction::recheck_later));
  BOOST_TEST((act(node("Pending", "boot-2", true)) == CompletionAction::recheck_later));
}

BOOST_AUTO_TEST_CASE(a_re_registered_node_without_annotations_on_a_new_boot_is_finished) {
  BOOST_TEST((act(node("", "boot-2", true, "uid-2")) == CompletionAction::finish));
  // Same uid, no annotations, new boot: nothing says the bootstrap got that far.
  BOOST_TEST((act(node("", "boot-2", true, "uid-1")) == CompletionAction::none));
}

BOOST_AUTO_TEST_CASE(failed_needs_the_operator) {
  BOOST_TEST((act(node("Failed", "boot-2", true)) == CompletionAction::none));
}

BOOST_AUTO_TEST_CASE(done_with_the_record_left_is_an_interrupted_finish) {
  BOOST_TEST((act(node("Done", "boot-2", true)) == CompletionAction::finish));
}

BOOST_AUTO_TEST_CASE(no_progress_within_the_deadline_is_stuck_and_says_why) {
  const auto late = t0 + std::chrono::hours(3);
  const auto plan = plan_completion(record(), node("Downloading", "boot-1", true), label, deadline, late);
  BOOST_TEST((plan.action == CompletionAction::fail_stuck));
  BOOST_TEST(plan.why.find("no progress reported for 2h") != std::string::npos, plan.why);
  BOOST_TEST(plan.why.find("Downloading") != std::string::npos, plan.why);
  BOOST_TEST(plan.why.find("kubectl nodeboot retry") != std::string::npos, plan.why);
  // Re-registered and never Ready on a new boot: measured from the record's time.
  BOOST_TEST((act(node("", "boot-1", false, "uid-2"), late) == CompletionAction::fail_stuck));
  // No state on the same Node (abort under way, or start cut short): not a stuck bootstrap.
  BOOST_TEST((act(node("", "boot-1", true), late) == CompletionAction::none));
}

BOOST_AUTO_TEST_CASE(the_recheck_is_when_the_deadline_passes) {
  const auto plan =
      plan_completion(record(), node("Applying", "boot-1", true), label, deadline, t0 + std::chrono::minutes(10));
  BOOST_TEST((plan.action == CompletionAction::recheck_later));
  BOOST_TEST((plan.recheck_at == *parse_rfc3339("2026-12-02T10:05:00Z") + deadline));
}

BOOST_AUTO_TEST_CASE(an_unreadable_record_decides_nothing) {
  json broken = record();
  broken["data"][std::string(names::prior_state_key)] = "{not json";
  BOOST_TEST((plan_completion(broken, node("Rebooting", "boot-2", true), label, deadline, t0).action ==
              CompletionAction::none));
}

BOOST_AUTO_TEST_SUITE_END()
