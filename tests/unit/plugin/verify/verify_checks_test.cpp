// verify's rules, one by one, on hand-built facts; and the API objects → facts extraction.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/plugin/verify/collect.hpp"
#include "nodeboot/plugin/verify/render.hpp"
#include "verify_facts.hpp"

using namespace nodeboot::plugin::verify;
using nlohmann::json;
using nodeboot::plugin::verify::test::ubuntu_node;

namespace {

PodFacts pod(const json& result, bool ready = true) {
  return {.name = "p",
          .node = "n1",
          .deleting = false,
          .ready = ready,
          .waiting = "",
          .has_bootstrap = true,
          .result = result.is_null() ? "" : result.dump()};
}

const json gpu_ok = {{"status", "ok"}, {"vaDriver", "Intel iHD driver"}, {"encode", {"H264Main"}}};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_checks)

BOOST_AUTO_TEST_CASE(os_accepts_the_seeds_ubuntu_releases_only) {
  auto n = ubuntu_node();
  BOOST_TEST((check_os(n).verdict == Verdict::pass));
  n.os_image = "Ubuntu 22.04.5 LTS";
  BOOST_TEST((check_os(n).verdict == Verdict::pass));
  for (const char* bad : {"Ubuntu 20.04.6 LTS", "Debian GNU/Linux 12 (bookworm)", "Ubuntu 24.10", ""}) {
    n.os_image = bad;
    BOOST_TEST((check_os(n).verdict == Verdict::fail), bad);
  }
}

BOOST_AUTO_TEST_CASE(os_checks_readiness_architecture_and_kernel) {
  auto n = ubuntu_node();
  n.kernel = "4.15.0-213-generic";
  BOOST_TEST(has(check_os(n).reason, "kernel 4.15.0-213-generic"));
  n = ubuntu_node();
  n.arch = "arm64";
  BOOST_TEST(has(check_os(n).reason, "architecture arm64"));
  n = ubuntu_node();
  n.ready = false;
  n.ready_detail = "KubeletNotReady";
  BOOST_TEST(check_os(n).reason == "node is not Ready: KubeletNotReady");
}

BOOST_AUTO_TEST_CASE(iscsi_needs_a_ready_pod_with_a_good_result) {
  const json ok = {{"status", "ok"}, {"iscsid", "active"}, {"iscsiTcp", true}};
  BOOST_TEST((check_iscsi(nullptr).verdict == Verdict::fail));
  auto p = pod(ok);
  BOOST_TEST((check_iscsi(&p).verdict == Verdict::pass));
  p = pod(ok, false);
  BOOST_TEST(has(check_iscsi(&p).reason, "is not Ready"));
  p = pod({{"status", "ok"}, {"iscsid", "inactive"}, {"iscsiTcp", true}});
  BOOST_TEST(has(check_iscsi(&p).reason, "iscsid inactive"));
  p = pod({{"status", "unsupported"}, {"reason", "UnsupportedDistro"}, {"message", "RHCOS is not supported"}});
  BOOST_TEST(check_iscsi(&p).reason == "UnsupportedDistro: RHCOS is not supported");
  p = pod(nullptr);
  p.has_bootstrap = false;
  BOOST_TEST(has(check_iscsi(&p).reason, "not the node-bootstrap DaemonSet"));
  p.result = "not json";
  p.has_bootstrap = true;
  BOOST_TEST(has(check_iscsi(&p).reason, "not the expected JSON"));
}

BOOST_AUTO_TEST_CASE(quicksync_uses_the_device_plugin_and_nfd_when_present) {
  auto n = ubuntu_node();
  auto p = pod(gpu_ok);
  BOOST_TEST((check_quicksync(&p, n).verdict == Verdict::pass));
  n.i915_allocatable = 0;
  BOOST_TEST(has(check_quicksync(&p, n).reason, "gpu.intel.com/i915 allocatable is 0"));
  n.i915_allocatable = 2;
  n.nfd_gpu = "false";
  BOOST_TEST((check_quicksync(&p, n).verdict == Verdict::fail));
  n.nfd_gpu = "true";
  BOOST_TEST(check_quicksync(&p, n).reason == "iHD, encode H264Main, 2 i915 allocatable, NFD gpu=true");
  p = pod({{"status", "ok"}, {"vaDriver", "Intel i965 driver"}, {"encode", {"H264Main"}}});
  BOOST_TEST((check_quicksync(&p, n).verdict == Verdict::fail));
}

BOOST_AUTO_TEST_CASE(quicksync_is_not_applicable_without_an_intel_gpu_unless_nfd_disagrees) {
  auto n = ubuntu_node();
  auto p = pod({{"status", "not-applicable"}, {"reason", "NoIntelGPU"}});
  BOOST_TEST((check_quicksync(&p, n).verdict == Verdict::not_applicable));
  n.nfd_gpu = "true";
  BOOST_TEST((check_quicksync(&p, n).verdict == Verdict::fail));
}

BOOST_AUTO_TEST_CASE(checks_flag_parses_and_names_bad_items) {
  auto s = parse_checks("os,quicksync");
  BOOST_REQUIRE(s.has_value());
  BOOST_TEST(s->has(Check::os));
  BOOST_TEST(!s->has(Check::iscsi));
  auto bad = parse_checks("os,,iscsi");
  BOOST_REQUIRE(!bad.has_value());
  BOOST_TEST(has(bad.error().message, "unknown check \"\""));
}

BOOST_AUTO_TEST_CASE(a_rollout_keeps_the_pod_that_speaks_for_the_node_now) {
  auto old_pod = pod(gpu_ok), new_pod = pod(gpu_ok, false);
  old_pod.deleting = true;
  BOOST_TEST(prefer(new_pod, old_pod));
  BOOST_TEST(!prefer(old_pod, new_pod));
}

BOOST_AUTO_TEST_CASE(facts_come_from_node_and_pod_objects) {
  auto node = json::parse(R"({"metadata":{"name":"n1","labels":{"intel.feature.node.kubernetes.io/gpu":"true"}},
    "status":{"allocatable":{"gpu.intel.com/i915":"1"},"conditions":[{"type":"Ready","status":"False",
    "reason":"KubeletNotReady","message":"PLEG is not healthy"}],"nodeInfo":{"osImage":"Ubuntu 24.04.1 LTS",
    "kernelVersion":"6.8.0","architecture":"amd64"}}})");
  auto f = node_facts(node);
  BOOST_TEST(f.name == "n1");
  BOOST_TEST(!f.ready);
  BOOST_TEST(f.ready_detail == "KubeletNotReady: PLEG is not healthy");
  BOOST_TEST(f.i915_allocatable.value_or(-1) == 1);
  BOOST_TEST(f.nfd_gpu.value_or("") == "true");

  auto p = json::parse(R"({"metadata":{"name":"p1","labels":{"app":"rke2-node-bootstrap-iscsi"}},
    "spec":{"nodeName":"n1"},"status":{"conditions":[{"type":"Ready","status":"False"}],
    "initContainerStatuses":[{"name":"bootstrap","state":{"waiting":{"reason":"CrashLoopBackOff"}},
    "lastState":{"terminated":{"exitCode":1,"message":"{\"status\":\"failed\"}"}}}]}})");
  BOOST_TEST((pod_kind(p) == Check::iscsi));
  auto pf = pod_facts(p);
  BOOST_TEST(pf.node == "n1");
  BOOST_TEST(pf.has_bootstrap);
  BOOST_TEST(pf.result == R"({"status":"failed"})");
  BOOST_TEST(pf.waiting == "bootstrap CrashLoopBackOff");
  BOOST_TEST(!pod_kind(json::parse(R"({"metadata":{"labels":{"app":"other"}}})")).has_value());
}

BOOST_AUTO_TEST_CASE(lists_are_paged_and_select_the_bootstrap_pods) {
  using nodeboot::kube::list_request;
  namespace res = nodeboot::kube::resources;
  BOOST_TEST(list_request(res::nodes, "", nodes_list({{}, "role in (a,b)"})).target() ==
             "/api/v1/nodes?labelSelector=role%20in%20%28a%2Cb%29&limit=500");
  BOOST_TEST(list_request(res::pods, "kube-system", pods_list("n1")).target() ==
             "/api/v1/namespaces/kube-system/pods?labelSelector=app%20in%20%28rke2-node-bootstrap-iscsi%2C"
             "rke2-node-bootstrap-gpu%29&fieldSelector=spec.nodeName%3Dn1&limit=500");
}

BOOST_AUTO_TEST_CASE(table_and_summary) {
  CheckSet all;
  auto n = ubuntu_node();
  auto good = pod({{"status", "ok"}, {"iscsid", "active"}, {"iscsiTcp", true}});
  std::vector<NodeReport> reports{evaluate(n, &good, nullptr, all)};
  Summary s;
  s.add(reports[0]);
  BOOST_TEST(s.line() == "1 node: 0 passed, 1 failed (quicksync 1)");
  std::ostringstream out;
  render_table(out, reports, all, false);
  BOOST_TEST(out.str() ==
             "NODE   OS   ISCSI   QUICKSYNC   MESSAGE\n"
             "n1     ok   ok      FAIL        quicksync: no rke2-node-bootstrap-gpu pod (DaemonSet not applied, or its "
             "tolerations exclude the node)\n");
  auto doc = report_document(reports, all, s);
  BOOST_TEST(doc["nodes"][0]["checks"]["iscsi"]["verdict"] == "pass");
  BOOST_TEST(doc["summary"]["failedByCheck"]["quicksync"] == 1);
}

BOOST_AUTO_TEST_SUITE_END()
