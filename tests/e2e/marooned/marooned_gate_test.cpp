// Marooned pods end to end (seed 004): the real API server calls the real webhook, the
// gate-release controller (real binary, as the nodeboot-webhook ServiceAccount) releases
// the gate when a kwok node joined with the pod's label and taint is Ready, and the real
// scheduler binds the pod there and nowhere else.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "marooned_env.hpp"

using namespace nodeboot::test;
using namespace nodeboot::test::marooned;
using nlohmann::json;
namespace names = nodeboot::names;

namespace {

struct Suite {
  static inline Installation* nb = nullptr;
  static void setup() { nb = new Installation("replica-a", /*short_lease=*/true); }
  static void teardown() { delete nb; }
};

std::string scheduled_reason(const json& pod) {
  for (const auto& c : pod["status"].value("conditions", json::array()))
    if (c["type"] == "PodScheduled") return c.value("reason", std::string(c["status"] == "True" ? "Scheduled" : ""));
  return "";
}

std::string lease_holder() {
  auto r = cluster().kubectl({"get", "lease", std::string(names::gate_controller_lease), "-n",
                              std::string(names::system_namespace), "-o", "json"});
  if (r.exit_code != 0) return "";
  const auto spec = json::parse(r.out)["spec"];
  return spec.contains("holderIdentity") && spec["holderIdentity"].is_string()
             ? spec["holderIdentity"].get<std::string>()
             : "";
}

// Creates a marooned pod and its Ready node; returns {pod name, node name} once bound.
std::pair<std::string, std::string> marooned_pod_on_its_node() {
  auto& env = Suite::nb->env;
  const auto pod = create_pod(env.pod(true));
  const std::string name = pod["metadata"]["name"];
  const auto node = env.join_node(pod_uid_of(pod), true);
  std::string bound;
  BOOST_REQUIRE(eventually([&] {
    bound = get_pod(env.ns, name)["spec"].value("nodeName", "");
    return !bound.empty();
  }));
  BOOST_TEST(bound == node);
  return {name, node};
}

bool node_ready(const std::string& node) {
  for (const auto& c : kubectl_json({"get", "node", node})["status"].value("conditions", json::array()))
    if (c["type"] == "Ready") return c["status"] == "True";
  return false;
}

// Returns once the controller has reconciled every pod and node event that happened before
// the call, without sleeping: a witness pod and its Ready node are created after them, and
// the controller handles each informer's events in order and its queue first in, first
// out, so by the time it released the witness it has judged everything earlier.
void controller_has_seen_everything_so_far() { marooned_pod_on_its_node(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_gate, *boost::unit_test::fixture<Suite>())

BOOST_AUTO_TEST_CASE(generate_name_pod_stays_gated_until_its_node_is_ready_then_binds_there) {
  auto& env = Suite::nb->env;
  const auto created = create_pod(env.pod(true, "gen-"));
  const std::string name = created["metadata"]["name"];
  const auto id = pod_uid_of(created);
  BOOST_TEST_REQUIRE(id.size() == 36u, "the webhook assigned no marooned id: " << created.dump());
  BOOST_TEST(has_gate(created));
  BOOST_TEST(created["spec"]["nodeSelector"].value(std::string(names::maroon_pod_uid), "") == id);
  BOOST_TEST(created["spec"]["nodeSelector"].value(std::string(names::maroon_vouched_label), "") == id);
  for (const std::string effect : {"NoSchedule", "NoExecute"}) {
    bool tolerated = false;
    for (const auto& t : created["spec"]["tolerations"])
      tolerated |= t.value("key", "") == "maroonedpods.io/dedicated" && t.value("value", "") == id &&
                   t.value("effect", "") == effect && t.value("operator", "") == "Equal";
    BOOST_TEST(tolerated, effect);
  }
  BOOST_TEST(eventually([&] { return scheduled_reason(get_pod(env.ns, name)) == "SchedulingGated"; }));

  // The node joins with label, taints and proof but is not Ready yet: it is vouched for,
  // the credential is spent, the gate stays.
  const auto node = env.join_node(id, false);
  BOOST_TEST(eventually([&] { return events_of(env.ns, name).contains("WaitingForNode"); }));
  const auto vouched = kubectl_json({"get", "node", node});
  BOOST_TEST(vouched["metadata"]["labels"].value(std::string(names::maroon_vouched_label), "") == id);
  BOOST_TEST(vouched["metadata"]["annotations"].value(std::string(names::maroon_owner_pod_uid), "") ==
             created["metadata"]["uid"].get<std::string>());
  BOOST_TEST(!vouched["metadata"]["annotations"].contains(std::string(names::maroon_join_proof)));
  BOOST_TEST(cluster()
                 .kubectl({"get", "secret", "-n", std::string(names::marooned_namespace), "marooned-join-" + id})
                 .exit_code != 0);  // spent
  BOOST_TEST(events_of(env.ns, name).contains("NodeVouched"));
  controller_has_seen_everything_so_far();
  auto pod = get_pod(env.ns, name);
  BOOST_TEST(has_gate(pod));
  BOOST_TEST(pod["spec"].value("nodeName", "").empty());

  env.make_ready(node);
  std::string bound;
  BOOST_TEST(eventually([&] {
    bound = get_pod(env.ns, name)["spec"].value("nodeName", "");
    return !bound.empty();
  }));
  BOOST_TEST(bound == node);
  BOOST_TEST(!has_gate(get_pod(env.ns, name)));
  // Events are recorded off the release path, so they may trail the binding a little.
  BOOST_TEST(eventually([&] {
    const auto events = events_of(env.ns, name);
    return events.contains("NodeReady") && events.contains("GateRemoved");
  }));
  BOOST_TEST(Suite::nb->controller.metric("nodeboot_marooned_gates_removed_total") >= 1);
}

BOOST_AUTO_TEST_CASE(second_pod_and_ordinary_pods_never_land_on_a_dedicated_node) {
  auto& env = Suite::nb->env;
  const auto [first, first_node] = marooned_pod_on_its_node();
  const auto [second, second_node] = marooned_pod_on_its_node();
  BOOST_TEST(first_node != second_node);

  // An ordinary pod pinned by hostname to a dedicated node is refused at admission; without
  // the webhook it would be refused by the taint.
  for (const auto& node : {first_node, second_node}) {
    auto p = env.pod(false, "plain-");
    p["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", node}};
    auto r = cluster().kubectl({"create", "-f", "-"}, p.dump());
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(r.err.find("names " + node + ", a marooned pod's dedicated node") != std::string::npos, r.err);
  }
  // One pinned to an ordinary kwok node is admitted and scheduled as usual.
  std::vector<std::string> ordinary;
  {
    auto p = env.pod(false, "plain-");
    p["spec"]["nodeSelector"] = {{"type", "kwok"}};
    ordinary.push_back(create_pod(p)["metadata"]["name"]);
  }
  // A marooned pod whose node never joins stays gated even with dedicated nodes Ready.
  const auto orphan = create_pod(env.pod(true))["metadata"]["name"].get<std::string>();
  for (const auto& name : ordinary) {
    std::string bound;
    BOOST_TEST(eventually([&] {
      bound = get_pod(env.ns, name)["spec"].value("nodeName", "");
      return !bound.empty();
    }));
    BOOST_TEST(bound != first_node);
    BOOST_TEST(bound != second_node);
  }
  controller_has_seen_everything_so_far();
  BOOST_TEST(has_gate(get_pod(env.ns, orphan)));
  BOOST_TEST(get_pod(env.ns, orphan)["spec"].value("nodeName", "").empty());
  BOOST_TEST(get_pod(env.ns, first)["spec"].value("nodeName", "") == first_node);
  BOOST_TEST(get_pod(env.ns, second)["spec"].value("nodeName", "") == second_node);
}

BOOST_AUTO_TEST_CASE(a_ready_node_that_is_cordoned_or_tainted_for_another_key_releases_nothing) {
  auto& env = Suite::nb->env;
  const auto cordoned_pod = create_pod(env.pod(true));
  const auto wrong_taint_pod = create_pod(env.pod(true));
  const auto cordoned = env.join_node(pod_uid_of(cordoned_pod), false);
  cluster().kubectl_ok({"cordon", cordoned});
  env.make_ready(cordoned);
  const auto wrong_taint = env.join_node(pod_uid_of(wrong_taint_pod), true, "example.com");
  for (const auto& node : {cordoned, wrong_taint}) BOOST_TEST(eventually([&] { return node_ready(node); }), node);
  controller_has_seen_everything_so_far();
  for (const auto& p : {cordoned_pod, wrong_taint_pod}) {
    const auto now = get_pod(env.ns, p["metadata"]["name"]);
    BOOST_TEST(has_gate(now), now["metadata"]["name"]);
    BOOST_TEST(now["spec"].value("nodeName", "").empty());
  }
  // Uncordoning is a node event like any other: the pod is released and binds there.
  cluster().kubectl_ok({"uncordon", cordoned});
  BOOST_TEST(eventually(
      [&] { return get_pod(env.ns, cordoned_pod["metadata"]["name"])["spec"].value("nodeName", "") == cordoned; }));
}

BOOST_AUTO_TEST_CASE(only_the_controller_may_remove_the_gate) {
  auto& env = Suite::nb->env;
  const std::string name = create_pod(env.pod(true))["metadata"]["name"];
  // cluster-admin, but not the controller's ServiceAccount.
  auto r = cluster().kubectl(
      {"patch", "pod", "-n", env.ns, name, "--type=json", "-p", R"([{"op":"remove","path":"/spec/schedulingGates"}])"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("system:serviceaccount:nodeboot-system:nodeboot-webhook") != std::string::npos, r.err);
  BOOST_TEST(has_gate(get_pod(env.ns, name)));
}

BOOST_AUTO_TEST_CASE(deleting_the_pod_cordons_and_marks_its_node) {
  auto& env = Suite::nb->env;
  const auto [name, node] = marooned_pod_on_its_node();
  cluster().kubectl_ok({"delete", "pod", "-n", env.ns, name, "--grace-period=0", "--force", "--wait=false"});
  BOOST_TEST(eventually([&] {
    const auto n = kubectl_json({"get", "node", node});
    return n["spec"].value("unschedulable", false) &&
           n["metadata"]["annotations"].value(std::string(names::maroon_cleanup), "") == "true";
  }));
}

BOOST_AUTO_TEST_CASE(a_finished_pod_cordons_and_marks_its_node) {
  auto& env = Suite::nb->env;
  const auto [name, node] = marooned_pod_on_its_node();
  // The pod ends as a kubelet would report it (kwok runs no containers): phase Succeeded
  // through the status subresource. The pod object stays; its node is done for all that.
  cluster().kubectl_ok({"patch", "pod", "-n", env.ns, name, "--subresource=status", "--type=merge", "-p",
                        R"({"status":{"phase":"Succeeded"}})"});
  BOOST_TEST(eventually([&] {
    const auto n = kubectl_json({"get", "node", node});
    return n["spec"].value("unschedulable", false) &&
           n["metadata"]["annotations"].value(std::string(names::maroon_cleanup), "") == "true";
  }));
  BOOST_TEST(get_pod(env.ns, name)["status"].value("phase", "") == "Succeeded");
}

BOOST_AUTO_TEST_CASE(one_replica_holds_the_lease_and_the_other_takes_over) {
  auto& env = Suite::nb->env;
  BOOST_TEST(eventually([] { return lease_holder() == "replica-a"; }));
  auto replica_b = env.start("replica-b");
  const auto [first, first_node] = marooned_pod_on_its_node();
  // Only the holder acted: the events name it, and the other removed nothing.
  for (const auto& [reason, who] : events_of(env.ns, first)) BOOST_TEST(who == "replica-a", reason << " by " << who);
  BOOST_TEST(replica_b.metric("nodeboot_gate_controller_leader") == 0);
  BOOST_TEST(replica_b.metric("nodeboot_marooned_gates_removed_total") == 0);
  BOOST_TEST(lease_holder() == "replica-a");

  // A clean stop releases the Lease; the other replica takes over and acts.
  BOOST_TEST(Suite::nb->controller.process->stop(SIGTERM) == 0);
  BOOST_TEST(eventually([] { return lease_holder() == "replica-b"; }, std::chrono::seconds(20)));
  const auto [second, second_node] = marooned_pod_on_its_node();
  for (const auto& [reason, who] : events_of(env.ns, second)) BOOST_TEST(who == "replica-b", reason << " by " << who);
  BOOST_TEST(replica_b.metric("nodeboot_gate_controller_leader") == 1);

  // A crash (no release) is taken over once the Lease expires.
  auto replica_c = env.start("replica-c");
  replica_b.process->stop(SIGKILL);
  BOOST_TEST(eventually([] { return lease_holder() == "replica-c"; }, std::chrono::seconds(30)));
  const auto [third, third_node] = marooned_pod_on_its_node();
  for (const auto& [reason, who] : events_of(env.ns, third)) BOOST_TEST(who == "replica-c", reason << " by " << who);
}

BOOST_AUTO_TEST_SUITE_END()
