#pragma once

// kubectl drain's semantics (kubernetes/kubectl pkg/drain): which pods on a node may be
// removed, which are skipped, and which block the drain until a flag says otherwise.
// The filtering is pure; the eviction loop (with its PodDisruptionBudget retries) is in
// node_ops.hpp.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace nodeboot::plugin::ipb {

struct DrainOptions {
  bool ignore_daemonsets = false;
  bool delete_emptydir_data = false;
  bool force = false;                                // also pods without a controller
  std::optional<std::int64_t> grace_period_seconds;  // unset: the pod's own
  std::chrono::seconds timeout{0};                   // 0 = wait forever, as kubectl
  std::string pod_selector;
  bool disable_eviction = false;  // DELETE instead of evict: bypasses PodDisruptionBudgets
};

struct DrainPlan {
  std::vector<nlohmann::json> remove;  // pods to evict (or delete)
  std::vector<std::string> warnings;   // kubectl's "Warning: ignoring DaemonSet-managed Pods: ns/a, ns/b"
  std::vector<std::string> errors;     // kubectl's "cannot delete …: ns/a" — any makes the drain fail
};

// `pods` are the pods bound to the node (already narrowed by the pod selector).
DrainPlan plan_drain(const std::vector<nlohmann::json>& pods, const DrainOptions& options);

// "namespace/name" of a pod, as kubectl names them in drain messages.
std::string pod_ref(const nlohmann::json& pod);

}  // namespace nodeboot::plugin::ipb
