#pragma once

// The in-place bootstrap's cluster operations on one node, in DESIGN.md's order, as a
// library that knows nothing of argv or terminals (kubectl's pkg/drain is the model).
// Commands under plugin/src/cmd/ are thin: flags in, these calls, output out.
//
// Every operation is idempotent (a second run changes nothing) and leaves, if
// interrupted, a state `status` explains and `abort` reverses: the prior-state record is
// written first and removed last.

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/ipb/drain.hpp"
#include "nodeboot/plugin/ipb/node_state.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::ipb {

enum class DryRun { none, client, server };

// What happened to an object, for kubectl-style output ("node/n1 cordoned") and -o name/json.
struct Change {
  std::string kind;       // "node", "secret", "configmap", "pod"
  std::string name;       // namespace/name for namespaced objects' messages; name for -o name
  std::string verb;       // "cordoned", "created", "configured", "unchanged", "evicted", …
  nlohmann::json object;  // the object as stored (Secret data removed); null when not applicable
};

// Progress lines while an operation runs (drain retries, blocking pods).
using Notify = std::function<void(std::string_view node, std::string_view message)>;

struct Context {
  kube::Client& client;
  std::string schedule_label;
  DryRun dry_run = DryRun::none;
  Notify notify = [](std::string_view, std::string_view) {};
  std::stop_token stop{};  // Ctrl-C: stop between steps, leaving a state `status` explains
};

struct StartSpec {
  bootstrap::SecretData data;  // validated by the caller with bootstrap::parse
  bool drain = false;
  DrainOptions drain_options;
  bool keep_secret = false;  // recorded: the completion controller leaves the Secret
};

// record prior state → cordon → drain (if asked) → create/replace the Secret → its reader
// (Role and RoleBinding nodeboot-<node>: the node's kubelet may get that Secret; one of that
// name that grants anything else stops start) → label.
// First a server-side dry run of the Secret (the admission webhooks answer for it): a
// refusal there changes nothing. A step that fails later (or Ctrl-C between steps) takes
// back what this run did to the node (reader deleted, Secret deleted or put back, uncordon,
// record deleted) and the error says, per object, what was undone; pods a drain removed stay
// removed. Outside a dry run nothing is left half-applied. The run's own checks (the
// DaemonSet's label, RBAC) are check_start's, in preflight.hpp.
Result<std::vector<Change>> start_node(Context& ctx, std::string_view node, const StartSpec& spec);

// Cordon only (kubectl cordon), recording nothing: used by start.
Result<Change> cordon(Context& ctx, std::string_view node);

// kubectl drain: evict (or delete) what plan_drain allows, retrying 429s from
// PodDisruptionBudgets (naming the blocked pods) until options.timeout, then wait for the
// pods to be gone.
Result<std::vector<Change>> drain(Context& ctx, std::string_view node, const DrainOptions& options);

// The prior-state record of `node`, or not_found.
Result<PriorState> read_record(kube::Client& client, std::string_view node);

// The completion steps: restore labels/taints/cordon as recorded, mark Done, delete the
// Secret unless keep_secret, delete its reader (Role, RoleBinding; gone already is fine)
// always, delete the record.
Result<std::vector<Change>> finish_node(Context& ctx, std::string_view node, bool keep_secret);

// Undo a start at any point: schedule label off, labels/taints/cordon exactly as recorded,
// progress annotations removed, the Secret's reader and the record deleted; the Secret stays
// unless delete_secret.
Result<std::vector<Change>> abort_node(Context& ctx, std::string_view node, bool delete_secret);

// A new attempt with the same Secret: attempt + 1, state Pending, the schedule label back.
Result<std::vector<Change>> retry_node(Context& ctx, std::string_view node);

// Follows nodes through the watch API until each is Done or Failed, calling on_progress
// for every change it sees. Display only: putting a node back is the completion
// controller's (nodeboot-webhook --enable-completion-controller) or `finish`'s job; a node
// back on a new boot that is still not Done after waiting_hint_after is reported once
// through ctx.notify, naming both. Reconnects after API server restarts; re-lists after 410 Gone.
struct TrackResult {
  std::vector<std::string> done, failed, pending;  // pending: still running at the deadline/stop
};
struct TrackOptions {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::duration waiting_hint_after = std::chrono::minutes(1);
  std::function<void(const NodeProgress&)> on_progress = [](const NodeProgress&) {};
  std::function<void(const std::string&)> on_done = [](const std::string&) {};
  // Called after each batch of events; returns nodes to add to the tracked set (the roll).
  std::function<std::vector<std::string>(const TrackResult&)> on_tick = [](const TrackResult&) {
    return std::vector<std::string>{};
  };
  // Keep tracking while this says so even when no node is in flight (a roll soaking).
  std::function<bool()> keep_going = [] { return false; };
  // When on_tick wants to run without any event (a soak ending); nullopt = only on events.
  std::function<std::optional<std::chrono::steady_clock::time_point>()> next_wakeup = [] {
    return std::optional<std::chrono::steady_clock::time_point>{};
  };
};
Result<TrackResult> track(Context& ctx, std::vector<std::string> nodes, const TrackOptions& options);

// Secret data elided: what -o json/yaml may print of a bootstrap Secret.
nlohmann::json redact_secret(nlohmann::json secret);

}  // namespace nodeboot::plugin::ipb
