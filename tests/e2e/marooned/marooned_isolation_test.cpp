// Marooned isolation against a hostile tenant, on the real control plane: the real API
// server calls the shipped pod webhooks (CEL match conditions included), the gate-release
// controller (real binary, as the nodeboot-webhook ServiceAccount) issues join credentials
// and vouches for nodes, nodes are played with kubelet identities under NodeRestriction,
// and the real scheduler binds. Each case is one attack; after it the victim is still bound
// to its own node and nothing but it (and node agents) runs there.
#include <set>

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
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): Boost.Test calls it on an instance
  void setup() { nb = new Installation("isolation"); }
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): as setup()
  void teardown() { delete nb; }
};

// kubectl create of `manifest`, expected to be refused with `expect` in the message.
void refused(const json& manifest, const std::string& expect) {
  auto r = cluster().kubectl({"create", "-f", "-"}, manifest.dump());
  BOOST_TEST(r.exit_code != 0, manifest.dump());
  BOOST_TEST(r.err.find(expect) != std::string::npos, r.err);
}

struct Victim {
  std::string name, id, node;
};

// A marooned pod bound to its own vouched, Ready node.
Victim victim() {
  auto& env = Suite::nb->env;
  const auto pod = create_pod(env.pod(true, "victim-"));
  Victim v{pod["metadata"]["name"], pod_uid_of(pod), ""};
  v.node = env.join_node(v.id, true);
  BOOST_REQUIRE(eventually([&] { return get_pod(env.ns, v.name)["spec"].value("nodeName", "") == v.node; }));
  return v;
}

// The victim is still bound to its node, its node is not cordoned or marked, and no pod
// but the victim and node agents (the agents namespace) is bound there.
void undisturbed(const Victim& v) {
  auto& env = Suite::nb->env;
  BOOST_TEST(get_pod(env.ns, v.name)["spec"].value("nodeName", "") == v.node);
  const auto node = kubectl_json({"get", "node", v.node});
  BOOST_TEST(!node["spec"].value("unschedulable", false), v.node);
  BOOST_TEST(!node["metadata"].value("annotations", json::object()).contains(std::string(names::maroon_cleanup)));
  const auto on_node = kubectl_json({"get", "pods", "-A", "--field-selector", "spec.nodeName=" + v.node});
  for (const auto& p : on_node["items"]) {
    const std::string ns = p["metadata"]["namespace"], name = p["metadata"]["name"];
    BOOST_TEST((ns == env.agents_ns || (ns == env.ns && name == v.name)), ns << "/" << name << " is on " << v.node);
  }
}

json with_blanket_toleration(json pod) {
  pod["spec"]["tolerations"] = json::array({{{"operator", "Exists"}}});
  return pod;
}

json affinity_to(const std::string& node) {
  return {{"nodeAffinity",
           {{"requiredDuringSchedulingIgnoredDuringExecution",
             {{"nodeSelectorTerms",
               {{{"matchFields", {{{"key", "metadata.name"}, {"operator", "In"}, {"values", {node}}}}}}}}}}}}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_isolation, *boost::unit_test::fixture<Suite>())

BOOST_AUTO_TEST_CASE(a_preset_id_on_a_pod_or_a_deployment_template_is_replaced) {
  auto& env = Suite::nb->env;
  const auto v = victim();
  // Everything a tenant could copy from the victim (the id is on its node's labels).
  auto forged = env.pod(true, "intruder-");
  forged["metadata"]["annotations"] = {{std::string(names::maroon_pod_uid), v.id}};
  forged["spec"]["nodeSelector"] = {{std::string(names::maroon_pod_uid), v.id},
                                    {std::string(names::maroon_vouched_label), v.id}};
  forged["spec"]["tolerations"] = {
      {{"key", "maroonedpods.io/dedicated"}, {"operator", "Equal"}, {"value", v.id}, {"effect", "NoSchedule"}},
      {{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}}};
  const auto intruder = create_pod(forged);
  const auto intruder_id = pod_uid_of(intruder);
  BOOST_TEST(intruder_id.size() == 36u);
  BOOST_TEST(intruder_id != v.id);
  BOOST_TEST(intruder.dump().find(v.id) == std::string::npos, intruder.dump());

  // The same through a Deployment's template: the ReplicaSet controller's pods are mutated too.
  json deployment = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", "forged"}, {"namespace", env.ns}}},
                     {"spec",
                      {{"replicas", 2},
                       {"selector", {{"matchLabels", {{"app", "forged"}}}}},
                       {"template",
                        {{"metadata",
                          {{"labels", {{"app", "forged"}, {std::string(names::maroon_label), "true"}}},
                           {"annotations", forged["metadata"]["annotations"]}}},
                         {"spec",
                          {{"containers", forged["spec"]["containers"]},
                           {"nodeSelector", forged["spec"]["nodeSelector"]},
                           {"tolerations", forged["spec"]["tolerations"]}}}}}}}};
  cluster().kubectl_ok({"create", "-f", "-"}, deployment.dump());
  json pods;
  BOOST_TEST_REQUIRE(eventually([&] {
    pods = kubectl_json({"get", "pods", "-n", env.ns, "-l", "app=forged"});
    return pods["items"].size() == 2u;
  }));
  std::set<std::string> ids;
  for (const auto& p : pods["items"]) {
    ids.insert(pod_uid_of(p));
    BOOST_TEST(pod_uid_of(p) != v.id);
    BOOST_TEST(has_gate(p));
  }
  BOOST_TEST(ids.size() == 2u);
  // The intruder stays gated: nothing joined for its own id.
  BOOST_TEST(has_gate(get_pod(env.ns, intruder["metadata"]["name"])));
  undisturbed(v);
  cluster().kubectl({"delete", "deployment", "-n", env.ns, "forged", "--wait=false"});
}

BOOST_AUTO_TEST_CASE(ordinary_pods_cannot_select_tolerate_or_name_their_way_onto_a_dedicated_node) {
  auto& env = Suite::nb->env;
  const auto v = victim();
  const std::string dedicated = "a marooned pod's dedicated node";
  auto by_selector = env.pod(false, "plain-");
  by_selector["spec"]["nodeSelector"] = {{std::string(names::maroon_pod_uid), v.id}};
  refused(by_selector, "nodeSelector selects maroonedpods.io/pod-uid");
  auto by_vouched = env.pod(false, "plain-");
  by_vouched["spec"]["nodeSelector"] = {{std::string(names::maroon_vouched_label), v.id}};
  refused(by_vouched, "nodeSelector selects node-restriction.kubernetes.io/maroonedpods.io-pod-uid");
  auto by_toleration = env.pod(false, "plain-");
  by_toleration["spec"]["tolerations"] = {{{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}}};
  refused(by_toleration, "tolerates maroonedpods.io/dedicated");
  auto by_name = env.pod(false, "plain-");
  by_name["spec"]["nodeName"] = v.node;
  refused(by_name, "spec.nodeName names " + v.node + ", " + dedicated);
  auto by_affinity = env.pod(false, "plain-");
  by_affinity["spec"]["affinity"] = affinity_to(v.node);
  refused(by_affinity, "node affinity names " + v.node);
  refused(with_blanket_toleration(env.pod(false, "plain-")), "tolerates every taint");

  // A gated ordinary pod may gain tolerations and selector entries by UPDATE: not these.
  auto gated = env.pod(false, "plain-gated-");
  gated["spec"]["schedulingGates"] = {{{"name", "example.com/hold"}}};
  const std::string name = create_pod(gated)["metadata"]["name"];
  auto add_toleration = cluster().kubectl(
      {"patch", "pod", "-n", env.ns, name, "--type=json", "-p",
       R"([{"op":"add","path":"/spec/tolerations/-","value":{"key":"maroonedpods.io/dedicated","operator":"Exists"}}])"});
  BOOST_TEST(add_toleration.exit_code != 0);
  BOOST_TEST(add_toleration.err.find("tolerates maroonedpods.io/dedicated") != std::string::npos, add_toleration.err);
  auto add_selector = cluster().kubectl(
      {"patch", "pod", "-n", env.ns, name, "--type=merge", "-p",
       json{{"spec", {{"nodeSelector", {{std::string(names::maroon_vouched_label), v.id}}}}}}.dump()});
  BOOST_TEST(add_selector.exit_code != 0);
  BOOST_TEST(add_selector.err.find("nodeSelector selects") != std::string::npos, add_selector.err);

  // Nor may an existing pod become marooned, or a marooned pod change its id through status.
  auto maroon_later =
      cluster().kubectl({"label", "pod", "-n", env.ns, name, std::string(names::maroon_label) + "=true"});
  BOOST_TEST(maroon_later.exit_code != 0);
  BOOST_TEST(maroon_later.err.find("to an existing pod") != std::string::npos, maroon_later.err);
  auto via_status =
      cluster().kubectl({"patch", "pod", "-n", env.ns, v.name, "--subresource=status", "--type=merge", "-p",
                         json{{"metadata", {{"annotations", {{std::string(names::maroon_pod_uid), "x"}}}}}}.dump()});
  BOOST_TEST(via_status.exit_code != 0);
  BOOST_TEST(via_status.err.find("change the annotation maroonedpods.io/pod-uid") != std::string::npos, via_status.err);
  undisturbed(v);
}

BOOST_AUTO_TEST_CASE(a_node_that_labels_itself_gets_nothing) {
  auto& env = Suite::nb->env;
  const auto pod = create_pod(env.pod(true, "target-"));
  const std::string name = pod["metadata"]["name"];
  const auto id = pod_uid_of(pod);

  // A kubelet cannot give itself the vouched label: NodeRestriction, in the API server.
  const auto rogue = unique_name("rogue");
  json self_vouched = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", rogue},
        {"labels", {{std::string(names::maroon_pod_uid), id}, {std::string(names::maroon_vouched_label), id}}}}}};
  auto r = cluster().kubectl({"--kubeconfig", env.node_kubeconfig(rogue).string(), "create", "-f", "-"},
                             self_vouched.dump());
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("node-restriction.kubernetes.io") != std::string::npos, r.err);

  // Claiming the id with no proof, or with a forged one, and Ready: never vouched, gate stays.
  const auto unproven = env.join_node(id, true, "maroonedpods.io", Env::Proof::none);
  const auto forged = env.join_node(id, true, "maroonedpods.io", Env::Proof::forged);
  BOOST_TEST(eventually([&] {
    return has_event(env.ns, name, [&](const json& e) {
      return e.value("reason", "") == "JoinRefused" && e.value("message", "").find(forged) != std::string::npos;
    });
  }));
  for (const auto& n : {unproven, forged}) {
    BOOST_TEST(eventually([&] {
      for (const auto& c : kubectl_json({"get", "node", n})["status"].value("conditions", json::array()))
        if (c["type"] == "Ready") return c["status"] == "True";
      return false;
    }));
    BOOST_TEST(
        !kubectl_json({"get", "node", n})["metadata"]["labels"].contains(std::string(names::maroon_vouched_label)));
  }
  BOOST_TEST(has_gate(get_pod(env.ns, name)));

  // The genuine node proves itself and gets the pod; the credential is spent.
  const auto genuine = env.join_node(id, true);
  BOOST_TEST(eventually([&] { return get_pod(env.ns, name)["spec"].value("nodeName", "") == genuine; }));
  BOOST_TEST(cluster()
                 .kubectl({"get", "secret", "-n", std::string(names::marooned_namespace), "marooned-join-" + id})
                 .exit_code != 0);
  // And a vouched node's kubelet cannot re-point its vouched label either.
  auto repoint = cluster().kubectl({"--kubeconfig", env.node_kubeconfig(genuine).string(), "label", "node", genuine,
                                    "--overwrite", std::string(names::maroon_vouched_label) + "=other"});
  BOOST_TEST(repoint.exit_code != 0);
  BOOST_TEST(repoint.err.find("node-restriction.kubernetes.io") != std::string::npos, repoint.err);
  undisturbed({name, id, genuine});
}

BOOST_AUTO_TEST_CASE(a_second_pod_claiming_an_id_is_not_released_and_deleting_it_disturbs_nothing) {
  auto& env = Suite::nb->env;
  const auto v = victim();
  // Past the webhooks (they cover the test namespaces only here; in a real install only
  // kube-system is outside them): a pod that claims the victim's id outright.
  const auto bypass = unique_name("marooned-bypass");
  cluster().kubectl_ok({"create", "namespace", bypass});
  auto intruder = env.pod(true, "claimant-");
  intruder["metadata"]["namespace"] = bypass;
  intruder["metadata"]["annotations"] = {{std::string(names::maroon_pod_uid), v.id}};
  intruder["spec"]["nodeSelector"] = {{std::string(names::maroon_pod_uid), v.id},
                                      {std::string(names::maroon_vouched_label), v.id}};
  intruder["spec"]["schedulingGates"] = {{{"name", std::string(names::maroon_gate)}}};
  const std::string intruder_name = create_pod(intruder)["metadata"]["name"];
  BOOST_TEST(eventually([&] {
    return has_event(bypass, intruder_name,
                     [](const json& e) { return e.value("reason", "") == "MaroonedIdConflict"; });
  }));
  BOOST_TEST(has_gate(get_pod(bypass, intruder_name)));
  // Deleting the claimant does not cordon or mark the victim's node: it was never its owner.
  cluster().kubectl_ok({"delete", "pod", "-n", bypass, intruder_name, "--grace-period=0", "--force"});
  // The controller works its queue in order: once a witness deleted after the claimant has
  // its node marked, the claimant's deletion has been judged too.
  const auto [witness_name, witness_node] = [&] {
    const auto w = victim();
    return std::pair{w.name, w.node};
  }();
  cluster().kubectl_ok({"delete", "pod", "-n", env.ns, witness_name, "--grace-period=0", "--force"});
  BOOST_TEST(eventually([&] {
    return kubectl_json({"get", "node", witness_node})["metadata"]
               .value("annotations", json::object())
               .value(std::string(names::maroon_cleanup), "") == "true";
  }));
  undisturbed(v);
  cluster().kubectl({"delete", "namespace", bypass, "--wait=false"});
}

BOOST_AUTO_TEST_CASE(node_agents_in_the_allowed_namespaces_still_run_there) {
  auto& env = Suite::nb->env;
  const auto v = victim();
  // A node agent pinned to the dedicated node, tolerating every taint: admitted and bound.
  auto agent = with_blanket_toleration(env.pod(false, "agent-"));
  agent["metadata"]["namespace"] = env.agents_ns;
  agent["spec"]["affinity"] = affinity_to(v.node);
  const std::string agent_name = create_pod(agent)["metadata"]["name"];
  BOOST_TEST(eventually([&] { return get_pod(env.agents_ns, agent_name)["spec"].value("nodeName", "") == v.node; }));
  // The same pod in the tenant namespace is refused.
  agent["metadata"]["namespace"] = env.ns;
  refused(agent, "node affinity names " + v.node);
  // A DaemonSet with a blanket toleration in the tenant namespace gets pods on ordinary
  // nodes only; the DaemonSet controller's pod for the dedicated node is refused.
  json ds = {
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata", {{"name", "everywhere"}, {"namespace", env.ns}}},
      {"spec",
       {{"selector", {{"matchLabels", {{"app", "everywhere"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "everywhere"}}}}},
          {"spec",
           {{"containers", env.pod(false)["spec"]["containers"]}, {"tolerations", {{{"operator", "Exists"}}}}}}}}}}};
  cluster().kubectl_ok({"create", "-f", "-"}, ds.dump());
  // The DaemonSet controller stops a sync at its first refused pod and backs off, so which
  // dedicated node (earlier cases left several) it reports first is not fixed.
  BOOST_TEST(eventually([&] {
    return has_event(env.ns, "everywhere", [](const json& e) {
      return e.value("message", "").find("a marooned pod's dedicated node") != std::string::npos;
    });
  }));
  // Its pods for ordinary nodes come once a sync happens to try one of them first (the node
  // order is a Go map's), after backoffs of 5 ms doubling: allow it minutes, not a glance.
  std::set<std::string> bound_to;
  BOOST_TEST(eventually(
      [&] {
        const auto pods = kubectl_json({"get", "pods", "-n", env.ns, "-l", "app=everywhere"});
        for (const auto& p : pods["items"])
          if (const std::string node = p["spec"].value("nodeName", ""); !node.empty()) bound_to.insert(node);
        return !bound_to.empty();
      },
      std::chrono::minutes(3)));
  for (const auto& node : bound_to)
    BOOST_TEST(!kubectl_json({"get", "node", node})["metadata"]
                    .value("labels", json::object())
                    .contains(std::string(names::maroon_pod_uid)),
               "a DaemonSet pod is bound to the dedicated node " << node);
  undisturbed(v);
  cluster().kubectl({"delete", "daemonset", "-n", env.ns, "everywhere", "--wait=false"});
}

BOOST_AUTO_TEST_CASE(the_controllers_token_cannot_rewrite_other_pods_or_nodes) {
  // RBAC lets the controller's service account patch every pod and node; the shipped
  // ValidatingAdmissionPolicies leave it only its own job. Tried with its real token.
  auto& env = Suite::nb->env;
  const auto v = victim();
  const auto as_controller = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", env.sa_kubeconfig.string()});
    return cluster().kubectl(args);
  };
  const std::string plain = create_pod(env.pod(false, "plain-"))["metadata"]["name"];
  // Policies are picked up asynchronously: the first refusal may take a moment.
  nodeboot::ProcessResult r;
  BOOST_TEST(eventually([&] {
               r = as_controller({"label", "pod", "-n", env.ns, plain, "stolen=1"});
               return r.exit_code != 0;
             }),
             r.out);
  BOOST_TEST(r.err.find("nodeboot-gate-controller-pods") != std::string::npos, r.err);
  r = as_controller({"label", "node", "kwok-node-0", "stolen=1"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("only nodes that claim a marooned id") != std::string::npos, r.err);
  // On the victim's own node: uncordon-only and taint changes are refused, as is re-pointing the vouched label.
  r = as_controller({"taint", "node", v.node, "maroonedpods.io/dedicated-"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("not change its taints") != std::string::npos, r.err);
  r = as_controller({"label", "node", v.node, "--overwrite", "kubernetes.io/hostname=elsewhere"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("only set the vouched label") != std::string::npos, r.err);
  // A marooned pod's tolerations stay as the webhook set them.
  r = as_controller({"patch", "pod", "-n", env.ns, v.name, "--type=json", "-p",
                     R"([{"op":"add","path":"/spec/tolerations/-","value":{"operator":"Exists"}}])"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("tolerations") != std::string::npos, r.err);
  undisturbed(v);
}

BOOST_AUTO_TEST_SUITE_END()
