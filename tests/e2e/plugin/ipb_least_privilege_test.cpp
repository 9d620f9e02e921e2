// Least privilege for the in-place bootstrap agent (issue 14, item 6), enforced by the real
// API server: the agent's ServiceAccount reads no Secret and, through the shipped
// ValidatingAdmissionPolicy (manifests/ipb/policy.yaml), writes only its own node's
// nodeboot.io/ annotations and the schedule label's removal, with a token bound to a pod on
// that node. The node's own kubelet identity (system:node:<node>, under NodeRestriction and
// the Node authorizer) reads that node's bootstrap Secret through the Role and RoleBinding
// `kubectl nodeboot start` creates and finish/abort delete.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "ipb_env.hpp"
#include "nodeboot/test/https_server.hpp"

using namespace nodeboot;
using namespace nodeboot::test;
using namespace nodeboot::test::ipb;
using nlohmann::json;

namespace {

const std::string policy = "nodeboot-ipb-agent-nodes";

struct Setup {
  TempDir dir;
  std::string token_file, ca_file;
  Setup() {
    // An upgrade: the grant earlier releases shipped (get secrets in nodeboot-system, bound to
    // the agent) is in place first; applying this release must take it away.
    cluster().kubectl({"create", "namespace", sys});
    cluster().kubectl({"delete", "role", "nodeboot-ipb-agent", "-n", sys, "--ignore-not-found"});
    cluster().kubectl({"create", "role", "nodeboot-ipb-agent", "-n", sys, "--verb=get", "--resource=secrets"});
    cluster().kubectl({"create", "rolebinding", "nodeboot-ipb-agent", "-n", sys, "--role=nodeboot-ipb-agent",
                       "--serviceaccount=" + sys + ":nodeboot-ipb-agent"});
    cluster().kubectl_ok({"apply", "-k", (source_dir() / "manifests/ipb").string()});
    token_file = dir.write("ignition.token", "e2e-least-privilege-token\n").string();
    ca_file = test_pki().ca.string();
    // The policy is picked up asynchronously: wait until it refuses an unbound token.
    Nodes probe("ipb-lp-probe", 1);
    const auto unbound = dir.write("probe.kubeconfig", cluster().service_account_kubeconfig(sys, "nodeboot-ipb-agent"));
    BOOST_REQUIRE_MESSAGE(eventually([&] {
                            auto r = cluster().kubectl({"--kubeconfig", unbound.string(), "annotate", "node",
                                                        probe.names[0], "nodeboot.io/state=Pending", "--overwrite"});
                            return r.exit_code != 0 && r.err.find(policy) != std::string::npos;
                          }),
                          "the agent's ValidatingAdmissionPolicy never took effect");
  }
  std::vector<std::string> start(std::vector<std::string> args) const {
    std::vector<std::string> a{"nodeboot", "start"};
    a.insert(a.end(), args.begin(), args.end());
    a.insert(a.end(), {"--os", "rhcos", "--ignition-url", "https://ignition.invalid/config", "--ignition-token-file",
                       token_file, "--ca-cert", ca_file});
    return a;
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

// kubectl as the identity in `kubeconfig`.
ProcessResult as(const std::filesystem::path& kubeconfig, std::vector<std::string> args) {
  args.insert(args.begin(), {"--kubeconfig", kubeconfig.string()});
  return cluster().kubectl(args);
}

bool refused_by_policy(const ProcessResult& r) {
  return r.exit_code != 0 && r.err.find("ValidatingAdmissionPolicy '" + policy + "'") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_least_privilege)

BOOST_AUTO_TEST_CASE(a_pod_bound_token_writes_only_its_own_nodes_progress_and_label) {
  auto& s = setup();
  Nodes nodes("ipb-lp", 2);
  const std::string a = nodes.names[0], b = nodes.names[1];
  for (const auto& n : nodes.names) cluster().kubectl_ok({"label", "node", n, schedule + "=true"});
  TempDir host;
  const AgentIdentity pod(s.dir, host.path(), a);
  const auto& kc = pod.kubeconfig;

  // Its own node: progress annotations, and the schedule label's removal.
  auto ok = as(kc, {"annotate", "node", a, std::string(names::ann_state) + "=Validating", "--overwrite"});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  BOOST_TEST(annotation(node(a), names::ann_state) == "Validating");

  // Another node: nothing, not even what it may do on its own.
  auto other = as(kc, {"annotate", "node", b, std::string(names::ann_state) + "=Validating", "--overwrite"});
  BOOST_TEST(refused_by_policy(other), other.err);
  BOOST_TEST(other.err.find("only the node its pod runs on") != std::string::npos, other.err);
  auto unlabel_other = as(kc, {"label", "node", b, schedule + "-"});
  BOOST_TEST(refused_by_policy(unlabel_other), unlabel_other.err);
  BOOST_TEST(node(b)["metadata"]["labels"].contains(schedule));

  // Its own node, beyond its job.
  const json before = node_config(a);
  const std::vector<std::vector<std::string>> beyond{
      {"label", "node", a, "team=red"},
      {"label", "node", a, schedule + "=false", "--overwrite"},
      {"label", "node", a, "type-"},  // kwok's own label
      {"annotate", "node", a, "example.com/owner=agent"},
      {"taint", "node", a, "agent=was-here:NoSchedule"},
      {"patch", "node", a, "-p",
       R"({"spec":{"unschedulable":true}})"},  // a cordon (kubectl cordon exits 0 when refused)
  };
  for (const auto& args : beyond) {
    auto r = as(kc, args);
    BOOST_TEST(refused_by_policy(r), args[0] << " " << args[3] << ": " << r.err);
  }
  BOOST_TEST(node_config(a) == before, node_config(a).dump() << "\nwas\n" << before.dump());
  auto status = as(kc, {"patch", "node", a, "--subresource=status", "-p",
                        R"({"metadata":{"annotations":{"nodeboot.io/state":"Done"}}})"});
  BOOST_TEST(status.exit_code != 0);  // RBAC already: no nodes/status

  auto unlabel = as(kc, {"label", "node", a, schedule + "-"});
  BOOST_TEST(unlabel.exit_code == 0, unlabel.err);
  BOOST_TEST(!node(a)["metadata"]["labels"].contains(schedule));
}

BOOST_AUTO_TEST_CASE(a_token_not_bound_to_a_pod_patches_no_node) {
  auto& s = setup();
  Nodes nodes("ipb-lp-unbound", 1);
  const std::string n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, schedule + "=true"});
  const auto unbound =
      s.dir.write("unbound.kubeconfig", cluster().service_account_kubeconfig(sys, "nodeboot-ipb-agent"));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"annotate", "node", n, std::string(names::ann_state) + "=Validating"},
        std::vector<std::string>{"label", "node", n, schedule + "-"}}) {
    auto r = as(unbound, args);
    BOOST_TEST(refused_by_policy(r), r.err);
  }
  BOOST_TEST(node(n)["metadata"]["labels"].contains(schedule));
}

BOOST_AUTO_TEST_CASE(the_agent_account_reads_no_secret) {
  auto& s = setup();
  Nodes nodes("ipb-lp-secret", 1);
  const std::string n = nodes.names[0];
  TempDir host;
  const AgentIdentity pod(s.dir, host.path(), n);
  auto started = cluster().kubectl(s.start({n}));
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);
  const auto unbound =
      s.dir.write("reader.kubeconfig", cluster().service_account_kubeconfig(sys, "nodeboot-ipb-agent"));
  // Its own node's Secret, the webhook's TLS and CA material, anything.
  for (const auto& kc : {pod.kubeconfig, unbound})
    for (const auto& secret : {"nodeboot-" + n, std::string("nodeboot-webhook-tls")}) {
      auto r = as(kc, {"get", "secret", "-n", sys, secret});
      BOOST_TEST(r.exit_code != 0);
      BOOST_TEST(r.err.find("Forbidden") != std::string::npos, secret << ": " << r.err);
    }
  for (const char* verb : {"get", "list", "watch"}) {
    auto r = as(unbound, {"auth", "can-i", verb, "secrets", "-n", sys});
    BOOST_TEST(r.out.find("no") == 0, verb << ": " << r.out);
  }
  cluster().kubectl({"nodeboot", "abort", n, "--delete-secret"});
}

BOOST_AUTO_TEST_CASE(a_node_reads_its_own_secret_until_finish_or_abort) {
  auto& s = setup();
  Nodes nodes("ipb-lp-node", 2);
  const std::string a = nodes.names[0], b = nodes.names[1];
  auto started = cluster().kubectl(s.start({a, b}));
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);
  BOOST_TEST(started.out.find("role.rbac.authorization.k8s.io/nodeboot-" + a + " created") != std::string::npos,
             started.out);
  BOOST_TEST(started.out.find("rolebinding.rbac.authorization.k8s.io/nodeboot-" + b + " created") != std::string::npos,
             started.out);
  // Found like the Secret and the record: by the node label.
  const auto roles = get({"roles,rolebindings", "-n", sys, "-l", std::string(names::node_label) + "=" + a});
  BOOST_TEST(roles["items"].size() == 2u);

  TempDir kubelets;
  const auto kubelet_a = kubelet_kubeconfig(kubelets.path(), a), kubelet_b = kubelet_kubeconfig(kubelets.path(), b);
  auto own = as(kubelet_a, {"get", "secret", "-n", sys, "nodeboot-" + a, "-o", "name"});
  BOOST_TEST(own.exit_code == 0, own.err);
  auto others = as(kubelet_a, {"get", "secret", "-n", sys, "nodeboot-" + b});
  BOOST_TEST(others.exit_code != 0);
  BOOST_TEST(others.err.find("Forbidden") != std::string::npos, others.err);
  BOOST_TEST(as(kubelet_a, {"get", "secret", "-n", sys, "nodeboot-webhook-tls"}).exit_code != 0);
  BOOST_TEST(as(kubelet_b, {"get", "secret", "-n", sys, "nodeboot-" + b, "-o", "name"}).exit_code == 0);

  // finish: Secret, Role and RoleBinding gone.
  auto finished = cluster().kubectl({"nodeboot", "finish", a});
  BOOST_TEST(finished.exit_code == 0, finished.err);
  BOOST_TEST(!exists({"role", "-n", sys, "nodeboot-" + a}));
  BOOST_TEST(!exists({"rolebinding", "-n", sys, "nodeboot-" + a}));
  BOOST_TEST(as(kubelet_a, {"get", "secret", "-n", sys, "nodeboot-" + a}).exit_code != 0);

  // abort keeps the Secret (without --delete-secret) but not the node's access to it.
  auto aborted = cluster().kubectl({"nodeboot", "abort", b});
  BOOST_TEST(aborted.exit_code == 0, aborted.err);
  BOOST_TEST(exists({"secret", "-n", sys, "nodeboot-" + b}));
  BOOST_TEST(!exists({"role", "-n", sys, "nodeboot-" + b}));
  auto after = as(kubelet_b, {"get", "secret", "-n", sys, "nodeboot-" + b});
  BOOST_TEST(after.err.find("Forbidden") != std::string::npos, after.err);
  cluster().kubectl({"delete", "secret", "-n", sys, "nodeboot-" + b});
}

// A Role or RoleBinding of that name that is not start's is not overwritten: start says so
// and takes back what it did to the node, the Role it had created included.
BOOST_AUTO_TEST_CASE(a_foreign_binding_stops_start_and_its_steps_are_undone) {
  auto& s = setup();
  Nodes nodes("ipb-lp-foreign", 1);
  const std::string n = nodes.names[0], name = "nodeboot-" + n;
  cluster().kubectl_ok({"create", "rolebinding", name, "-n", sys, "--clusterrole=view", "--user=someone"});
  const json before = node_config(n);
  auto r = cluster().kubectl(s.start({n}));
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("rolebinding " + sys + "/" + name + " exists but grants something else") != std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("role/" + name + " deleted") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("is as it was before this start") != std::string::npos, r.err);
  BOOST_TEST(node_config(n) == before);
  BOOST_TEST(!exists({"secret", "-n", sys, name}));
  BOOST_TEST(!exists({"configmap", "-n", sys, name}));
  BOOST_TEST(!exists({"role", "-n", sys, name}));
  BOOST_TEST(exists({"rolebinding", "-n", sys, name}));  // not start's to delete
  cluster().kubectl({"delete", "rolebinding", "-n", sys, name});
}

BOOST_AUTO_TEST_CASE(a_server_dry_run_stores_no_reader) {
  auto& s = setup();
  Nodes nodes("ipb-lp-dry", 1);
  const std::string n = nodes.names[0];
  auto args = s.start({n});
  args.emplace_back("--dry-run=server");
  auto r = cluster().kubectl(args);
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(
      r.out.find("role.rbac.authorization.k8s.io/nodeboot-" + n + " created (server dry run)") != std::string::npos,
      r.out);
  BOOST_TEST(!exists({"role", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"rolebinding", "-n", sys, "nodeboot-" + n}));
}

BOOST_AUTO_TEST_SUITE_END()
