// The in-place bootstrap workflow end to end against the real control plane: kubectl
// nodeboot start/status/watch/abort/retry/finish on kwok nodes, the real nodeboot-agent run
// as a process for a node with the DaemonSet's service account, a real HTTPS Ignition
// server with its own CA. kwok cannot reboot: nodes annotated kwok.x-k8s.io/status=custom
// keep the status the test writes, so the test plays the reboot (Ready false → a new
// bootID, Ready true). The 20-node roll uses a small in-test driver for the node side
// (marked below), since running twenty agents adds nothing the single-node cycle lacks.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <set>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string ignition_token = "e2e-ignition-token-5a1f";
const std::string schedule{names::schedule_label};

json get(const std::vector<std::string>& what) {
  std::vector<std::string> args{"get"};
  args.insert(args.end(), what.begin(), what.end());
  args.insert(args.end(), {"-o", "json"});
  return json::parse(cluster().kubectl_ok(args));
}
json node(const std::string& name) { return get({"node", name}); }

// What nodeboot could change on a node: labels, annotations, spec (cordon, taints). Not the
// resourceVersion, and not what kube-controller-manager owns: on a freshly created node its
// node lifecycle controller lifts node.kubernetes.io/not-ready and its TTL controller adds
// node.alpha.kubernetes.io/ttl, seconds later on a loaded machine, and kwok's status
// updates move the resourceVersion on a node nobody in the test touched.
json node_config(const std::string& name) {
  auto n = node(name);
  json annotations = n["metadata"].value("annotations", json::object());
  annotations.erase("node.alpha.kubernetes.io/ttl");
  json spec = n.value("spec", json::object());
  if (spec.contains("taints")) {
    json ours = json::array();
    for (const auto& t : spec["taints"])
      if (!t.value("key", "").starts_with("node.kubernetes.io/")) ours.push_back(t);
    spec["taints"] = ours;
  }
  return {{"labels", n["metadata"].value("labels", json::object())}, {"annotations", annotations}, {"spec", spec}};
}

bool exists(const std::vector<std::string>& what) {
  std::vector<std::string> args{"get"};
  args.insert(args.end(), what.begin(), what.end());
  return cluster().kubectl(args).exit_code == 0;
}

std::string annotation(const json& n, std::string_view key) {
  return n.value("/metadata/annotations"_json_pointer, json::object()).value(std::string(key), "");
}

// Nodes of this test, deleted afterwards so later suites see only healthy kwok nodes.
struct Nodes {
  std::vector<std::string> names;
  std::string selector;
  Nodes(const std::string& prefix, int count) {
    const std::string p = unique_name(prefix);
    for (int i = 0; i < count; ++i) names.push_back(p + "-" + std::to_string(i));  // deleted even if creation fails
    auto r = run({(source_dir() / "tests/cluster/nodes.sh").string(), "--state-dir", cluster().state_dir.string(),
                  "--count", std::to_string(count), "--prefix", p});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "nodes.sh: " << r.err);
    selector = "nodeboot-e2e=" + p;
    for (const auto& n : names) {
      cluster().kubectl_ok({"label", "node", n, selector});
    }
  }
  ~Nodes() {
    std::vector<std::string> args{"delete", "node", "--wait=false"};
    args.insert(args.end(), names.begin(), names.end());
    cluster().kubectl(args);
  }
};

// The IPB manifests, the Ignition server and the agent's credentials, shared by the suite.
struct Setup {
  TempDir dir;
  HttpsServer ignition;
  std::atomic<bool> reject{false};  // /flaky answers 401 while set
  fs::path token_file, ca_file, agent_kubeconfig;

  Setup() {
    cluster().kubectl_ok({"apply", "-k", (source_dir() / "manifests/ipb").string()});
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

    // The DaemonSet's identity: a token of its ServiceAccount, bound by manifests/ipb's RBAC.
    agent_kubeconfig =
        dir.write("agent.kubeconfig", cluster().service_account_kubeconfig("nodeboot-system", "nodeboot-ipb-agent"));
  }

  std::vector<std::string> start_args(const std::vector<std::string>& nodes, const std::string& path = "/ignition") const {
    std::vector<std::string> a{"nodeboot", "start"};
    a.insert(a.end(), nodes.begin(), nodes.end());
    a.insert(a.end(), {"--os", "rhcos", "--ignition-url", ignition.url(path), "--ignition-token-file",
                       token_file.string(), "--ca-cert", ca_file.string()});
    return a;
  }

  // The real agent, as the DaemonSet would run it on `node`, with harmless commands.
  ProcessResult agent(const std::string& node, const TempDir& host) const {
    host.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n");
    ProcessOptions o;
    o.env_set["NODE_NAME"] = node;
    o.timeout = std::chrono::minutes(2);
    return run({(bin_dir() / "nodeboot-agent").string(), "bootstrap", "--kubeconfig", agent_kubeconfig.string(),
                "--host-root", host.path().string(), "--firstboot-command", "true", "--reboot-command",
                "touch " + (host.path() / "rebooted").string(), "--http-timeout", "5s", "--attempts", "1"},
               o);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

// The reboot as a kubelet would show it: NotReady, then Ready with a new bootID.
// kwok lets go of the node's status first; without its heartbeats the node lifecycle
// controller would mark it NotReady after its grace period, so the test plays the reboot
// only once the node side is done.
void play_reboot(const std::string& n, const std::string& boot_id) {
  cluster().kubectl_ok({"annotate", "node", n, "kwok.x-k8s.io/status=custom", "--overwrite"});
  auto cond = [](const char* status) {
    return json{{"type", "Ready"}, {"status", status}, {"reason", status == std::string("True") ? "KubeletReady" : "KubeletNotReady"},
                {"message", "played by the e2e test"}};
  };
  cluster().kubectl_ok({"patch", "node", n, "--subresource=status", "--type=strategic", "-p",
                        json{{"status", {{"conditions", {cond("False")}}}}}.dump()});
  cluster().kubectl_ok({"patch", "node", n, "--subresource=status", "--type=strategic", "-p",
                        json{{"status", {{"nodeInfo", {{"bootID", boot_id}}}, {"conditions", {cond("True")}}}}}.dump()});
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
  BOOST_TEST(can({"get", "secrets", "-n", "nodeboot-system"}));
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
        if (value.empty()) a.erase(a.begin() + static_cast<long>(i), a.begin() + static_cast<long>(i) + 2);
        else a[i + 1] = value;
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
  const std::vector<std::string> changed{"configmap/" + record, "node/" + n, "secret/" + record};
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
      BOOST_TEST(kinds == (std::vector<std::string>{"ConfigMap", "Node", "Secret"}), listed.dump());
      BOOST_TEST(YAML::Load(start(dry_run, "yaml"))["items"].size() == 3u);
      BOOST_TEST(start(dry_run, "name") == changed[0] + "\n" + changed[1] + "\n" + changed[2] + "\n");
    }
  }
  // Nothing was stored.
  BOOST_TEST(node_config(n) == config);
  BOOST_TEST(!exists({"configmap", "-n", "nodeboot-system", record}));
  BOOST_TEST(!exists({"secret", "-n", "nodeboot-system", record}));

  // For real this time, then status in both machine formats.
  BOOST_TEST(start("", "name") == changed[0] + "\n" + changed[1] + "\n" + changed[2] + "\n");
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
  BOOST_REQUIRE(eventually([&] {
    const json pods = get({"pods", "-n", "default", "-l", "app=" + app, "--field-selector", "spec.nodeName=" + n});
    for (const auto& p : pods["items"])
      if (p.value("/status/phase"_json_pointer, std::string()) == "Running") pod = p["metadata"]["name"];
    return !pod.empty();
  }, std::chrono::minutes(3)));  // kwok on a loaded machine takes its time to run a pod
  const json pdb = {{"apiVersion", "policy/v1"},
                    {"kind", "PodDisruptionBudget"},
                    {"metadata", {{"name", app}, {"namespace", "default"}}},
                    {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"app", app}}}}}}}};
  cluster().kubectl_ok({"apply", "-f", "-"}, pdb.dump());
  BOOST_REQUIRE(eventually([&] {
    return get({"pdb", "-n", "default", app}).value("/status/observedGeneration"_json_pointer, 0) >= 1;
  }));

  TempDir out;
  auto args = setup().start_args({n});
  args.insert(args.end(), {"--drain", "--ignore-daemonsets", "--timeout", "120s"});
  std::string cmd = "exec kubectl";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >" + (out.path() / "out").string() + " 2>" + (out.path() / "err").string();
  auto start = std::async(std::launch::async, [cmd] {
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
