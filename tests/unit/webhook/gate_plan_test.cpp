// The gate-release controller's decision about one pod, as a pure function of its cached
// pod, the cached nodes claiming the pod's id and what this replica has read or done
// (plan_gate). The API side (informers, Lease, the writes) is in e2e/marooned_*.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/webhook/controller/controller.hpp"

using nlohmann::json;
using namespace nodeboot;
using webhook::controller::GateAction;
using webhook::controller::GateInputs;
using webhook::controller::plan_gate;

namespace {

const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string other_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const std::string taint_key(names::maroon_default_taint_key);
const std::string vouched_label(names::maroon_vouched_label);

json pod(const std::string& uid = "pod-uid-1", bool gated = true, const std::string& phase = "Pending") {
  json p = {{"metadata",
             {{"namespace", "default"},
              {"name", "p1"},
              {"uid", uid},
              {"annotations", {{std::string(names::maroon_pod_uid), id}}}}},
            {"spec", {{"nodeSelector", {{std::string(names::maroon_pod_uid), id}, {vouched_label, id}}}}},
            {"status", {{"phase", phase}}}};
  if (gated) p["spec"]["schedulingGates"] = json::array({{{"name", std::string(names::maroon_gate)}}});
  return p;
}

// A node claiming `id`; vouched for `owner` when it is not empty, Ready, with its own taint.
json node(const std::string& name, const std::string& owner = "pod-uid-1") {
  json n = {
      {"metadata",
       {{"name", name}, {"labels", {{std::string(names::maroon_pod_uid), id}}}, {"annotations", json::object()}}},
      {"spec",
       {{"taints",
         json::array({{{"key", marooned::dedicated_taint_key(taint_key)}, {"value", id}, {"effect", "NoSchedule"}}})}}},
      {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  if (!owner.empty()) {
    n["metadata"]["labels"][vouched_label] = id;
    n["metadata"]["annotations"][std::string(names::maroon_owner_pod_uid)] = owner;
  }
  return n;
}

json with_proof(json n, const std::string& proof) {
  n["metadata"]["annotations"][std::string(names::maroon_join_proof)] = proof;
  return n;
}

GateInputs inputs(json p = pod(), std::vector<json> nodes = {}) {
  GateInputs in;
  in.id = id;
  in.pod_uid = p["metadata"]["uid"];
  in.claimant_uids = {in.pod_uid};
  in.pod = std::move(p);
  in.nodes = std::move(nodes);
  in.taint_key = taint_key;
  in.leading = true;
  in.issued = true;
  return in;
}

// A credential and its Secret as issued for `owner`.
struct Issued {
  Secret credential = marooned::new_join_credential();
  json secret;
  explicit Issued(const json& owner) : secret(marooned::join_secret(id, owner, credential)) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(gate_plan)

BOOST_AUTO_TEST_CASE(a_gated_pod_whose_vouched_node_is_ready_is_released) {
  const auto plan = plan_gate(inputs(pod(), {node("n1")}));
  BOOST_TEST((plan.action == GateAction::release));
  BOOST_TEST(plan.node_name == "n1");
  BOOST_TEST(plan.patch == *marooned::gate_removal_patch(pod()));
  BOOST_TEST(plan.refusals.empty());
}

BOOST_AUTO_TEST_CASE(a_node_not_ready_cordoned_or_with_a_foreign_taint_is_waited_for) {
  auto not_ready = node("n1");
  not_ready["status"]["conditions"][0]["status"] = "False";
  auto cordoned = node("n1");
  cordoned["spec"]["unschedulable"] = true;
  auto foreign = node("n1");
  foreign["spec"]["taints"].push_back({{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
  auto untainted = node("n1");
  untainted["spec"]["taints"] = json::array();
  for (const auto& [n, why] : {std::pair{not_ready, "it is not Ready"}, std::pair{cordoned, "it is cordoned"},
                               std::pair{foreign, "it still carries the taint node.kubernetes.io/not-ready"},
                               std::pair{untainted, "it lacks the taint"}}) {
    const auto plan = plan_gate(inputs(pod(), {n}));
    BOOST_TEST((plan.action == GateAction::wait));
    BOOST_TEST(plan.message.find(why) != std::string::npos, plan.message);
    BOOST_TEST(plan.message.find("n1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_released_pod_whose_cache_still_shows_the_gate_is_not_released_twice) {
  auto in = inputs(pod(), {node("n1")});
  in.released = true;
  BOOST_TEST((plan_gate(in).action == GateAction::nothing));
}

BOOST_AUTO_TEST_CASE(without_a_node_the_credential_is_issued_once_then_the_pod_waits) {
  auto in = inputs();
  in.issued = false;
  BOOST_TEST((plan_gate(in).action == GateAction::issue_credential));
  in.issued = true;
  const auto plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::wait));
  BOOST_TEST(plan.message.find("no node has joined") != std::string::npos);
  // A node that claims the id but has not presented a proof changes nothing.
  in.nodes = {node("n1", "")};
  BOOST_TEST((plan_gate(in).action == GateAction::wait));
  in.issued = false;
  BOOST_TEST((plan_gate(in).action == GateAction::issue_credential));
}

BOOST_AUTO_TEST_CASE(a_follower_neither_issues_nor_vouches) {
  auto in = inputs(pod(), {with_proof(node("n1", ""), "00")});
  in.issued = false;
  in.leading = false;
  BOOST_TEST((plan_gate(in).action == GateAction::wait));
}

BOOST_AUTO_TEST_CASE(a_presented_proof_needs_the_credential_read_first) {
  auto in = inputs(pod(), {with_proof(node("n1", ""), "00")});
  BOOST_TEST((plan_gate(in).action == GateAction::read_credential));
}

BOOST_AUTO_TEST_CASE(a_valid_proof_is_vouched_for) {
  const Issued issued(pod());
  auto in =
      inputs(pod(), {node("n0", ""), with_proof(node("n1", ""), marooned::join_proof(issued.credential, id, "n1"))});
  in.credential = {.read = true, .secret = issued.secret};
  const auto plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::vouch));
  BOOST_TEST_REQUIRE(plan.candidates.size() == 1u);  // n0 has presented nothing yet
  BOOST_TEST(plan.candidates[0].node["metadata"]["name"] == "n1");
  BOOST_TEST(plan.candidates[0].refusal.empty());
}

BOOST_AUTO_TEST_CASE(a_forged_proof_is_refused) {
  const Issued issued(pod());
  const Secret forged = marooned::new_join_credential();
  auto in = inputs(pod(), {with_proof(node("n1", ""), marooned::join_proof(forged, id, "n1")),
                           // A proof made for another node's name does not transfer.
                           with_proof(node("n2", ""), marooned::join_proof(issued.credential, id, "n1"))});
  in.credential = {.read = true, .secret = issued.secret};
  const auto plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::vouch));
  BOOST_TEST_REQUIRE(plan.candidates.size() == 2u);
  for (const auto& c : plan.candidates) BOOST_TEST(c.refusal.find("does not match") != std::string::npos);
  // Tried and none vouched: the pod waits for a node.
  in.vouch_tried = true;
  BOOST_TEST((plan_gate(in).action == GateAction::wait));
}

BOOST_AUTO_TEST_CASE(a_proof_without_an_unspent_credential_or_for_another_pod_is_refused) {
  auto in = inputs(pod(), {with_proof(node("n1", ""), "00")});
  in.credential = {.read = true, .secret = std::nullopt};
  auto plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::wait));
  BOOST_TEST_REQUIRE(plan.refusals.size() == 1u);
  BOOST_TEST(plan.refusals[0].find("no unspent join credential") != std::string::npos);

  const Issued someone_elses(pod("pod-uid-2"));
  in.credential = {.read = true, .secret = someone_elses.secret};
  plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::wait));
  BOOST_TEST_REQUIRE(plan.refusals.size() == 1u);
  BOOST_TEST(plan.refusals[0].find("issued for another pod") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(two_live_pods_claiming_an_id_conflict_and_nothing_is_released_or_cleaned) {
  auto in = inputs(pod(), {node("n1")});
  in.claimant_uids = {"pod-uid-1", "pod-uid-2"};
  auto plan = plan_gate(in);
  BOOST_TEST((plan.action == GateAction::conflict));
  BOOST_TEST(plan.message.find("2 live pods claim marooned id " + id) != std::string::npos);
  // Finished: still a conflict, no cleanup.
  in.pod = pod("pod-uid-1", false, "Succeeded");
  BOOST_TEST((plan_gate(in).action == GateAction::conflict));
  // Deleted while another live pod claims the id: nothing (no pod to tell).
  in.pod.reset();
  in.claimant_uids = {"pod-uid-2"};
  in.credential.read = true;
  BOOST_TEST((plan_gate(in).action == GateAction::nothing));
}

BOOST_AUTO_TEST_CASE(a_deleted_or_finished_pod_cleans_up_only_the_node_it_owns) {
  const Issued issued(pod());
  auto cleaned = node("n-cleaned");
  cleaned["spec"]["unschedulable"] = true;
  cleaned["metadata"]["annotations"][std::string(names::maroon_cleanup)] = "true";
  auto other_id_node = node("n-other-id");
  other_id_node["metadata"]["labels"][vouched_label] = other_id;
  const std::vector<json> nodes = {node("n-own"), node("n-foreign", "pod-uid-2"), node("n-unvouched", ""), cleaned,
                                   other_id_node};
  for (const bool deleted : {true, false}) {
    auto in = inputs(pod("pod-uid-1", false, "Succeeded"), nodes);
    if (deleted) {
      in.pod.reset();
      in.claimant_uids.clear();
    }
    BOOST_TEST((plan_gate(in).action == GateAction::read_credential));
    in.credential = {.read = true, .secret = issued.secret};
    auto plan = plan_gate(in);
    BOOST_TEST((plan.action == GateAction::clean_up));
    BOOST_TEST(plan.cordon == std::vector<std::string>{"n-own"});
    BOOST_TEST(plan.delete_credential);
    // Another pod's credential stays; a spent one is simply gone.
    in.credential = {.read = true, .secret = Issued(pod("pod-uid-2")).secret};
    BOOST_TEST(!plan_gate(in).delete_credential);
    in.credential = {.read = true, .secret = std::nullopt};
    plan = plan_gate(in);
    BOOST_TEST((plan.action == GateAction::clean_up));
    BOOST_TEST(!plan.delete_credential);
    // A follower cleans nothing up.
    in.leading = false;
    BOOST_TEST((plan_gate(in).action == GateAction::nothing));
  }
}

BOOST_AUTO_TEST_CASE(a_running_pod_or_one_without_an_id_needs_nothing) {
  BOOST_TEST((plan_gate(inputs(pod("pod-uid-1", false, "Running"), {node("n1")})).action == GateAction::nothing));
  auto in = inputs();
  in.id.clear();
  BOOST_TEST((plan_gate(in).action == GateAction::nothing));
}

BOOST_AUTO_TEST_SUITE_END()
