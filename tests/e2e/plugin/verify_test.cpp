// `kubectl nodeboot verify` against the real API server: kwok nodes and bootstrap pods in
// every state the issue lists. Nodes and pods carry kwok.x-k8s.io/status=custom, so kwok
// leaves alone the status this test writes through the status subresource (what a kubelet
// would report: Ready conditions, the bootstrap init container's termination message).
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using nlohmann::json;

namespace {

const json iscsi_ok = {{"v", 1},
                       {"check", "iscsi"},
                       {"status", "ok"},
                       {"reason", "Ready"},
                       {"message", "iscsid active, iscsi_tcp loaded"},
                       {"os", "Ubuntu 24.04.1 LTS"},
                       {"iscsid", "active"},
                       {"iscsiTcp", true}};
const json iscsi_apt_failed = {{"v", 1},
                               {"check", "iscsi"},
                               {"status", "failed"},
                               {"reason", "AptFailed"},
                               {"message", "apt-get install open-iscsi failed: E: Unable to locate package open-iscsi"},
                               {"os", "Ubuntu 24.04.1 LTS"},
                               {"iscsid", "inactive"},
                               {"iscsiTcp", false}};
const json gpu_ok = {{"v", 1},
                     {"check", "quicksync"},
                     {"status", "ok"},
                     {"reason", "Ready"},
                     {"message", "iHD driver with encode entrypoints"},
                     {"os", "Ubuntu 24.04.1 LTS"},
                     {"i915", true},
                     {"renderNode", "/dev/dri/renderD128"},
                     {"vaDriver", "Intel iHD driver for Intel(R) Gen Graphics - 24.1.0 ()"},
                     {"encode", {"H264Main", "HEVCMain"}}};
const json gpu_not_applicable = {{"v", 1},
                                 {"check", "quicksync"},
                                 {"status", "not-applicable"},
                                 {"reason", "NoIntelGPU"},
                                 {"message", "no Intel display controller on this node"},
                                 {"os", "Ubuntu 24.04.1 LTS"},
                                 {"i915", false},
                                 {"renderNode", ""},
                                 {"vaDriver", ""},
                                 {"encode", json::array()}};

std::string now() { return "2026-01-01T00:00:00Z"; }

// kwok_runs_pods: leave the node's status to kwok (heartbeats), which then also starts the
// node's pods; otherwise the node keeps the status written here.
void create_node(const std::string& name, const std::string& group, const std::string& os_image, bool intel,
                 bool kwok_runs_pods = false) {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", name},
                 {"labels", {{"type", "kwok"}, {"nodeboot-verify", group}, {"kubernetes.io/hostname", name}}},
                 {"annotations", {{"kwok.x-k8s.io/node", "fake"}, {"kwok.x-k8s.io/status", "custom"}}}}}};
  if (intel) node["metadata"]["labels"]["intel.feature.node.kubernetes.io/gpu"] = "true";
  if (kwok_runs_pods) node["metadata"]["annotations"].erase("kwok.x-k8s.io/status");
  cluster().kubectl_ok({"create", "-f", "-"}, node.dump());
  json alloc = {{"cpu", "8"}, {"memory", "32Gi"}, {"pods", "110"}};
  if (intel) alloc["gpu.intel.com/i915"] = "1";
  json status = {{"status",
                  {{"allocatable", alloc},
                   {"capacity", alloc},
                   {"conditions",
                    {{{"type", "Ready"},
                      {"status", "True"},
                      {"reason", "KubeletReady"},
                      {"message", "kubelet is posting ready status"},
                      {"lastHeartbeatTime", now()},
                      {"lastTransitionTime", now()}}}},
                   {"nodeInfo",
                    {{"architecture", "amd64"},
                     {"operatingSystem", "linux"},
                     {"osImage", os_image},
                     {"kernelVersion", "6.8.0-45-generic"},
                     {"kubeletVersion", "v1.33.0"},
                     {"containerRuntimeVersion", "containerd://1.7.0"},
                     {"machineID", ""},
                     {"systemUUID", ""},
                     {"bootID", ""},
                     {"kubeProxyVersion", ""}}}}}};
  cluster().kubectl_ok({"patch", "node", name, "--subresource=status", "--type=merge", "-p", status.dump()});
  if (kwok_runs_pods) cluster().kubectl_ok({"wait", "--for=condition=Ready", "node/" + name, "--timeout=60s"});
}

// A bootstrap DaemonSet pod on `node`, with the status a kubelet would write; result null = none.
void create_pod(const std::string& app, const std::string& group, const std::string& node, bool ready,
                const json& result) {
  const std::string name = app + "-" + node;
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", "kube-system"},
                {"labels", {{"app", app}, {"nodeboot-verify", group}}},
                {"annotations", {{"kwok.x-k8s.io/status", "custom"}}}}},
              {"spec",
               {{"nodeName", node},
                {"tolerations", {{{"operator", "Exists"}}}},
                {"initContainers", {{{"name", "bootstrap"}, {"image", "docker.io/library/ubuntu:24.04"}}}},
                {"containers", {{{"name", "main"}, {"image", "docker.io/library/ubuntu:24.04"}}}}}}};
  cluster().kubectl_ok({"create", "-f", "-"}, pod.dump());
  json init_state = result.is_null() ? json{{"running", {{"startedAt", now()}}}}
                                     : json{{"terminated",
                                             {{"exitCode", 0},
                                              {"reason", "Completed"},
                                              {"message", result.dump()},
                                              {"startedAt", now()},
                                              {"finishedAt", now()}}}};
  const std::string r = ready ? "True" : "False";
  json status = {
      {"status",
       {{"phase", result.is_null() ? "Pending" : "Running"},
        {"conditions",
         {{{"type", "Initialized"}, {"status", result.is_null() ? "False" : "True"}, {"lastTransitionTime", now()}},
          {{"type", "Ready"}, {"status", r}, {"lastTransitionTime", now()}},
          {{"type", "ContainersReady"}, {"status", r}, {"lastTransitionTime", now()}}}},
        {"initContainerStatuses",
         {{{"name", "bootstrap"},
           {"image", "docker.io/library/ubuntu:24.04"},
           {"imageID", ""},
           {"ready", !result.is_null()},
           {"restartCount", 0},
           {"state", init_state}}}},
        {"containerStatuses",
         {{{"name", "main"},
           {"image", "docker.io/library/ubuntu:24.04"},
           {"imageID", ""},
           {"ready", ready},
           {"restartCount", 0},
           {"state", {{"running", {{"startedAt", now()}}}}}}}}}}};
  cluster().kubectl_ok(
      {"patch", "pod", name, "-n", "kube-system", "--subresource=status", "--type=merge", "-p", status.dump()});
}

struct Fleet {
  std::string group = unique_name("vfy");
  std::string node(const std::string& role) const { return group + "-" + role; }
  Fleet() {
    const std::string iscsi = "rke2-node-bootstrap-iscsi", gpu = "rke2-node-bootstrap-gpu";
    create_node(node("good"), group, "Ubuntu 24.04.1 LTS", true);
    create_pod(iscsi, group, node("good"), true, iscsi_ok);
    create_pod(gpu, group, node("good"), true, gpu_ok);

    create_node(node("badresult"), group, "Ubuntu 22.04.5 LTS", true);
    create_pod(iscsi, group, node("badresult"), true, iscsi_apt_failed);
    create_pod(gpu, group, node("badresult"), true, gpu_ok);

    create_node(node("notready"), group, "Ubuntu 24.04.1 LTS", true);
    create_pod(iscsi, group, node("notready"), true, iscsi_ok);
    create_pod(gpu, group, node("notready"), false, gpu_ok);

    create_node(node("pending"), group, "Ubuntu 24.04.1 LTS", true);
    create_pod(iscsi, group, node("pending"), false, nullptr);
    create_pod(gpu, group, node("pending"), true, gpu_ok);

    create_node(node("missing"), group, "Ubuntu 24.04.1 LTS", true);

    create_node(node("nonintel"), group, "Ubuntu 24.04.1 LTS", false);
    create_pod(iscsi, group, node("nonintel"), true, iscsi_ok);
    create_pod(gpu, group, node("nonintel"), true, gpu_not_applicable);

    create_node(node("wrongos"), group, "Flatcar Container Linux by Kinvolk 3815.2.0 (Oklo)", true);
    create_pod(iscsi, group, node("wrongos"), true, iscsi_ok);
    create_pod(gpu, group, node("wrongos"), true, gpu_ok);
  }
  ~Fleet() {
    cluster().kubectl({"delete", "nodes", "-l", "nodeboot-verify=" + group, "--wait=false"});
    cluster().kubectl({"delete", "pods", "-n", "kube-system", "-l", "nodeboot-verify=" + group, "--grace-period=0",
                       "--force", "--wait=false"});
  }
};

json verify_json(const std::vector<std::string>& args, int expected_exit) {
  std::vector<std::string> a{"nodeboot", "verify"};
  a.insert(a.end(), args.begin(), args.end());
  a.insert(a.end(), {"-o", "json"});
  auto r = cluster().kubectl(a);
  BOOST_TEST_INFO("stderr: " << r.err);
  BOOST_REQUIRE_EQUAL(r.exit_code, expected_exit);
  return json::parse(r.out);
}

std::map<std::string, json> rows(const json& report) {
  std::map<std::string, json> by_name;
  for (const auto& n : report["nodes"]) by_name[n["name"]] = n;
  return by_name;
}

std::string verdict(const json& row, const std::string& check) { return row["checks"][check]["verdict"]; }
std::string reason(const json& row, const std::string& check) { return row["checks"][check]["reason"]; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// --deep against kwok nodes. kwok plays a kubelet that starts every container and never
// ends one (and has no log endpoint), so the test plays the rest of the kubelet's part: it
// waits until kwok has the probe pod Running, then writes the end a kubelet would report
// through the status subresource (phase, each container's terminated state with the
// script's result line as its termination message).

// `kubectl nodeboot verify ARGS` in the background; its pid (kubectl execs the plugin) for signals.
struct BackgroundVerify {
  TempDir dir;
  std::future<nodeboot::ProcessResult> result;
  explicit BackgroundVerify(const std::vector<std::string>& args) {
    std::string cmd = "echo $$ >" + (dir.path() / "pid").string() + "; exec kubectl nodeboot verify";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " >" + (dir.path() / "out").string() + " 2>" + (dir.path() / "err").string();
    result = std::async(std::launch::async, [cmd] {
      nodeboot::ProcessOptions o;
      o.env_set["PATH"] = path_with_bin_dir();
      o.env_set["KUBECONFIG"] = cluster().kubeconfig.string();
      o.timeout = std::chrono::minutes(3);
      return nodeboot::run_process({"/bin/sh", "-c", cmd}, o).value_or(nodeboot::ProcessResult{});
    });
  }
  int pid() const { return std::stoi(read_file(dir.path() / "pid")); }
  std::string out() const { return read_file(dir.path() / "out"); }
  std::string err() const { return read_file(dir.path() / "err"); }
};

// The probe pods on `nodes`, by node name.
std::map<std::string, json> probe_pods(const std::vector<std::string>& nodes) {
  auto list = json::parse(
      cluster().kubectl_ok({"get", "pods", "-A", "-l", "app.kubernetes.io/name=nodeboot-verify-probe", "-o", "json"}));
  std::map<std::string, json> by_node;
  for (const auto& p : list["items"]) {
    const std::string n = p["spec"]["nodeName"];
    if (std::find(nodes.begin(), nodes.end(), n) != nodes.end()) by_node[n] = p;
  }
  return by_node;
}

// Waits until kwok reports every probe pod on `nodes` Running (so it will not overwrite what the test writes).
std::map<std::string, json> running_probe_pods(const std::vector<std::string>& nodes) {
  std::map<std::string, json> pods;
  BOOST_REQUIRE(eventually([&] {
    pods = probe_pods(nodes);
    if (pods.size() != nodes.size()) return false;
    for (const auto& [n, p] : pods)
      if (p["status"].value("phase", "") != "Running" || !p["status"].contains("podIP")) return false;
    return true;
  }));
  return pods;
}

// What a kubelet writes when both probe containers have ended.
void play_probe_end(const json& pod, const json& iscsi_result, const json& gpu_result) {
  auto ended = [](const std::string& name, const json& result) {
    return json{{"name", name},
                {"image", "docker.io/library/ubuntu:24.04"},
                {"imageID", ""},
                {"ready", false},
                {"restartCount", 0},
                {"state",
                 {{"terminated",
                   {{"exitCode", 0},
                    {"reason", "Completed"},
                    {"message", result.dump()},
                    {"startedAt", now()},
                    {"finishedAt", now()}}}}}};
  };
  json status = {{"status",
                  {{"phase", "Succeeded"},
                   {"containerStatuses", {ended("iscsi", iscsi_result), ended("quicksync", gpu_result)}}}}};
  cluster().kubectl_ok({"patch", "pod", pod["metadata"]["name"], "-n", pod["metadata"]["namespace"],
                        "--subresource=status", "--type=merge", "-p", status.dump()});
}

// The nodes and pods labelled nodeboot-verify=<group>, deleted however the test ends.
struct Group {
  std::string name;
  explicit Group(const std::string& prefix) : name(unique_name(prefix)) {}
  ~Group() {
    cluster().kubectl({"delete", "nodes", "-l", "nodeboot-verify=" + name, "--wait=false"});
    cluster().kubectl({"delete", "pods", "-n", "kube-system", "-l", "nodeboot-verify=" + name, "--grace-period=0",
                       "--force", "--wait=false"});
  }
};

bool no_probe_objects_left(const std::vector<std::string>& nodes) {
  auto cms = json::parse(cluster().kubectl_ok(
      {"get", "configmaps", "-A", "-l", "app.kubernetes.io/name=nodeboot-verify-probe", "-o", "json"}));
  return probe_pods(nodes).empty() && cms["items"].empty();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify)

BOOST_AUTO_TEST_CASE(every_pod_state_gets_the_right_row_and_exit_code) {
  Fleet f;
  auto report = verify_json({"-l", "nodeboot-verify=" + f.group}, 3);
  auto by = rows(report);
  BOOST_REQUIRE_EQUAL(by.size(), 7u);

  auto good = by[f.node("good")];
  BOOST_TEST(good["passed"] == true);
  BOOST_TEST(verdict(good, "os") == "pass");
  BOOST_TEST(verdict(good, "iscsi") == "pass");
  BOOST_TEST(verdict(good, "quicksync") == "pass");
  BOOST_TEST(contains(reason(good, "quicksync"), "1 i915 allocatable"));

  auto bad = by[f.node("badresult")];
  BOOST_TEST(verdict(bad, "iscsi") == "fail");
  BOOST_TEST(contains(reason(bad, "iscsi"), "AptFailed: apt-get install open-iscsi failed"));
  BOOST_TEST(verdict(bad, "os") == "pass");  // 22.04 is supported too

  auto notready = by[f.node("notready")];
  BOOST_TEST(verdict(notready, "iscsi") == "pass");
  BOOST_TEST(verdict(notready, "quicksync") == "fail");
  BOOST_TEST(contains(reason(notready, "quicksync"), "is not Ready"));

  auto pending = by[f.node("pending")];
  BOOST_TEST(verdict(pending, "iscsi") == "fail");
  BOOST_TEST(contains(reason(pending, "iscsi"), "is still bootstrapping (bootstrap running)"));

  auto missing = by[f.node("missing")];
  BOOST_TEST(verdict(missing, "iscsi") == "fail");
  BOOST_TEST(contains(reason(missing, "iscsi"), "no rke2-node-bootstrap-iscsi pod"));
  BOOST_TEST(verdict(missing, "quicksync") == "fail");

  auto nonintel = by[f.node("nonintel")];
  BOOST_TEST(nonintel["passed"] == true);
  BOOST_TEST(verdict(nonintel, "quicksync") == "not-applicable");

  auto wrongos = by[f.node("wrongos")];
  BOOST_TEST(verdict(wrongos, "os") == "fail");
  BOOST_TEST(contains(reason(wrongos, "os"), "requires Ubuntu 22.04 or 24.04"));
  BOOST_TEST(verdict(wrongos, "iscsi") == "pass");

  BOOST_TEST(report["summary"]["nodes"] == 7);
  BOOST_TEST(report["summary"]["passed"] == 2);
  BOOST_TEST(report["summary"]["failed"] == 5);
  BOOST_TEST(report["summary"]["failedByCheck"]["iscsi"] == 3);

  // The table: one row per node, the summary line, the same exit code.
  auto table = cluster().kubectl({"nodeboot", "verify", "-l", "nodeboot-verify=" + f.group});
  BOOST_TEST_MESSAGE(table.out);
  BOOST_TEST(table.exit_code == 3);
  BOOST_TEST(contains(table.out, "7 nodes: 2 passed, 5 failed (os 1, iscsi 3, quicksync 2)"));
  for (const auto& [name, row] : by) BOOST_TEST(contains(table.out, name));

  // Only the healthy nodes, by name: exit 0.
  auto healthy = verify_json({f.node("good"), f.node("nonintel")}, 0);
  BOOST_TEST(healthy["summary"]["passed"] == 2);
  // A node named twice is one row.
  auto twice = verify_json({f.node("good"), f.node("good")}, 0);
  BOOST_TEST(twice["summary"]["nodes"] == 1);
  // A subset of checks: the wrong-OS node passes when only iscsi is asked about.
  auto only_iscsi = verify_json({f.node("wrongos"), "--checks", "iscsi"}, 0);
  BOOST_TEST(only_iscsi["checks"] == json::array({"iscsi"}));
}

BOOST_AUTO_TEST_CASE(a_node_that_is_not_ready_fails_the_os_check) {
  Fleet f;
  json status = {{"status",
                  {{"conditions",
                    {{{"type", "Ready"},
                      {"status", "False"},
                      {"reason", "KubeletNotReady"},
                      {"message", "container runtime is down"},
                      {"lastHeartbeatTime", now()},
                      {"lastTransitionTime", now()}}}}}}};
  cluster().kubectl_ok({"patch", "node", f.node("good"), "--subresource=status", "--type=merge", "-p", status.dump()});
  auto row = rows(verify_json({f.node("good")}, 3))[f.node("good")];
  BOOST_TEST(verdict(row, "os") == "fail");
  BOOST_TEST(reason(row, "os") == "node is not Ready: KubeletNotReady: container runtime is down");
}

BOOST_AUTO_TEST_CASE(usage_and_lookup_errors_are_clear) {
  auto r = cluster().kubectl({"nodeboot", "verify", "--checks", "os,disk"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(contains(r.err, "--checks: unknown check \"disk\""));
  r = cluster().kubectl({"nodeboot", "verify", "-o", "csv"});
  BOOST_TEST(r.exit_code == 2);
  r = cluster().kubectl({"nodeboot", "verify", "no-such-node-xyz"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "node \"no-such-node-xyz\" not found"));
  r = cluster().kubectl({"nodeboot", "verify", "-l", "nodeboot-verify=nothing-has-this"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "no nodes match the selector"));
}

BOOST_AUTO_TEST_CASE(deep_probes_replace_the_daemonset_verdicts_time_out_and_clean_up) {
  Group g("vdeep");
  const std::string& group = g.name;
  const std::vector<std::string> probed{group + "-good", group + "-bad", group + "-silent"};
  for (const auto& n : probed) create_node(n, group, "Ubuntu 24.04.1 LTS", n != group + "-bad", true);
  create_node(group + "-down", group, "Ubuntu 24.04.1 LTS", true);
  json down = {{"status",
                {{"conditions",
                  {{{"type", "Ready"},
                    {"status", "False"},
                    {"reason", "NodeStatusUnknown"},
                    {"message", "Kubelet stopped posting node status."},
                    {"lastHeartbeatTime", now()},
                    {"lastTransitionTime", now()}}}}}}};
  cluster().kubectl_ok({"patch", "node", group + "-down", "--subresource=status", "--type=merge", "-p", down.dump()});
  // The good node's DaemonSet pod says its iSCSI is broken: --deep must not look at it.
  create_pod("rke2-node-bootstrap-iscsi", group, group + "-good", true, iscsi_apt_failed);

  BackgroundVerify verify({"-l", "nodeboot-verify=" + group, "--deep", "--deep-timeout", "20s", "-o", "json"});
  auto pods = running_probe_pods(probed);
  json iscsi_down = iscsi_ok;
  iscsi_down["status"] = "failed";
  iscsi_down["reason"] = "IscsidInactive";
  iscsi_down["message"] = "iscsid is inactive; see journalctl -u iscsid on the node";
  iscsi_down["iscsid"] = "inactive";
  play_probe_end(pods[group + "-good"], iscsi_ok, gpu_ok);
  play_probe_end(pods[group + "-bad"], iscsi_down, gpu_not_applicable);
  // The silent node's probe stays Running: it times out.

  const auto r = verify.result.get();
  BOOST_TEST_INFO("stderr: " << verify.err());
  BOOST_REQUIRE_EQUAL(r.exit_code, 3);
  auto by = rows(json::parse(verify.out()));
  BOOST_REQUIRE_EQUAL(by.size(), 4u);
  for (const auto& [name, row] : by) BOOST_TEST(row["source"] == "probe", name);

  auto good = by[group + "-good"];
  BOOST_TEST(good["passed"] == true);
  BOOST_TEST(verdict(good, "iscsi") == "pass");
  BOOST_TEST(verdict(good, "quicksync") == "pass");
  BOOST_TEST(good["probePod"] == pods[group + "-good"]["metadata"]["name"]);

  auto bad = by[group + "-bad"];
  BOOST_TEST(verdict(bad, "iscsi") == "fail");
  BOOST_TEST(reason(bad, "iscsi") == "IscsidInactive: iscsid is inactive; see journalctl -u iscsid on the node");
  BOOST_TEST(verdict(bad, "quicksync") == "not-applicable");

  auto silent = by[group + "-silent"];
  BOOST_TEST(verdict(silent, "iscsi") == "fail");
  BOOST_TEST(reason(silent, "iscsi") == "probe timed out after 20s (pod Running)");
  BOOST_TEST(verdict(silent, "os") == "pass");

  auto node_down = by[group + "-down"];
  BOOST_TEST(verdict(node_down, "os") == "fail");
  BOOST_TEST(reason(node_down, "iscsi") == "not probed: the node is not Ready");

  BOOST_TEST(contains(verify.err(), "verify: probing 3 nodes"));
  BOOST_TEST(contains(verify.err(), "verify: cleaned up 3 probe pods"));
  BOOST_TEST(no_probe_objects_left(probed));

  // All healthy: exit 0, and the table names the source.
  BackgroundVerify healthy({group + "-good", "--deep", "--checks", "iscsi"});
  play_probe_end(running_probe_pods({group + "-good"})[group + "-good"], iscsi_ok, gpu_ok);
  BOOST_TEST(healthy.result.get().exit_code == 0, healthy.err());
  BOOST_TEST(contains(healthy.out(), "SOURCE"), healthy.out());
  BOOST_TEST(contains(healthy.out(), "1 node: 1 passed, 0 failed"), healthy.out());
  BOOST_TEST(no_probe_objects_left(probed));
}

// Ctrl-C while the probes run: the probe pods and their ConfigMap are deleted on the way out.
BOOST_AUTO_TEST_CASE(ctrl_c_during_deep_deletes_the_probe_pods) {
  Group g("vint");
  const std::string& group = g.name;
  const std::vector<std::string> nodes{group + "-a", group + "-b"};
  for (const auto& n : nodes) create_node(n, group, "Ubuntu 24.04.1 LTS", false, true);
  BackgroundVerify verify({"-l", "nodeboot-verify=" + group, "--deep", "--deep-timeout", "2m"});
  running_probe_pods(nodes);
  BOOST_REQUIRE(::kill(verify.pid(), SIGINT) == 0);
  const auto r = verify.result.get();
  BOOST_TEST(r.exit_code == 1, verify.err());  // not 130 (nor 137 from the 3-minute guard): it stopped itself
  BOOST_TEST(contains(verify.err(), "verify: cleaned up 2 probe pods"), verify.err());
  BOOST_TEST(contains(verify.err(), "error: interrupted"), verify.err());
  BOOST_TEST(verify.out().empty(), verify.out());
  BOOST_TEST(no_probe_objects_left(nodes));
}

// A namespace whose Pod Security level forbids the probe: a clear error, exit 1, and the
// ConfigMap made before the first pod was refused is gone again.
BOOST_AUTO_TEST_CASE(deep_in_a_restricted_namespace_fails_clearly_and_leaves_nothing) {
  Group g("vpsa");
  const std::string node = g.name + "-a";
  create_node(node, g.name, "Ubuntu 24.04.1 LTS", false, true);
  const std::string ns = g.name;
  cluster().kubectl_ok({"create", "namespace", ns});
  cluster().kubectl_ok({"label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"});
  auto r = cluster().kubectl({"nodeboot", "verify", node, "--deep", "--deep-namespace", ns});
  BOOST_TEST(r.exit_code == 1, r.err);
  BOOST_TEST(contains(r.err, "in namespace " + ns), r.err);
  BOOST_TEST(contains(r.err, "violates PodSecurity \"restricted"), r.err);
  BOOST_TEST(contains(r.err, "verify: cleaned up 0 probe pods"), r.err);
  BOOST_TEST(cluster().kubectl_ok({"get", "configmaps", "-n", ns, "-l", "app.kubernetes.io/name=nodeboot-verify-probe",
                                   "-o", "name"}) == "");
  cluster().kubectl({"delete", "namespace", ns, "--wait=false"});
}

BOOST_AUTO_TEST_CASE(deep_flags_are_checked) {
  auto r = cluster().kubectl({"nodeboot", "verify", "--deep-timeout", "10s"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(contains(r.err, "--deep-timeout needs --deep"));
  r = cluster().kubectl({"nodeboot", "verify", "--deep", "--deep-timeout", "soon"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(contains(r.err, "--deep-timeout"));
}

BOOST_AUTO_TEST_SUITE_END()
