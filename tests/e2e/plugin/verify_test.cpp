// `kubectl nodeboot verify` against the real API server: kwok nodes and bootstrap pods in
// every state the issue lists. Nodes and pods carry kwok.x-k8s.io/status=custom, so kwok
// leaves alone the status this test writes through the status subresource (what a kubelet
// would report: Ready conditions, the bootstrap init container's termination message).
#include <boost/test/unit_test.hpp>
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

void create_node(const std::string& name, const std::string& group, const std::string& os_image, bool intel) {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", name},
                 {"labels", {{"type", "kwok"}, {"nodeboot-verify", group}, {"kubernetes.io/hostname", name}}},
                 {"annotations", {{"kwok.x-k8s.io/node", "fake"}, {"kwok.x-k8s.io/status", "custom"}}}}}};
  if (intel) node["metadata"]["labels"]["intel.feature.node.kubernetes.io/gpu"] = "true";
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

BOOST_AUTO_TEST_SUITE_END()
