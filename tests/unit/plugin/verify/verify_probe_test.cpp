// verify --deep: the probe pod and ConfigMap it creates, what a probe pod's status says, and
// how the probe's results become verdicts and output.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/plugin/verify/probe.hpp"
#include "nodeboot/plugin/verify/render.hpp"
#include "nodeboot/test/support.hpp"
#include "verify_facts.hpp"

using namespace nodeboot::plugin::verify;
using nlohmann::json;

namespace {

const ProbeRun run{"0a1b2c3d"};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const json iscsi_ok = {{"v", 1}, {"check", "iscsi"}, {"status", "ok"}, {"iscsid", "active"}, {"iscsiTcp", true}};
const json gpu_ok = {
    {"v", 1}, {"check", "quicksync"}, {"status", "ok"}, {"vaDriver", "Intel iHD driver"}, {"encode", {"H264Main"}}};

json terminated(const std::string& name, int exit_code, const std::string& message) {
  return {{"name", name},
          {"state",
           {{"terminated",
             {{"exitCode", exit_code}, {"reason", exit_code ? "Error" : "Completed"}, {"message", message}}}}}};
}

json pod_with(const std::string& phase, json statuses, json extra_status = json::object()) {
  json status = {{"phase", phase}, {"containerStatuses", std::move(statuses)}};
  status.update(extra_status);
  return {{"metadata", {{"name", "nodeboot-verify-0a1b2c3d-n1"}}}, {"spec", {{"nodeName", "n1"}}}, {"status", status}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_probe)

BOOST_AUTO_TEST_CASE(the_probe_pod_is_pinned_privileged_tolerant_short_lived_and_labelled) {
  ProbeOptions o;
  o.timeout = std::chrono::seconds(90);
  const json pod = probe_pod(run, o, "worker-7");
  const json& spec = pod["spec"];
  BOOST_TEST(pod["metadata"]["name"] == "nodeboot-verify-0a1b2c3d-worker-7");
  BOOST_TEST(pod["metadata"]["namespace"] == "kube-system");
  BOOST_TEST(pod["metadata"]["labels"] == json({{"app.kubernetes.io/name", "nodeboot-verify-probe"},
                                                {"app.kubernetes.io/managed-by", "kubectl-nodeboot"},
                                                {"nodeboot.io/verify-run", "0a1b2c3d"}}));
  BOOST_TEST(!pod["metadata"].contains("ownerReferences"));
  BOOST_TEST(run.selector() == "nodeboot.io/verify-run=0a1b2c3d");
  BOOST_TEST(spec["nodeName"] == "worker-7");  // no scheduler: cordons and full nodes do not matter
  BOOST_TEST(spec["tolerations"] == json::parse(R"([{"operator":"Exists"}])"));
  BOOST_TEST(spec["restartPolicy"] == "Never");
  BOOST_TEST(spec["activeDeadlineSeconds"] == 90);
  BOOST_TEST(spec["hostPID"] == true);
  BOOST_TEST(spec["automountServiceAccountToken"] == false);
  BOOST_TEST(!spec.contains("priorityClassName"));  // a probe never preempts workloads
  BOOST_TEST(spec["volumes"][0]["configMap"]["name"] == "nodeboot-verify-0a1b2c3d");
  BOOST_REQUIRE_EQUAL(spec["containers"].size(), 2u);
  const json& iscsi = spec["containers"][0];
  BOOST_TEST(iscsi["name"] == "iscsi");
  BOOST_TEST(iscsi["image"] == "docker.io/library/ubuntu:24.04");
  BOOST_TEST(iscsi["command"] == json({"/bin/bash", "/scripts/iscsi-bootstrap.sh", "probe"}));
  BOOST_TEST(iscsi["securityContext"]["privileged"] == true);
  BOOST_TEST(iscsi["terminationMessagePolicy"] == "FallbackToLogsOnError");
  BOOST_TEST(iscsi["resources"] == json::parse(R"({"requests":{"cpu":"10m","memory":"32Mi"},
                                                  "limits":{"cpu":"50m","memory":"64Mi"}})"));
  BOOST_TEST(iscsi["env"] == json::parse(R"([{"name":"NODEBOOT_IN_POD","value":"1"}])"));
  const json& gpu = spec["containers"][1];
  BOOST_TEST(gpu["name"] == "quicksync");
  BOOST_TEST(gpu["command"][1] == "/scripts/gpu-bootstrap.sh");
  BOOST_TEST(gpu["resources"]["limits"] == json::parse(R"({"cpu":"100m","memory":"256Mi"})"));

  // Only the checks asked for; a sub-second timeout still gets a whole-second deadline.
  o.checks = *parse_checks("os,quicksync");
  o.timeout = std::chrono::milliseconds(1500);
  o.namespace_ = "ops";
  const json small = probe_pod(run, o, "worker-7");
  BOOST_TEST(small["spec"]["containers"].size() == 1u);
  BOOST_TEST(small["spec"]["containers"][0]["name"] == "quicksync");
  BOOST_TEST(small["spec"]["activeDeadlineSeconds"] == 2);
  BOOST_TEST(small["metadata"]["namespace"] == "ops");
}

BOOST_AUTO_TEST_CASE(the_configmap_holds_the_scripts_exact_bytes) {
  ProbeOptions o;
  const json cm = probe_configmap(run, o);
  BOOST_TEST(cm["metadata"]["name"] == "nodeboot-verify-0a1b2c3d");
  BOOST_TEST(cm["metadata"]["labels"]["nodeboot.io/verify-run"] == "0a1b2c3d");
  const auto dir = nodeboot::test::source_dir() / "manifests/node-bootstrap";
  BOOST_TEST(cm["data"]["iscsi-bootstrap.sh"] == nodeboot::test::read_file(dir / "iscsi/iscsi-bootstrap.sh"));
  BOOST_TEST(cm["data"]["gpu-bootstrap.sh"] == nodeboot::test::read_file(dir / "gpu/gpu-bootstrap.sh"));
  o.checks = *parse_checks("iscsi");
  BOOST_TEST(probe_configmap(run, o)["data"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(long_node_names_still_give_valid_distinct_pod_names) {
  const std::string a = std::string(240, 'a') + ".example.com", b = std::string(240, 'a') + ".example.org";
  const auto na = run.pod_name(a), nb = run.pod_name(b);
  BOOST_TEST(na.size() <= 253u);
  BOOST_TEST(na != nb);
  BOOST_TEST(std::isalnum(static_cast<unsigned char>(na.back())));
  BOOST_TEST(run.pod_name("n1") == "nodeboot-verify-0a1b2c3d-n1");
}

BOOST_AUTO_TEST_CASE(a_finished_pod_gives_each_containers_result) {
  auto st = probe_state(
      pod_with("Succeeded", {terminated("iscsi", 0, iscsi_ok.dump()), terminated("quicksync", 0, gpu_ok.dump())}));
  BOOST_TEST(st.done);
  BOOST_TEST(st.facts.failure.empty());
  BOOST_TEST(st.facts.pod == "nodeboot-verify-0a1b2c3d-n1");
  BOOST_TEST(json::parse(st.facts.result[1]) == iscsi_ok);
  BOOST_TEST(json::parse(st.facts.result[2]) == gpu_ok);

  // A script that crashed: FallbackToLogsOnError made its last output the message.
  st = probe_state(pod_with("Failed", {terminated("iscsi", 0, iscsi_ok.dump()),
                                       terminated("quicksync", 1, "line one\nnsenter: cannot open /proc/1/ns/mnt\n")}));
  BOOST_TEST(st.done);
  BOOST_TEST(st.facts.result[2].empty());
  BOOST_TEST(st.facts.problem[2] == "exited 1 (Error): nsenter: cannot open /proc/1/ns/mnt");
}

BOOST_AUTO_TEST_CASE(a_rejected_or_stuck_pod_says_why) {
  // The kubelet refused the pod before any container ran.
  auto st = probe_state(pod_with("Failed", json::array(),
                                 {{"reason", "OutOfcpu"}, {"message", "Node didn't have enough resource: cpu"}}));
  BOOST_TEST(st.done);
  BOOST_TEST(st.facts.failure ==
             "probe pod nodeboot-verify-0a1b2c3d-n1 Failed: OutOfcpu: Node didn't have enough resource: cpu");

  // An image that may still come: keep waiting, but a timeout will say why it waited.
  json waiting = {
      {"name", "iscsi"},
      {"state", {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image \"x\""}}}}}};
  st = probe_state(pod_with("Pending", {waiting}));
  BOOST_TEST(!st.done);
  BOOST_TEST(st.detail == "pod Pending: container iscsi ImagePullBackOff: Back-off pulling image \"x\"");
  // One that never will: done now.
  waiting["state"]["waiting"] = {{"reason", "InvalidImageName"}, {"message", "bad"}};
  st = probe_state(pod_with("Pending", {waiting}));
  BOOST_TEST(st.done);
  BOOST_TEST(has(st.facts.failure, "Pending: container iscsi InvalidImageName"));

  st = probe_state(pod_with("Pending", json::array()));
  BOOST_TEST(!st.done);
  BOOST_TEST(has(st.detail, "not started on the node yet"));
  st = probe_state(pod_with("Running", {{{"name", "iscsi"}, {"state", {{"running", json::object()}}}}}));
  BOOST_TEST(!st.done);
  BOOST_TEST(st.detail == "pod Running");
}

BOOST_AUTO_TEST_CASE(probe_results_replace_the_daemonset_verdicts) {
  CheckSet all;
  auto n = nodeboot::plugin::verify::test::ubuntu_node();
  NodeReport r = evaluate(n, nullptr, nullptr, all);  // no DaemonSet pods at all
  ProbeFacts probe{.pod = "p", .failure = "", .result = {"", iscsi_ok.dump(), gpu_ok.dump()}, .problem = {}};
  apply_probe(r, n, probe, all);
  BOOST_TEST(r.source == "probe");
  BOOST_TEST((r.at(Check::iscsi).verdict == Verdict::pass));
  BOOST_TEST((r.at(Check::quicksync).verdict == Verdict::pass));
  BOOST_TEST((r.at(Check::os).verdict == Verdict::pass));

  probe.result[1] = json{{"status", "failed"}, {"reason", "IscsidInactive"}, {"message", "iscsid is inactive"}}.dump();
  BOOST_TEST(check_iscsi(probe).reason == "IscsidInactive: iscsid is inactive");
  probe.result[2] = "";
  probe.problem[2] = "exited 1 (Error): boom";
  BOOST_TEST(check_quicksync(probe, n).reason == "probe pod p: container quicksync exited 1 (Error): boom");
  probe.failure = "probe timed out after 2m0s (pod Running)";
  BOOST_TEST(check_iscsi(probe).reason == "probe timed out after 2m0s (pod Running)");
  probe = {.pod = "p", .failure = "", .result = {"", "", json{{"status", "not-applicable"}}.dump()}, .problem = {}};
  BOOST_TEST((check_quicksync(probe, n).verdict == Verdict::not_applicable));

  // The output says where the verdicts came from.
  Summary s;
  s.add(r);
  std::ostringstream out;
  render_table(out, {r}, all, false);
  BOOST_TEST(has(out.str(), "NODE   OS   ISCSI   QUICKSYNC   SOURCE   MESSAGE"), out.str());
  auto doc = report_document({r}, all, s);
  BOOST_TEST(doc["nodes"][0]["source"] == "probe");
  BOOST_TEST(doc["nodes"][0]["probePod"] == "p");
  BOOST_TEST(report_document({evaluate(n, nullptr, nullptr, all)}, all, s)["nodes"][0]["source"] == "daemonset");
}

BOOST_AUTO_TEST_SUITE_END()
