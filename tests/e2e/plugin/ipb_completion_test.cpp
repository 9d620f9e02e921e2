// The in-place bootstrap completion controller on the real control plane: `kubectl
// nodeboot start`, then nobody watches. The real nodeboot-webhook runs with
// --enable-completion-controller as its ServiceAccount, under the shipped RBAC and
// ValidatingAdmissionPolicies. The node side is played here (kwok cannot reboot): the
// state the agent reports before its final reboot, then the reboot as a kubelet shows it.
// e2e/ipb_resume runs the real agent through the same completion.
#include <boost/test/unit_test.hpp>

#include "../marooned/marooned_env.hpp"
#include "ipb_env.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/util/duration.hpp"

using namespace nodeboot;
using namespace nodeboot::test;
using namespace nodeboot::test::ipb;
using nlohmann::json;

namespace {

const std::string schedule{names::schedule_label};
const std::string sys{names::system_namespace};

// One nodeboot-webhook with the completion controller (and no admission registered: the
// pod webhooks are marooned suites' business). A short progress deadline for the stuck case.
struct Completion {
  test::marooned::Env env;
  test::marooned::WebhookProcess controller;
  TempDir dir;
  std::string token_file, ca_file;
  Completion() {
    const auto base = source_dir() / "manifests/webhook/base";
    cluster().kubectl_ok({"apply", "-f", (base / "completion-rbac.yaml").string(), "-f",
                          (base / "completion-policy.yaml").string()});
    cluster().kubectl({"delete", "lease", std::string(names::completion_controller_lease), "-n", sys, "--ignore-not-found"});
    controller = env.start("", true,
                           {"--enable-completion-controller", "--leader-elect-identity", "completion-e2e",
                            "--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
                            "--leader-elect-retry-period", "0.5", "--ipb-progress-deadline", "30s"});
    BOOST_REQUIRE_MESSAGE(eventually([&] { return controller.metric("nodeboot_completion_controller_leader") == 1; }),
                          "the completion controller never led:\n" << controller.process->log());
    token_file = dir.write("ignition.token", "e2e-completion-token\n").string();
    ca_file = test_pki().ca.string();
  }
  std::vector<std::string> start(const std::string& node, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"nodeboot", "start", node, "--os", "rhcos", "--ignition-url",
                               "https://ignition.invalid/config", "--ignition-token-file", token_file, "--ca-cert", ca_file};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string log() const { return controller.process->log(); }
};

Completion& completion() {
  static Completion c;
  return c;
}

// What the agent leaves before its final reboot: state Rebooting, the schedule label gone.
void agent_before_reboot(const std::string& n) {
  cluster().kubectl_ok({"label", "node", n, schedule + "-"});
  cluster().kubectl_ok({"annotate", "node", n, "--overwrite", std::string(names::ann_state) + "=Rebooting",
                        std::string(names::ann_progress) + "=95", std::string(names::ann_updated) + "=" + rfc3339_now()});
}

bool has_event(const std::string& node, const std::string& reason) {
  const auto events = get({"events", "-n", "default", "--field-selector", "involvedObject.name=" + node});
  for (const auto& e : events["items"])
    if (e.value("reason", "") == reason) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_completion)

// The operator runs start and closes the laptop: the node comes back and is put back as it
// was (labels, taints, cordon), Done, its Secret and record gone, an Event on the Node.
BOOST_AUTO_TEST_CASE(a_node_back_on_a_new_boot_is_restored_with_nobody_watching) {
  auto& c = completion();
  Nodes nodes("complete", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, "tier=gold"});
  cluster().kubectl_ok({"taint", "node", n, "dedicated=db:NoSchedule"});
  const json before = node_config(n);
  cluster().kubectl_ok(c.start(n));
  BOOST_TEST(node(n)["spec"].value("unschedulable", false));

  agent_before_reboot(n);
  play_reboot(n, "boot-after-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }),
                        "never Done:\n" << c.log());
  const json after = node(n);
  BOOST_TEST(!after["spec"].value("unschedulable", false));
  BOOST_TEST(after["metadata"]["labels"].value("tier", "") == "gold");
  BOOST_TEST(!after["metadata"]["labels"].contains(schedule));
  BOOST_TEST(node_config(n)["spec"] == before["spec"]);
  BOOST_TEST(!exists({"secret", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(eventually([&] { return has_event(n, "BootstrapCompleted"); }));
}

// A node cordoned before start stays cordoned; --keep-secret is recorded and honoured.
BOOST_AUTO_TEST_CASE(a_cordon_from_before_and_keep_secret_are_honoured) {
  auto& c = completion();
  Nodes nodes("complete-keep", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"cordon", n});
  cluster().kubectl_ok(c.start(n, {"--keep-secret"}));
  agent_before_reboot(n);
  play_reboot(n, "boot-kept-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }), c.log());
  BOOST_TEST(node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(exists({"secret", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
  cluster().kubectl({"delete", "secret", "-n", sys, "nodeboot-" + n});
}

// The Node object is deleted and registers again (annotations gone) on its new boot.
BOOST_AUTO_TEST_CASE(a_node_that_re_registers_is_seen_as_back) {
  auto& c = completion();
  Nodes nodes("complete-rereg", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, "tier=silver"});
  cluster().kubectl_ok(c.start(n));
  json fresh = node(n);
  cluster().kubectl_ok({"delete", "node", n});
  for (auto key : {"uid", "resourceVersion", "creationTimestamp", "managedFields"}) fresh["metadata"].erase(key);
  fresh["metadata"].erase("annotations");
  fresh["metadata"]["annotations"] = {{"kwok.x-k8s.io/status", "custom"}};
  fresh["metadata"]["labels"].erase("tier");  // a new registration has the kubelet's labels only
  fresh["metadata"]["labels"].erase(schedule);
  fresh["spec"].erase("unschedulable");
  fresh["spec"].erase("taints");
  fresh.erase("status");
  cluster().kubectl_ok({"create", "-f", "-"}, fresh.dump());
  play_reboot(n, "boot-rereg-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }), c.log());
  BOOST_TEST(node(n)["metadata"]["labels"].value("tier", "") == "silver");
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
}

// Nothing ever runs on the node (no DaemonSet pod here): past the deadline it is Failed with
// a reason, and the schedule label goes so no late pod starts behind the operator's back.
BOOST_AUTO_TEST_CASE(a_node_without_progress_is_failed_with_a_reason) {
  auto& c = completion();
  Nodes nodes("complete-stuck", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok(c.start(n));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Failed"; },
                                   std::chrono::seconds(120)),
                        c.log());
  const json failed = node(n);
  BOOST_TEST(annotation(failed, names::ann_reason) == "NoProgress");
  BOOST_TEST(annotation(failed, names::ann_message).find("no progress reported for 30s") != std::string::npos);
  BOOST_TEST(!failed["metadata"]["labels"].contains(schedule));
  BOOST_TEST(failed["spec"].value("unschedulable", false));  // stays out of service for the operator
  BOOST_TEST(exists({"configmap", "-n", sys, "nodeboot-" + n}));  // abort and retry still work
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
}

// The controller's token, as a thief would use it: RBAC lets it update every node; the
// policies leave it putting nodes under bootstrap back, and nothing else.
BOOST_AUTO_TEST_CASE(the_controllers_token_cannot_rewrite_nodes_beyond_completion) {
  auto& c = completion();
  Nodes nodes("complete-thief", 1);
  const auto& n = nodes.names[0];
  const auto as_controller = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", c.env.sa_kubeconfig.string()});
    return cluster().kubectl(args);
  };
  ProcessResult r;
  BOOST_TEST(eventually([&] {
    r = as_controller({"label", "node", n, "stolen=1"});
    return r.exit_code != 0;
  }), r.out);
  BOOST_TEST(r.err.find("only nodes that claim a marooned id") != std::string::npos, r.err);
  cluster().kubectl_ok(c.start(n));
  r = as_controller({"label", "node", n, "node-restriction.kubernetes.io/trusted=yes"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("node-restriction.kubernetes.io/ labels") != std::string::npos, r.err);
  r = as_controller({"annotate", "node", n, "other.example/owner=me"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("only nodeboot.io/ annotations") != std::string::npos, r.err);
  r = as_controller({"label", "node", n, "maroonedpods.io/pod-uid=0123"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("may not change marooned nodes") != std::string::npos, r.err);
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
}

BOOST_AUTO_TEST_SUITE_END()
