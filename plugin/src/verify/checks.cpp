#include "nodeboot/plugin/verify/checks.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <regex>

#include "nodeboot/names.hpp"

namespace nodeboot::plugin::verify {
namespace {

using nlohmann::json;

CheckResult pass(std::string reason) { return {Verdict::pass, std::move(reason)}; }
CheckResult fail(std::string reason) { return {Verdict::fail, std::move(reason)}; }

int kernel_major(const std::string& kernel) {
  int major = 0;
  auto [ptr, ec] = std::from_chars(kernel.data(), kernel.data() + kernel.size(), major);
  return ec == std::errc() ? major : -1;
}

// A result line that parses, says ok or not-applicable: the document; otherwise the failure.
// `who` names where it came from in messages ("pod p", "probe pod p"); `context` follows a
// failed result's reason.
std::expected<json, CheckResult> good_result(const std::string& text, const std::string& who,
                                             const std::string& context = "") {
  auto doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("status"))
    return std::unexpected(fail(who + ": the bootstrap result is not the expected JSON line"));
  const std::string status = doc.value("status", "");
  if (status != "ok" && status != "not-applicable")
    return std::unexpected(fail(doc.value("reason", status) + ": " + doc.value("message", "") + context));
  return doc;
}

// The pod-level part shared by both DaemonSet checks: a pod that exists and has finished
// bootstrapping with a result that parses. Returns the result, or the failure.
std::expected<json, CheckResult> bootstrap_result(const PodFacts* pod, std::string_view daemonset) {
  if (!pod)
    return std::unexpected(
        fail("no " + std::string(daemonset) + " pod (DaemonSet not applied, or its tolerations exclude the node)"));
  if (!pod->has_bootstrap)
    return std::unexpected(fail("pod " + pod->name +
                                " has no bootstrap container to report a result (not the node-bootstrap " +
                                "DaemonSet?): apply manifests/node-bootstrap"));
  if (pod->result.empty()) {
    if (pod->waiting.empty())
      return std::unexpected(fail("pod " + pod->name + ": the bootstrap container exited without a result"));
    return std::unexpected(fail("pod " + pod->name + " is still bootstrapping (" + pod->waiting + ")"));
  }
  auto doc = good_result(pod->result, "pod " + pod->name, pod->waiting.empty() ? "" : " (pod " + pod->waiting + ")");
  if (!doc) return doc;
  if (!pod->ready)
    return std::unexpected(fail("pod " + pod->name + " is not Ready: its readiness probe no longer finds the " +
                                "capability that bootstrap reported (" +
                                doc->value("message", doc->value("status", "")) + ")"));
  return doc;
}

// The probe's part: the whole pod ran, and this check's container left a result.
std::expected<json, CheckResult> probe_result(const ProbeFacts& probe, Check c) {
  if (!probe.failure.empty()) return std::unexpected(fail(probe.failure));
  const auto i = static_cast<size_t>(c);
  if (probe.result[i].empty())
    return std::unexpected(fail("probe pod " + probe.pod + ": container " + std::string(check_name(c)) + " " +
                                (probe.problem[i].empty() ? "left no result" : probe.problem[i])));
  return good_result(probe.result[i], "probe pod " + probe.pod);
}

// What an ok / not-applicable result says, whoever produced it.
CheckResult iscsi_verdict(const json& doc) {
  if (doc.value("status", "") != "ok") return fail("unexpected result " + doc.value("status", ""));
  if (doc.value("iscsid", "") != "active" || doc.value("iscsiTcp", false) != true)
    return fail("result says iscsid " + doc.value("iscsid", "?") + ", iscsi_tcp " +
                (doc.value("iscsiTcp", false) ? "loaded" : "not loaded"));
  return pass("iscsid active, iscsi_tcp loaded");
}

CheckResult quicksync_verdict(const json& doc, const NodeFacts& node) {
  const bool nfd_says_gpu = node.nfd_gpu && *node.nfd_gpu == "true";
  if (doc.value("status", "") == "not-applicable") {
    if (nfd_says_gpu)
      return fail("bootstrap found no Intel GPU but NFD labels the node " + std::string(names::nfd_intel_gpu_label) +
                  "=true");
    return {Verdict::not_applicable, "no Intel GPU on this node"};
  }
  const std::string driver = doc.value("vaDriver", "");
  const auto encode = doc.value("encode", json::array());
  if (driver.find("iHD") == std::string::npos || encode.empty())
    return fail("result reports VA driver \"" + driver + "\" with " + std::to_string(encode.size()) +
                " encode profiles; QuickSync needs iHD with an encode entrypoint");
  if (node.i915_allocatable && *node.i915_allocatable <= 0)
    return fail(std::string(names::intel_i915_resource) + " allocatable is 0: the Intel GPU device plugin sees no GPU");
  if (node.nfd_gpu && !nfd_says_gpu)
    return fail("NFD label " + std::string(names::nfd_intel_gpu_label) + "=" + *node.nfd_gpu);
  std::string reason = "iHD, encode";
  for (const auto& p : encode) reason += " " + (p.is_string() ? p.get<std::string>() : p.dump());
  if (node.i915_allocatable) reason += ", " + std::to_string(*node.i915_allocatable) + " i915 allocatable";
  if (nfd_says_gpu) reason += ", NFD gpu=true";
  return pass(reason);
}

}  // namespace

std::string_view check_name(Check c) {
  switch (c) {
    case Check::os:
      return "os";
    case Check::iscsi:
      return "iscsi";
    case Check::quicksync:
      return "quicksync";
  }
  return "?";
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
    case Verdict::not_applicable:
      return "not-applicable";
    case Verdict::skipped:
      return "skipped";
  }
  return "?";
}

Result<CheckSet> parse_checks(std::string_view csv) {
  CheckSet set{{false, false, false}};
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view item = csv.substr(start, end - start);
    bool known = false;
    for (Check c : all_checks)
      if (item == check_name(c)) {
        set.on[static_cast<size_t>(c)] = true;
        known = true;
      }
    if (!known)
      return fail(ErrorKind::invalid_input,
                  "--checks: unknown check \"" + std::string(item) + "\"; choose from os,iscsi,quicksync");
    start = end + 1;
  }
  return set;
}

CheckResult check_os(const NodeFacts& node) {
  if (!node.ready) return fail("node is not Ready" + (node.ready_detail.empty() ? "" : ": " + node.ready_detail));
  if (node.arch != "amd64")
    return fail("architecture " + (node.arch.empty() ? "unknown" : node.arch) + ": requires x86_64 (amd64)");
  static const std::regex ubuntu(R"(^Ubuntu (22\.04|24\.04)(\.\d+)? LTS\b.*)");
  if (!std::regex_match(node.os_image, ubuntu))
    return fail("OS image \"" + node.os_image + "\": requires Ubuntu 22.04 or 24.04 LTS");
  if (kernel_major(node.kernel) < 5)
    return fail("kernel " + node.kernel + ": i915 QuickSync support needs kernel 5.x or newer");
  return pass(node.os_image + ", kernel " + node.kernel + ", amd64");
}

CheckResult check_iscsi(const PodFacts* pod) {
  auto doc = bootstrap_result(pod, names::iscsi_daemonset);
  return doc ? iscsi_verdict(*doc) : doc.error();
}

CheckResult check_quicksync(const PodFacts* pod, const NodeFacts& node) {
  auto doc = bootstrap_result(pod, names::gpu_daemonset);
  return doc ? quicksync_verdict(*doc, node) : doc.error();
}

CheckResult check_iscsi(const ProbeFacts& probe) {
  auto doc = probe_result(probe, Check::iscsi);
  return doc ? iscsi_verdict(*doc) : doc.error();
}

CheckResult check_quicksync(const ProbeFacts& probe, const NodeFacts& node) {
  auto doc = probe_result(probe, Check::quicksync);
  return doc ? quicksync_verdict(*doc, node) : doc.error();
}

bool NodeReport::failed() const {
  return std::ranges::any_of(checks, [](const auto& c) { return c.verdict == Verdict::fail; });
}

NodeReport evaluate(const NodeFacts& node, const PodFacts* iscsi, const PodFacts* gpu, const CheckSet& checks) {
  NodeReport r;
  r.name = node.name;
  r.os_image = node.os_image;
  r.kernel = node.kernel;
  r.iscsi_pod = iscsi ? iscsi->name : "";
  r.gpu_pod = gpu ? gpu->name : "";
  if (checks.has(Check::os)) r.checks[0] = check_os(node);
  if (checks.has(Check::iscsi)) r.checks[1] = check_iscsi(iscsi);
  if (checks.has(Check::quicksync)) r.checks[2] = check_quicksync(gpu, node);
  return r;
}

void apply_probe(NodeReport& report, const NodeFacts& node, const ProbeFacts& probe, const CheckSet& checks) {
  report.source = "probe";
  report.probe_pod = probe.pod;
  if (checks.has(Check::iscsi)) report.checks[1] = check_iscsi(probe);
  if (checks.has(Check::quicksync)) report.checks[2] = check_quicksync(probe, node);
}

bool prefer(const PodFacts& candidate, const PodFacts& current) {
  if (candidate.deleting != current.deleting) return !candidate.deleting;
  return candidate.ready && !current.ready;
}

void Summary::add(const NodeReport& r) {
  ++nodes;
  (r.failed() ? failed : passed)++;
  for (size_t i = 0; i < r.checks.size(); ++i) {
    if (r.checks[i].verdict == Verdict::fail) ++failed_by_check[i];
    if (r.checks[i].verdict == Verdict::not_applicable) ++not_applicable_by_check[i];
  }
}

std::string Summary::line() const {
  std::string s = std::to_string(nodes) + (nodes == 1 ? " node: " : " nodes: ") + std::to_string(passed) + " passed, " +
                  std::to_string(failed) + " failed";
  std::string by;
  for (Check c : all_checks)
    if (auto n = failed_by_check[static_cast<size_t>(c)])
      by += (by.empty() ? "" : ", ") + std::string(check_name(c)) + " " + std::to_string(n);
  if (!by.empty()) s += " (" + by + ")";
  if (auto na = not_applicable_by_check[static_cast<size_t>(Check::quicksync)])
    s += "; quicksync not applicable on " + std::to_string(na);
  return s;
}

}  // namespace nodeboot::plugin::verify
