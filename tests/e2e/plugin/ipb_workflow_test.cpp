// The in-place bootstrap workflow end to end against the real control plane: kubectl
// nodeboot start/status/watch/abort/retry/finish on kwok nodes, the real nodeboot-agent run
// as a process for a node with the DaemonSet's service account, a real HTTPS Ignition
// server with its own CA. kwok cannot reboot: nodes annotated kwok.x-k8s.io/status=custom
// keep the status the test writes, so the test plays the reboot (Ready false → a new
// bootID, Ready true). The 20-node roll uses a small in-test driver for the node side
// (marked below), since running twenty agents adds nothing the single-node cycle lacks.
#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <optional>
#include <set>

#include "ipb_env.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::test;
using namespace nodeboot::test::ipb;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string ignition_token = "e2e-ignition-token-5a1f";

// The IPB manifests, the Ignition server and the agent's credentials, shared by the suite.
struct Setup {
  TempDir dir;
  HttpsServer ignition;
  std::atomic<bool> reject{false};  // /flaky answers 401 while set
  fs::path token_file, ca_file, agent_kubeconfig;
  // Who puts a node back once it is Ready on a new boot: `watch` and a rolling `start` only
  // display and pace.
  std::optional<CompletionController> completion;

  Setup() {
    cluster().kubectl_ok({"apply", "-k", (source_dir() / "manifests/ipb").string()});
    completion.emplace();
    const std::string v3 = R"({"ignition":{"version":"3.4.0"},"storage":{"files":[]}})";
    auto serve = [v3](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") != "Bearer " + ignition_token) {
        res.status = 401;
        return;
      }
      const bool v3_asked = req.get_header_value("Accept").find("version=3") != std::string::npos;
      res.set_content(v3_asked ? v3 : R"({"ignition":{"version":"2.2.0"}})", "application/json");
    };
    ignition.server.Get("/ignition", serve);
    ignition.server.Get("/flaky", [this, serve](const httplib::Request& req, httplib::Response& res) {
      if (reject) {
        res.status = 401;
        return;
      }
      serve(req, res);
    });
    ignition.start();
    token_file = dir.write("ignition.token", ignition_token + "\n");
    ca_file = test_pki().ca;

    // A token of the DaemonSet's ServiceAccount, not bound to a pod: what RBAC grants it.
    agent_kubeconfig =
        dir.write("agent.kubeconfig", cluster().service_account_kubeconfig("nodeboot-system", "nodeboot-ipb-agent"));
  }

  std::vector<std::string> start_args(const std::vector<std::string>& nodes,
                                      const std::string& path = "/ignition") const {
    std::vector<std::string> a{"nodeboot", "start"};
    a.insert(a.end(), nodes.begin(), nodes.end());
    a.insert(a.end(), {"--os", "rhcos", "--ignition-url", ignition.url(path), "--ignition-token-file",
                       token_file.string(), "--ca-cert", ca_file.string()});
    return a;
  }

  // The real agent, as the DaemonSet would run it on `node`, with harmless commands: a token
  // bound to a pod on the node, the kubelet's identity in the host's /.
  ProcessResult agent(const std::string& node, const TempDir& host) const {
    host.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n");
    const AgentIdentity id(dir, host.path(), node);
    ProcessOptions o;
    o.env_set["NODE_NAME"] = node;
    o.timeout = std::chrono::minutes(2);
    return run({(bin_dir() / "nodeboot-agent").string(),
                "bootstrap",
                "--kubeconfig",
                id.kubeconfig.string(),
                "--host-kubeconfig",
                id.host_kubeconfig,
                "--host-root",
                host.path().string(),
                "--host-unit",
                "",
                "--host-exec",
                "",
                "--firstboot-command",
                "true",
                "--reboot-command",
                "touch " + (host.path() / "rebooted").string(),
                "--http-timeout",
                "5s",
                "--attempts",
                "1"},
               o);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

// `kubectl nodeboot watch` in the background, its output in files so the test can see
// that it is following before the node side starts.
struct BackgroundWatch {
  TempDir dir;
  std::future<ProcessResult> result;
  explicit BackgroundWatch(const std::vector<std::string>& args, const std::string& prelude = "") {
    std::string cmd = prelude + "exec kubectl nodeboot watch";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " >" + (dir.path() / "out").string() + " 2>" + (dir.path() / "err").string();
    result = std::async(std::launch::async, [cmd] {
      ProcessOptions o;
      o.env_set["PATH"] = path_with_bin_dir();
      o.env_set["KUBECONFIG"] = cluster().kubeconfig.string();
      o.timeout = std::chrono::minutes(3);
      return run_process({"/bin/sh", "-c", cmd}, o).value_or(ProcessResult{});
    });
  }
  std::string out() const { return read_file(dir.path() / "out"); }
  std::string err() const { return read_file(dir.path() / "err"); }
  bool shows(const std::string& s) const { return out().find(s) != std::string::npos; }
};

std::vector<std::string> progress_states(const std::string& out, const std::string& node) {
  std::vector<std::string> states;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(node + ": ")) continue;
    std::string state = line.substr(node.size() + 2);
    state = state.substr(0, state.find(' '));
    if (states.empty() || states.back() != state) states.push_back(state);
  }
  return states;
}

json custom_taints(const json& n) {
  json out = json::array();
  for (const auto& t : n.value("/spec/taints"_json_pointer, json::array()))
    if (!t.value("key", "").starts_with("node.kubernetes.io/")) out.push_back(t);
  return out;
}

// The shipped validating webhooks for bootstrap Secrets and Nodes (manifests/webhook/base),
// renamed, scoped to `node` and its Secret, and pointed at a port nobody listens on: the
// API server cannot reach them, and with failurePolicy Fail it refuses what they guard,
// as when nodeboot-webhook is down.
struct UnreachableWebhooks {
  std::string name = unique_name("nodeboot-down");
  UnreachableWebhooks(const std::string& node, const std::string& node_selector) {
    // kubectl prints one JSON document per object, back to back.
    std::istringstream shipped(
        cluster().kubectl_ok({"create", "--dry-run=client", "-o", "json", "-f",
                              (source_dir() / "manifests/webhook/base/webhooks.yaml").string()}));
    const auto eq = node_selector.find('=');
    for (json doc; (shipped >> std::ws).peek() != EOF;) {
      shipped >> doc;
      if (doc["kind"] != "ValidatingWebhookConfiguration") continue;
      json config = {{"apiVersion", doc["apiVersion"]},
                     {"kind", doc["kind"]},
                     {"metadata", {{"name", name}}},
                     {"webhooks", json::array()}};
      for (json w : doc["webhooks"]) {
        const std::string resource = w["rules"][0]["resources"][0];
        if (resource != "secrets" && resource != "nodes") continue;
        // Port 1 on loopback: connection refused, at once.
        w["clientConfig"] = {{"url", "https://127.0.0.1:1" + w["clientConfig"]["service"]["path"].get<std::string>()}};
        json match = json::object();
        if (resource == "secrets")
          match[std::string(names::node_label)] = node;
        else
          match[node_selector.substr(0, eq)] = node_selector.substr(eq + 1);
        w["objectSelector"] = {{"matchLabels", match}};
        config["webhooks"].push_back(w);
      }
      cluster().kubectl_ok({"create", "-f", "-"}, config.dump());
    }
  }
  ~UnreachableWebhooks() {
    cluster().kubectl({"delete", "validatingwebhookconfiguration", name, "--ignore-not-found"});
  }
  // Drops the Secret webhook: only the Node one (the schedule label) stays unreachable.
  void reach_secrets() const {
    const json config =
        json::parse(cluster().kubectl_ok({"get", "validatingwebhookconfiguration", name, "-o", "json"}));
    for (std::size_t i = 0; i < config["webhooks"].size(); ++i)
      if (config["webhooks"][i]["name"] == "validate.secrets.nodeboot.io")
        cluster().kubectl_ok({"patch", "validatingwebhookconfiguration", name, "--type=json", "-p",
                              json::array({{{"op", "remove"}, {"path", "/webhooks/" + std::to_string(i)}}}).dump()});
  }
};

// Whether the API server now refuses `node`'s bootstrap Secret for want of a webhook (the
// configuration reaches the API server's admission a moment after it is stored).
bool secret_webhook_unreachable(const std::string& node) {
  const json secret = {{"apiVersion", "v1"},
                       {"kind", "Secret"},
                       {"type", std::string(names::bootstrap_secret_type)},
                       {"metadata",
                        {{"name", "nodeboot-" + node},
                         {"namespace", "nodeboot-system"},
                         {"labels", {{std::string(names::node_label), node}}}}},
                       {"stringData", {{"os", "rhcos"}}}};
  const auto r = cluster().kubectl({"create", "--dry-run=server", "-f", "-"}, secret.dump());
  return r.err.find("failed calling webhook") != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_workflow)

BOOST_AUTO_TEST_CASE(manifests_are_accepted_by_a_server_side_dry_run) {
  // A server-side dry run stores nothing, so the Namespace in the same apply does not exist
  // for the objects in it (kubectl's known limit); with the namespace present every object is
  // admitted and validated for real.
  cluster().kubectl({"create", "namespace", "nodeboot-system"});
  auto r = cluster().kubectl({"apply", "--dry-run=server", "-k", (source_dir() / "manifests/ipb").string()});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("daemonset.apps/nodeboot-ipb") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(agent_service_account_has_least_privilege) {
  const auto& kc = setup().agent_kubeconfig.string();
  auto can = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", kc, "auth", "can-i"});
    return cluster().kubectl(args).out.find("yes") == 0;
  };
  // No Secret at all (the node reads its own as its kubelet); nodes narrowed by the policy.
  BOOST_TEST(!can({"get", "secrets", "-n", "nodeboot-system"}));
  BOOST_TEST(can({"patch", "nodes"}));
  BOOST_TEST(!can({"get", "secrets", "-n", "default"}));
  BOOST_TEST(!can({"get", "secrets", "-n", "kube-system"}));
  BOOST_TEST(!can({"list", "secrets", "-n", "nodeboot-system"}));
  BOOST_TEST(!can({"delete", "nodes"}));
  BOOST_TEST(!can({"update", "nodes/status"}));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_before_anything_changes) {
  Nodes nodes("ipb-bad", 1);
  const std::string n = nodes.names[0];
  const json config_before = node_config(n);
  auto& s = setup();
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  auto base = s.start_args({n});
  auto with = [&](std::vector<std::string> a, const std::string& flag, const std::string& value) {
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == flag) {
        if (value.empty())
          a.erase(a.begin() + static_cast<long>(i), a.begin() + static_cast<long>(i) + 2);
        else
          a[i + 1] = value;
        return a;
      }
    a.insert(a.end(), {flag, value});
    return a;
  };
  const std::vector<Case> cases{
      {with(base, "--ignition-url", "http://127.0.0.1/ignition"), "--ignition-url"},
      {with(base, "--ca-cert", ""), "--ca-cert"},
      {with(base, "--ca-cert", "/nonexistent/ca.crt"), "--ca-cert"},
      {with(base, "--ignition-token-file", "/nonexistent/token"), "--ignition-token-file"},
      {with(base, "--os", ""), "--os"},
      {s.start_args({n, "no-such-node"}), "no-such-node"},
  };
  for (const auto& c : cases) {
    auto r = cluster().kubectl(c.args);
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(r.err.find(c.names) != std::string::npos, "expected " << c.names << " in: " << r.err);
    BOOST_TEST(r.err.find(ignition_token) == std::string::npos);
  }
  BOOST_TEST(node_config(n) == config_before);
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", "nodeboot-" + n}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", "nodeboot-" + n}));
}

// Issue 17: with nodeboot-webhook down, start used to cordon (and drain) and then fail on
// the Secret, leaving the node out of service. Now the Secret is admitted in a server dry
// run first; a refusal later (here the Node webhook, at the schedule label) is undone.
BOOST_AUTO_TEST_CASE(with_the_webhook_down_start_changes_nothing_and_says_why) {
  Nodes nodes("ipb-nowh", 1);
  const std::string n = nodes.names[0], record = "nodeboot-" + n;
  auto& s = setup();
  const json before = node_config(n);
  UnreachableWebhooks down(n, nodes.selector);
  BOOST_REQUIRE(eventually([&] { return secret_webhook_unreachable(n); }));

  auto r = cluster().kubectl(s.start_args({n}));
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("validate.secrets.nodeboot.io") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("admission webhook it needs is unreachable") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("nothing was changed on node " + n) != std::string::npos, r.err);
  BOOST_TEST(r.err.find(ignition_token) == std::string::npos);
  BOOST_TEST(node_config(n) == before, node_config(n).dump() << "\nwas\n" << before.dump());
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));

  // The Secret is admitted now, the schedule label is not: the cordon, the Secret and the
  // record are taken back, and the error lists them.
  down.reach_secrets();
  BOOST_REQUIRE(eventually([&] { return !secret_webhook_unreachable(n); }));
  r = cluster().kubectl(s.start_args({n}));
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("schedule label " + schedule + ": ") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("validate.nodes.nodeboot.io") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("secret/" + record + " deleted; node/" + n + " uncordoned; configmap/" + record + " deleted") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("node " + n + " is as it was before this start") != std::string::npos, r.err);
  BOOST_TEST(node_config(n) == before, node_config(n).dump() << "\nwas\n" << before.dump());
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));

  // A node already cordoned, with a bootstrap Secret of other content: the Secret is put
  // back as it was, the cordon (not this run's) stays.
  cluster().kubectl_ok({"cordon", n});
  cluster().kubectl_ok({"create", "secret", "generic", record, "-n", "nodeboot-system", "--type",
                        std::string(names::bootstrap_secret_type), "--from-literal=os=rhcos",
                        "--from-literal=ignition-url=https://ignition.example.com/earlier",
                        "--from-literal=ignition-token=earlier-token", "--from-file=ca.crt=" + s.ca_file.string()});
  cluster().kubectl_ok({"label", "secret", record, "-n", "nodeboot-system", std::string(names::node_label) + "=" + n});
  const json cordoned = node_config(n);
  const json earlier = get({"secret", "-n", "nodeboot-system", record});
  r = cluster().kubectl(s.start_args({n}));
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(
      r.err.find("secret/" + record + " put back as it was; configmap/" + record + " deleted") != std::string::npos,
      r.err);
  BOOST_TEST(r.err.find("uncordoned") == std::string::npos, r.err);
  BOOST_TEST(node_config(n) == cordoned, node_config(n).dump() << "\nwas\n" << cordoned.dump());
  const json after = get({"secret", "-n", "nodeboot-system", record});
  BOOST_TEST(after["data"] == earlier["data"]);
  BOOST_TEST(after["metadata"]["labels"] == earlier["metadata"]["labels"]);
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  cluster().kubectl({"delete", "secret", "-n", "nodeboot-system", record});
}

// A drain that cannot go on (a pod no controller would bring back, without --force) used to
// leave the node cordoned; the cordon and the record are taken back.
BOOST_AUTO_TEST_CASE(a_drain_that_cannot_proceed_is_undone) {
  Nodes nodes("ipb-undrain", 1);
  const std::string n = nodes.names[0], record = "nodeboot-" + n, pod = unique_name("bare");
  const json bare = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", pod}, {"namespace", "default"}}},
      {"spec", {{"nodeName", n}, {"containers", {{{"name", "c"}, {"image", "registry.k8s.io/pause:3.10"}}}}}}};
  cluster().kubectl_ok({"create", "-f", "-"}, bare.dump());
  const json before = node_config(n);
  auto args = setup().start_args({n});
  args.insert(args.end(), {"--drain", "--ignore-daemonsets"});
  const auto r = cluster().kubectl(args);
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("drain: cannot drain node \"" + n + "\"") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("default/" + pod) != std::string::npos, r.err);
  BOOST_TEST(r.err.find("undone: node/" + n + " uncordoned; configmap/" + record + " deleted") != std::string::npos,
             r.err);
  BOOST_TEST(node_config(n) == before, node_config(n).dump() << "\nwas\n" << before.dump());
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));
  cluster().kubectl({"delete", "pod", "-n", "default", pod, "--wait=false"});
}

// Issue 17: the schedule label is configured in several places; start reads the installed
// DaemonSet's and refuses another before touching anything.
BOOST_AUTO_TEST_CASE(start_refuses_a_schedule_label_the_daemonset_does_not_select) {
  Nodes nodes("ipb-label", 1);
  const std::string n = nodes.names[0], record = "nodeboot-" + n;
  const std::string ibm = "ibm-cloud.kubernetes.io/ipb-schedule";
  auto& s = setup();
  const json before = node_config(n);
  auto with = [&](std::vector<std::string> extra) {
    auto a = s.start_args({n});
    a.insert(a.end(), extra.begin(), extra.end());
    return cluster().kubectl(a);
  };
  auto r = with({"--schedule-label", ibm});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("--schedule-label " + ibm + " does not match DaemonSet nodeboot-system/nodeboot-ipb") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("nodeSelector is " + schedule + "=true") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("manifests/ipb/components/ibm-schedule-label") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("Nothing was changed") != std::string::npos, r.err);
  r = with({"--daemonset", "nodeboot-system/no-such-daemonset"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("DaemonSet nodeboot-system/no-such-daemonset is not installed") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("--daemonset=none") != std::string::npos, r.err);
  r = with({"--daemonset", "nodeboot-ipb"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("--daemonset: \"nodeboot-ipb\" is not NAMESPACE/NAME") != std::string::npos, r.err);
  BOOST_TEST(node_config(n) == before, node_config(n).dump() << "\nwas\n" << before.dump());
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));
}

// The component switches every place the cluster side names the label; start with the
// seed's label then lands the DaemonSet's pod on the node.
BOOST_AUTO_TEST_CASE(the_ibm_schedule_label_component_switches_everything_together) {
  const std::string ibm = "ibm-cloud.kubernetes.io/ipb-schedule";
  const fs::path component = source_dir() / "manifests/ipb/components/ibm-schedule-label";
  TempDir overlay;
  auto rel = [&](const fs::path& p) { return fs::relative(p, overlay.path()).string(); };
  overlay.write("all/kustomization.yaml",
                "resources: [../" + rel(source_dir() / "manifests") + "]\ncomponents: [../" + rel(component) + "]\n");
  const std::string rendered = cluster().kubectl_ok({"kustomize", (overlay.path() / "all").string()});
  BOOST_TEST(rendered.find(schedule) == std::string::npos, "the shipped label is left somewhere");
  std::size_t flags = 0;
  for (auto at = rendered.find("--schedule-label=" + ibm); at != std::string::npos;
       at = rendered.find("--schedule-label=" + ibm, at + 1))
    ++flags;
  BOOST_TEST(flags == 2u);                                             // the agent's and the webhook's
  BOOST_TEST(rendered.find(ibm + ": \"true\"") != std::string::npos);  // the nodeSelector
  BOOST_TEST(rendered.find("'" + ibm + "' in object.metadata.labels") != std::string::npos);  // the node webhook's CEL

  // The DaemonSet alone, under a name of its own so the suite's stays as it is.
  Nodes nodes("ipb-ibm", 1);
  const std::string n = nodes.names[0], suffix = "-" + unique_name("ibm");
  overlay.write("ds/kustomization.yaml", "resources: [../" + rel(source_dir() / "manifests/install-parts/ipb") +
                                             "]\ncomponents: [../" + rel(component) + "]\nnameSuffix: " + suffix +
                                             "\nlabels:\n  - pairs: {nodeboot-e2e: \"" + suffix.substr(1) +
                                             "\"}\n    includeSelectors: true\n");
  cluster().kubectl_ok({"apply", "-k", (overlay.path() / "ds").string()});
  auto started = cluster().kubectl([&] {
    auto a = setup().start_args({n});
    a.insert(a.end(), {"--schedule-label", ibm, "--daemonset", "nodeboot-system/nodeboot-ipb" + suffix});
    return a;
  }());
  BOOST_TEST(started.exit_code == 0, started.err);
  BOOST_TEST(node(n)["metadata"]["labels"].value(ibm, "") == "true");
  BOOST_TEST(eventually(
                 [&] {
                   const json pods = get({"pods", "-n", "nodeboot-system", "-l", "nodeboot-e2e=" + suffix.substr(1),
                                          "--field-selector", "spec.nodeName=" + n});
                   return !pods["items"].empty();
                 },
                 std::chrono::minutes(2)),
             "no pod of the switched DaemonSet on " << n);
  cluster().kubectl({"nodeboot", "abort", n, "--delete-secret", "--schedule-label", ibm});
  cluster().kubectl({"delete", "-k", (overlay.path() / "ds").string(), "--wait=false"});
}

// RBAC is asked once per run (SelfSubjectAccessReviews) before any node is touched.
BOOST_AUTO_TEST_CASE(missing_permissions_are_listed_before_anything_changes) {
  Nodes nodes("ipb-rbac", 1);
  const std::string n = nodes.names[0], user = unique_name("ipb-reader");
  // Enough to find the nodes and the DaemonSet, nothing to change them.
  cluster().kubectl_ok({"create", "clusterrole", user, "--verb=get,list", "--resource=nodes,daemonsets.apps"});
  cluster().kubectl_ok({"create", "clusterrolebinding", user, "--clusterrole=" + user, "--user=" + user});
  const json before = node_config(n);
  auto args = setup().start_args({n});
  args.insert(args.end(), {"--as", user, "--drain"});
  const auto r = cluster().kubectl(args);
  BOOST_TEST(r.exit_code != 0);
  for (const char* need :
       {"patch nodes: to cordon", "create configmaps in nodeboot-system", "create secrets in nodeboot-system",
        "create pods/eviction", "create roles.rbac.authorization.k8s.io in nodeboot-system",
        "create rolebindings.rbac.authorization.k8s.io in nodeboot-system"})
    BOOST_TEST(r.err.find(need) != std::string::npos, need << " in: " << r.err);
  BOOST_TEST(node_config(n) == before);
  cluster().kubectl({"delete", "clusterrolebinding", user});
  cluster().kubectl({"delete", "clusterrole", user});
}

BOOST_AUTO_TEST_CASE(one_node_full_cycle_with_the_real_agent) {
  Nodes nodes("ipb-full", 1);
  const std::string n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, "team=blue"});
  cluster().kubectl_ok({"taint", "node", n, "dedicated=db:NoSchedule"});
  const json before = node(n);
  auto& s = setup();

  auto started = cluster().kubectl(s.start_args({n}));
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);
  BOOST_TEST(started.out.find("node/" + n + " cordoned") != std::string::npos);
  BOOST_TEST(started.out.find("secret/nodeboot-" + n + " created") != std::string::npos);
  BOOST_TEST(started.out.find(ignition_token) == std::string::npos);
  // Idempotent: the second run changes nothing.
  const json config = node_config(n);
  auto again = cluster().kubectl(s.start_args({n}));
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(again.out.find("unchanged") != std::string::npos);
  BOOST_TEST(node_config(n) == config, node_config(n).dump() << "\nwas\n" << config.dump());

  BackgroundWatch watch({n, "--timeout", "150s"});
  BOOST_REQUIRE(eventually([&] { return watch.shows(n + ": Pending"); }));

  TempDir host;
  auto agent = s.agent(n, host);
  BOOST_TEST(agent.exit_code == 0, agent.err);
  BOOST_TEST(agent.err.find(ignition_token) == std::string::npos);
  BOOST_TEST(fs::exists(host.path() / "rebooted"));
  BOOST_TEST(fs::exists(host.path() / "etc/ignition-machine-config-encapsulated.json"));
  const json rebooting = node(n);
  BOOST_TEST(annotation(rebooting, names::ann_state) == "Rebooting");
  BOOST_TEST(!rebooting["metadata"]["labels"].contains(schedule));  // removed before the reboot

  play_reboot(n, "boot-after-" + n);
  auto w = watch.result.get();
  BOOST_TEST(w.exit_code == 0, watch.err());
  const auto states = progress_states(watch.out(), n);
  const std::vector<std::string> expected{"Pending", "Validating", "Downloading", "Applying", "Rebooting"};
  const bool in_order = std::search(states.begin(), states.end(), expected.begin(), expected.end()) != states.end();
  BOOST_TEST(in_order, "watch showed: " << watch.out());
  BOOST_TEST(watch.shows(n + ": Done"));

  const json after = node(n);
  BOOST_TEST(after["metadata"]["labels"] == before["metadata"]["labels"]);
  BOOST_TEST(custom_taints(after) == custom_taints(before));
  BOOST_TEST(!after.value("/spec/unschedulable"_json_pointer, false));
  BOOST_TEST(annotation(after, names::ann_state) == "Done");
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", "nodeboot-" + n}));
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", "nodeboot-" + n}));
}

BOOST_AUTO_TEST_CASE(a_failed_node_succeeds_on_retry) {
  Nodes nodes("ipb-retry", 1);
  const std::string n = nodes.names[0];
  auto& s = setup();
  s.reject = true;
  BOOST_REQUIRE_EQUAL(cluster().kubectl(s.start_args({n}, "/flaky")).exit_code, 0);
  TempDir host;
  auto first = s.agent(n, host);
  BOOST_TEST(first.exit_code == 1);
  const json failed = node(n);
  BOOST_TEST(annotation(failed, names::ann_state) == "Failed");
  BOOST_TEST(annotation(failed, names::ann_reason) == "IgnitionUnauthorized");
  BOOST_TEST(failed.value("/spec/unschedulable"_json_pointer, false));  // stays out of service
  auto status = cluster().kubectl_ok({"nodeboot", "status", n});
  BOOST_TEST(status.find("Failed") != std::string::npos);
  BOOST_TEST(status.find("IgnitionUnauthorized") != std::string::npos);
  BOOST_TEST(cluster().kubectl({"nodeboot", "watch", n, "--timeout", "30s"}).exit_code == 3);

  s.reject = false;
  auto retried = cluster().kubectl({"nodeboot", "retry", n});
  BOOST_REQUIRE_MESSAGE(retried.exit_code == 0, retried.err);
  const json pending = node(n);
  BOOST_TEST(annotation(pending, names::ann_attempt) == "2");
  BOOST_TEST(annotation(pending, names::ann_state) == "Pending");
  BOOST_TEST(pending["metadata"]["labels"].contains(schedule));

  BackgroundWatch watch({n, "--timeout", "150s"});
  BOOST_REQUIRE(eventually([&] { return watch.shows(n + ": Pending"); }));
  auto second = s.agent(n, host);
  BOOST_TEST(second.exit_code == 0, second.err);
  play_reboot(n, "boot-retried-" + n);
  BOOST_TEST(watch.result.get().exit_code == 0, watch.err());
  const json after = node(n);
  BOOST_TEST(annotation(after, names::ann_state) == "Done");
  BOOST_TEST(annotation(after, names::ann_attempt) == "2");
  BOOST_TEST(!after.value("/spec/unschedulable"_json_pointer, false));
}

// `watch` only displays: with no completion controller running, a node back on a new boot
// stays as it is (cordoned, not Done) and watch times out naming it; `finish` puts it back
// by hand.
BOOST_AUTO_TEST_CASE(watch_only_displays_and_finish_completes_by_hand) {
  Nodes nodes("ipb-display", 1);
  const std::string n = nodes.names[0];
  auto& s = setup();
  s.completion.reset();  // no controller: nobody completes
  struct Resume {
    Setup& s;
    ~Resume() { s.completion.emplace(); }
  } resume{s};
  cluster().kubectl_ok(s.start_args({n}));
  agent_before_reboot(n);
  play_reboot(n, "boot-display-" + n);
  const auto w = cluster().kubectl({"nodeboot", "watch", n, "--timeout", "8s"});
  BOOST_TEST(w.exit_code == 1, w.out << w.err);
  BOOST_TEST(w.err.find("timed out waiting for: " + n) != std::string::npos, w.err);
  const json still = node(n);
  BOOST_TEST(annotation(still, names::ann_state) == "Rebooting");
  BOOST_TEST(still.value("/spec/unschedulable"_json_pointer, false));
  BOOST_TEST(exists({"configmap", "-n", "nodeboot-system", "nodeboot-" + n}));

  const auto f = cluster().kubectl({"nodeboot", "finish", n});
  BOOST_TEST(f.exit_code == 0, f.err);
  const json after = node(n);
  BOOST_TEST(annotation(after, names::ann_state) == "Done");
  BOOST_TEST(!after.value("/spec/unschedulable"_json_pointer, false));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", "nodeboot-" + n}));
  // A node already Done: watch says so at once.
  BOOST_TEST(cluster().kubectl({"nodeboot", "watch", n, "--timeout", "20s"}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(abort_restores_labels_taints_and_cordon_exactly) {
  Nodes nodes("ipb-abort", 2);
  const std::string cordoned = nodes.names[0], open = nodes.names[1];
  cluster().kubectl_ok({"label", "node", cordoned, "team=red", "tier=storage"});
  cluster().kubectl_ok({"taint", "node", cordoned, "maintenance=planned:NoExecute"});
  cluster().kubectl_ok({"cordon", cordoned});
  const json before = node(cordoned);
  auto& s = setup();
  BOOST_REQUIRE_EQUAL(cluster().kubectl(s.start_args({cordoned, open})).exit_code, 0);
  // Something else changes a recorded label meanwhile; abort puts the recorded value back.
  cluster().kubectl_ok({"label", "node", cordoned, "team=green", "--overwrite"});
  BOOST_TEST(node(open).value("/spec/unschedulable"_json_pointer, false));

  auto r = cluster().kubectl({"nodeboot", "abort", cordoned, open});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json after = node(cordoned);
  BOOST_TEST(after["metadata"]["labels"] == before["metadata"]["labels"]);
  BOOST_TEST(custom_taints(after) == custom_taints(before));
  BOOST_TEST(after.value("/spec/unschedulable"_json_pointer, false));
  BOOST_TEST(annotation(after, names::ann_state).empty());
  const json open_after = node(open);
  BOOST_TEST(!open_after.value("/spec/unschedulable"_json_pointer, false));
  BOOST_TEST(!open_after["metadata"]["labels"].contains(schedule));
  // The Secret stays for inspection; the record is gone.
  BOOST_TEST(exists({"secret", "-n", "nodeboot-system", "nodeboot-" + cordoned}));
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", "nodeboot-" + cordoned}));
  cluster().kubectl({"delete", "secret", "-n", "nodeboot-system", "nodeboot-" + cordoned, "nodeboot-" + open});
}

BOOST_AUTO_TEST_CASE(dry_runs_change_nothing_and_every_output_format_parses) {
  Nodes nodes("ipb-dry", 1);
  const std::string n = nodes.names[0], record = "nodeboot-" + n;
  const json config = node_config(n);
  auto start = [&](const std::string& dry_run, const std::string& format) {
    auto args = setup().start_args({n});
    if (!dry_run.empty()) args.push_back("--dry-run=" + dry_run);
    args.insert(args.end(), {"-o", format});
    auto r = cluster().kubectl(args);
    BOOST_TEST(r.exit_code == 0, dry_run << " " << format << ": " << r.err);
    BOOST_TEST(r.out.find(ignition_token) == std::string::npos);
    return r.out;
  };
  const std::vector<std::string> changed{"configmap/" + record, "node/" + n, "secret/" + record,
                                         "role.rbac.authorization.k8s.io/" + record,
                                         "rolebinding.rbac.authorization.k8s.io/" + record};
  std::string names;
  for (const auto& c : changed) names += c + "\n";
  for (const std::string dry_run : {"client", "server"}) {
    BOOST_TEST_CONTEXT("--dry-run=" << dry_run) {
      const json listed = json::parse(start(dry_run, "json"));
      std::vector<std::string> kinds;
      for (const auto& item : listed["items"]) {
        kinds.push_back(item["kind"]);
        if (item["kind"] == "Secret")  // keys only: the values never leave the plugin
          for (const auto& [key, value] : item["data"].items()) BOOST_TEST(value == "", key);
        if (item["kind"] == "Node") {
          BOOST_TEST(item["spec"]["unschedulable"] == true);
          BOOST_TEST(item["metadata"]["labels"][schedule] == "true");
        }
      }
      BOOST_TEST(kinds == (std::vector<std::string>{"ConfigMap", "Node", "Secret", "Role", "RoleBinding"}),
                 listed.dump());
      BOOST_TEST(YAML::Load(start(dry_run, "yaml"))["items"].size() == 5u);
      BOOST_TEST(start(dry_run, "name") == names);
    }
  }
  // Nothing was stored.
  BOOST_TEST(node_config(n) == config);
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"role", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"rolebinding", "-n", "nodeboot-system", record}));

  // For real this time, then status in both machine formats.
  BOOST_TEST(start("", "name") == names);
  const json status = json::parse(cluster().kubectl_ok({"nodeboot", "status", n, "-o", "json"}));
  BOOST_REQUIRE_EQUAL(status["items"].size(), 1u);
  BOOST_TEST(status["items"][0]["node"] == n);
  BOOST_TEST(status["items"][0]["state"] == "Pending");
  BOOST_TEST(status["items"][0]["cordoned"] == true);
  BOOST_TEST(status["items"][0]["recorded"] == true);
  const YAML::Node status_yaml = YAML::Load(cluster().kubectl_ok({"nodeboot", "status", n, "-o", "yaml"}));
  BOOST_TEST(status_yaml["items"][0]["state"].as<std::string>() == "Pending");
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
  BOOST_TEST(!node(n).value("/spec/unschedulable"_json_pointer, false));
}

// What an operator sees: live bars with colour on a terminal (a pseudo-terminal from
// util-linux `script`), no colour with NO_COLOR, plain lines in a pipe; Ctrl-C stops a
// watch promptly, says so, and leaves the node as it was.
BOOST_AUTO_TEST_CASE(watch_output_follows_the_terminal_and_ctrl_c_stops_it) {
  Nodes nodes("ipb-tty", 1);
  const std::string n = nodes.names[0];
  cluster().kubectl_ok(setup().start_args({n}));
  auto on_terminal = [&](const std::string& no_color) {
    ProcessOptions o;
    o.env_set = {{"PATH", path_with_bin_dir()}, {"KUBECONFIG", cluster().kubeconfig.string()}, {"NO_COLOR", no_color}};
    o.timeout = std::chrono::minutes(1);
    return run({"script", "-qefc", "kubectl nodeboot watch " + n + " --timeout 3s", "/dev/null"}, o);
  };
  const auto tty = on_terminal("");
  BOOST_TEST(tty.exit_code == 1);  // timed out: the node never finishes here
  BOOST_TEST(tty.out.find("\x1b[33mPending\x1b[0m") != std::string::npos, tty.out);
  BOOST_TEST(tty.out.find("[.....") != std::string::npos, tty.out);  // the bar
  const auto no_colour = on_terminal("1");
  BOOST_TEST(no_colour.out.find(" Pending") != std::string::npos, no_colour.out);
  BOOST_TEST(no_colour.out.find("\x1b[33m") == std::string::npos, no_colour.out);
  const auto piped = cluster().kubectl({"nodeboot", "watch", n, "--timeout", "3s"});
  BOOST_TEST(piped.exit_code == 1);
  BOOST_TEST(piped.out.find(n + ": Pending") != std::string::npos, piped.out);
  BOOST_TEST(piped.out.find('\x1b') == std::string::npos, piped.out);
  BOOST_TEST(piped.err.find("timed out waiting for: " + n) != std::string::npos, piped.err);

  // Ctrl-C: kubectl execs the plugin, so the shell's pid is the plugin's.
  TempDir dir;
  const fs::path pid_file = dir.path() / "pid";
  BackgroundWatch watch({n}, "echo $$ >" + pid_file.string() + "; ");
  BOOST_REQUIRE(eventually([&] { return watch.shows(n + ": Pending"); }));
  const json config = node_config(n);
  BOOST_REQUIRE(::kill(std::stoi(read_file(pid_file)), SIGINT) == 0);
  const auto r = watch.result.get();
  BOOST_TEST(r.exit_code == 1, watch.err());  // not 137: the 3-minute guard did not have to kill it
  BOOST_TEST(watch.err().find("interrupted waiting for: " + n) != std::string::npos, watch.err());
  BOOST_TEST(node_config(n) == config);  // nothing touched on the way out
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
}

// The API server restarts while `watch` follows a node (an upgrade, a crash): the watch
// reconnects and still sees the node through to Done.
BOOST_AUTO_TEST_CASE(watch_survives_an_api_server_restart) {
  Nodes nodes("ipb-restart", 1);
  const std::string n = nodes.names[0];
  cluster().kubectl_ok(setup().start_args({n}));
  BackgroundWatch watch({n, "--timeout", "150s"});
  BOOST_REQUIRE(eventually([&] { return watch.shows(n + ": Pending"); }));
  auto r = run({(source_dir() / "tests/cluster/restart.sh").string(), "--state-dir", cluster().state_dir.string()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "restart.sh: " << r.err);
  // The node side, as the agent leaves it before its reboot (driven here: the full agent
  // run is one_node_full_cycle_with_the_real_agent's business).
  cluster().kubectl_ok({"label", "node", n, schedule + "-"});
  cluster().kubectl_ok({"annotate", "node", n, "--overwrite", std::string(names::ann_state) + "=Rebooting",
                        std::string(names::ann_progress) + "=95"});
  play_reboot(n, "boot-after-restart-" + n);
  const auto w = watch.result.get();
  BOOST_TEST(w.exit_code == 0, watch.err());
  BOOST_TEST(watch.shows(n + ": Rebooting"), watch.out());
  BOOST_TEST(watch.shows(n + ": Done"), watch.out());
  BOOST_TEST(!node(n).value("/spec/unschedulable"_json_pointer, false));
}

BOOST_AUTO_TEST_CASE(drain_blocked_by_a_pdb_names_the_pod_then_proceeds) {
  Nodes nodes("ipb-pdb", 1);
  const std::string n = nodes.names[0];
  const std::string app = unique_name("pdb-app");
  const json rs = {{"apiVersion", "apps/v1"},
                   {"kind", "ReplicaSet"},
                   {"metadata", {{"name", app}, {"namespace", "default"}}},
                   {"spec",
                    {{"replicas", 1},
                     {"selector", {{"matchLabels", {{"app", app}}}}},
                     {"template",
                      {{"metadata", {{"labels", {{"app", app}}}}},
                       {"spec",
                        {{"nodeSelector", {{"kubernetes.io/hostname", n}}},
                         {"containers", {{{"name", "c"}, {"image", "registry.k8s.io/pause:3.10"}}}}}}}}}}};
  cluster().kubectl_ok({"apply", "-f", "-"}, rs.dump());
  std::string pod;
  BOOST_REQUIRE(eventually(
      [&] {
        const json pods = get({"pods", "-n", "default", "-l", "app=" + app, "--field-selector", "spec.nodeName=" + n});
        for (const auto& p : pods["items"])
          if (p.value("/status/phase"_json_pointer, std::string()) == "Running") pod = p["metadata"]["name"];
        return !pod.empty();
      },
      std::chrono::minutes(3)));  // kwok on a loaded machine takes its time to run a pod
  const json pdb = {{"apiVersion", "policy/v1"},
                    {"kind", "PodDisruptionBudget"},
                    {"metadata", {{"name", app}, {"namespace", "default"}}},
                    {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"app", app}}}}}}}};
  cluster().kubectl_ok({"apply", "-f", "-"}, pdb.dump());
  BOOST_REQUIRE(eventually([&] {
    return get({"pdb", "-n", "default", app}).value("/status/observedGeneration"_json_pointer, 0) >= 1;
  }));

  auto args = setup().start_args({n});
  args.insert(args.end(), {"--drain", "--ignore-daemonsets", "--timeout", "120s"});
  // start in the background, its output and pid in `out` (kubectl execs the plugin, so the
  // shell's pid is the plugin's), until it waits on the PodDisruptionBudget.
  auto start_blocked = [&](const TempDir& out) {
    std::string cmd = "echo $$ >" + (out.path() / "pid").string() + "; exec kubectl";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " >" + (out.path() / "out").string() + " 2>" + (out.path() / "err").string();
    auto started = std::async(std::launch::async, [cmd] {
      ProcessOptions o;
      o.env_set["PATH"] = path_with_bin_dir();
      o.env_set["KUBECONFIG"] = cluster().kubeconfig.string();
      o.timeout = std::chrono::minutes(3);
      return run_process({"/bin/sh", "-c", cmd}, o).value_or(ProcessResult{});
    });
    BOOST_REQUIRE(eventually([&] {
      const auto err = read_file(out.path() / "err");
      return err.find("PodDisruptionBudget") != std::string::npos && err.find("default/" + pod) != std::string::npos;
    }));
    return started;
  };

  // Ctrl-C while the drain waits: the cordon and the record are taken back.
  const json before = node_config(n);
  TempDir interrupted;
  auto first = start_blocked(interrupted);
  BOOST_REQUIRE(::kill(std::stoi(read_file(interrupted.path() / "pid")), SIGINT) == 0);
  BOOST_TEST(first.get().exit_code == 1);
  const std::string said = read_file(interrupted.path() / "err");
  BOOST_TEST(said.find("drain: interrupted while draining") != std::string::npos, said);
  BOOST_TEST(said.find("undone: node/" + n + " uncordoned; configmap/nodeboot-" + n + " deleted") != std::string::npos,
             said);
  BOOST_TEST(node_config(n) == before, node_config(n).dump() << "\nwas\n" << before.dump());
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", "nodeboot-" + n}));

  TempDir out;
  auto start = start_blocked(out);
  BOOST_TEST(!node(n)["metadata"]["labels"].contains(schedule));  // still draining: not labelled yet
  cluster().kubectl_ok({"delete", "pdb", "-n", "default", app});
  const auto r = start.get();
  BOOST_TEST(r.exit_code == 0, read_file(out.path() / "err"));
  BOOST_TEST(read_file(out.path() / "out").find("pod/default/" + pod + " evicted") != std::string::npos);
  BOOST_TEST(node(n)["metadata"]["labels"].contains(schedule));
  cluster().kubectl({"delete", "replicaset", "-n", "default", app, "--wait=false"});
  cluster().kubectl({"nodeboot", "abort", n, "--delete-secret"});
}

BOOST_AUTO_TEST_CASE(rolling_start_over_20_nodes_keeps_at_most_3_out_of_service) {
  Nodes nodes("ipb-roll", 20);
  auto cfg = kube::resolve_config(kube::ConnectionFlags{.kubeconfig = cluster().kubeconfig.string()});
  BOOST_REQUIRE(cfg.has_value());
  kube::Client client(std::move(*cfg));
  kube::ListOptions sel;
  sel.label_selector = nodes.selector;

  // Checker: every node change of the pool, from a watch; the most cordoned at once.
  std::mutex mu;
  std::set<std::string> out_of_service;
  std::size_t most = 0;
  auto observe = [&](const json& n) {
    std::lock_guard lock(mu);
    if (n.value("/spec/unschedulable"_json_pointer, false))
      out_of_service.insert(n["metadata"]["name"]);
    else
      out_of_service.erase(n["metadata"]["name"]);
    most = std::max(most, out_of_service.size());
  };
  kube::Informer checker(client, kube::resources::nodes, "", sel,
                         {.on_add = observe, .on_update = [&](const json&, const json& n) { observe(n); }});
  checker.start();
  BOOST_REQUIRE(checker.wait_synced(std::chrono::seconds(30)));

  // TEST DRIVER (stands in for twenty agents): a labelled Pending node reports Rebooting,
  // loses the label and comes back with a new bootID, as the agent and the kubelet would.
  kube::Client driver_client(*kube::resolve_config(kube::ConnectionFlags{.kubeconfig = cluster().kubeconfig.string()}));
  auto drive = [&](const json& n) {
    const std::string name = n["metadata"]["name"];
    if (!n["metadata"]["labels"].contains(schedule) || annotation(n, names::ann_state) != "Pending") return;
    driver_client.patch(kube::resources::nodes, "", name, kube::PatchType::merge,
                        {{"metadata",
                          {{"labels", {{schedule, nullptr}}},
                           {"annotations",
                            {{std::string(names::ann_state), "Rebooting"},
                             {std::string(names::ann_progress), "95"},
                             {"kwok.x-k8s.io/status", "custom"}}}}}});
    driver_client.patch(kube::resources::nodes, "", name, kube::PatchType::merge,
                        {{"status", {{"nodeInfo", {{"bootID", "rolled-" + name}}}}}}, {}, "status");
  };
  kube::Informer driver(driver_client, kube::resources::nodes, "", sel,
                        {.on_add = drive, .on_update = [&](const json&, const json& n) { drive(n); }});
  driver.start();
  BOOST_REQUIRE(driver.wait_synced(std::chrono::seconds(30)));

  auto args = setup().start_args({});
  args.insert(args.end(), {"-l", nodes.selector, "--max-unavailable", "3", "--roll-timeout", "5m"});
  auto r = cluster().kubectl(args);
  BOOST_TEST(r.exit_code == 0, r.err);
  driver.stop();
  // The checker saw the last uncordon before start returned (start waits for it).
  BOOST_REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return out_of_service.empty();
  }));
  checker.stop();
  BOOST_TEST(most <= 3u);
  BOOST_TEST(most >= 1u);
  for (const auto& n : nodes.names) {
    const json after = node(n);
    BOOST_TEST(annotation(after, names::ann_state) == "Done", n);
    BOOST_TEST(!after.value("/spec/unschedulable"_json_pointer, false), n);
    BOOST_TEST(!after["metadata"]["labels"].contains(schedule), n);
  }
  BOOST_TEST(get({"configmaps", "-n", "nodeboot-system", "-l", std::string(names::node_label)})["items"].empty());
}

BOOST_AUTO_TEST_SUITE_END()
