#pragma once

// `kubectl nodeboot verify`'s judgement: compact facts about a node and its bootstrap pods
// in, one verdict with a reason per check out. Pure (no I/O), so every rule is unit-tested;
// collect.hpp turns API objects into these facts.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::verify {

enum class Check { os, iscsi, quicksync };
inline constexpr std::array<Check, 3> all_checks{Check::os, Check::iscsi, Check::quicksync};
std::string_view check_name(Check c);

// Which checks run: parsed from --checks ("os,iscsi,quicksync").
struct CheckSet {
  std::array<bool, 3> on{true, true, true};
  bool has(Check c) const { return on[static_cast<size_t>(c)]; }
};
Result<CheckSet> parse_checks(std::string_view csv);

// What verify needs from a Node: a few hundred bytes, however large the object.
struct NodeFacts {
  std::string name;
  bool ready = false;
  std::string ready_detail;  // the Ready condition's reason and message when not Ready
  std::string os_image, kernel, arch;
  std::optional<long long> i915_allocatable;  // status.allocatable["gpu.intel.com/i915"]
  std::optional<std::string> nfd_gpu;         // label intel.feature.node.kubernetes.io/gpu
};

// What verify needs from a bootstrap DaemonSet pod.
struct PodFacts {
  std::string name;
  std::string node;
  bool deleting = false;
  bool ready = false;
  std::string waiting;         // why it is not running yet (the init container's or pod's state)
  bool has_bootstrap = false;  // the pod reports a `bootstrap` init container (not the seed's DaemonSet)
  std::string result;          // its termination message: the one-line JSON result ("" = none yet)
};

// What a `verify --deep` probe pod left for its node: one container per check, each leaving
// the script's probe result line as its termination message.
struct ProbeFacts {
  std::string pod;
  std::string failure;                   // no result at all: "probe timed out after 2m (pod Running)"
  std::array<std::string, 3> result{};   // by Check: that container's result line ("" = none)
  std::array<std::string, 3> problem{};  // by Check: how that container ended without one
};

enum class Verdict { pass, fail, not_applicable, skipped };
std::string_view verdict_name(Verdict v);  // "pass", "fail", "not-applicable", "skipped"

struct CheckResult {
  Verdict verdict = Verdict::skipped;
  std::string reason;
};

struct NodeReport {
  std::string name;
  std::array<CheckResult, 3> checks;  // indexed by Check
  std::string os_image, kernel, iscsi_pod, gpu_pod;
  std::string source = "daemonset";  // where the iscsi/quicksync verdicts come from: "daemonset" or "probe"
  std::string probe_pod;
  bool failed() const;
  const CheckResult& at(Check c) const { return checks[static_cast<size_t>(c)]; }
};

CheckResult check_os(const NodeFacts& node);
CheckResult check_iscsi(const PodFacts* pod);
CheckResult check_quicksync(const PodFacts* pod, const NodeFacts& node);
// The same verdicts from a --deep probe's results.
CheckResult check_iscsi(const ProbeFacts& probe);
CheckResult check_quicksync(const ProbeFacts& probe, const NodeFacts& node);

// Runs the selected checks; `iscsi` / `gpu` are the node's pods (nullptr: none).
NodeReport evaluate(const NodeFacts& node, const PodFacts* iscsi, const PodFacts* gpu, const CheckSet& checks);
// --deep: the probe's verdicts replace the DaemonSet pods' iscsi and quicksync ones (os stays).
void apply_probe(NodeReport& report, const NodeFacts& node, const ProbeFacts& probe, const CheckSet& checks);

// When a node has several pods of one DaemonSet (a rollout): keep the one that speaks for
// it now (not being deleted, then Ready). Returns whether `candidate` should replace `current`.
bool prefer(const PodFacts& candidate, const PodFacts& current);

struct Summary {
  size_t nodes = 0, passed = 0, failed = 0;
  std::array<size_t, 3> failed_by_check{};
  std::array<size_t, 3> not_applicable_by_check{};
  void add(const NodeReport& r);
  std::string line() const;  // "3 nodes: 1 passed, 2 failed (iscsi 1, quicksync 1)"
};

}  // namespace nodeboot::plugin::verify
