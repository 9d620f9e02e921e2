#pragma once

// The in-place bootstrap completion controller (seed 003, DESIGN.md "completion"): puts a
// node back once it has come back, with nobody's terminal open. A node is under bootstrap
// while its prior-state record (ConfigMap nodeboot-system/nodeboot-<node>, written by
// `kubectl nodeboot start`) exists. It is back when it is Ready with a bootID other than
// the recorded one and the agent said the final reboot was under way (state Rebooting or
// Joining), or when the Node was re-registered (a new metadata.uid, annotations gone) and
// is Ready on a new boot. Then the controller runs exactly what `kubectl nodeboot finish`
// runs (nodeboot_ipb's finish_node: recorded labels and taints restored, uncordoned
// unless it was cordoned before, state Done, the Secret deleted unless start was given
// --keep-secret, the record deleted) and records an Event on the Node. A node that
// reports no progress within the deadline goes to Failed (reason NoProgress) and loses
// the schedule label, as an agent's own failure does; retry and abort work as usual.
//
// Two informers (the records, and all Nodes trimmed to the few fields read here) feed a
// work queue keyed by node name; deadlines are timed re-checks. Every replica keeps its
// caches warm, only the holder of the Lease nodeboot-ipb-completion writes.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "nodeboot/cli/flags_fwd.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/webhook/controller/leader.hpp"
#include "nodeboot/webhook/controller/runtime.hpp"

namespace nodeboot::webhook::controller {

struct CompletionOptions {
  LeaderOptions leader;
  std::string schedule_label;  // the webhook's --schedule-label: one label for the whole install
  // No progress annotation newer than this: Failed/NoProgress. The agent's own command
  // timeout is an hour and a reboot takes minutes, so two hours is a stuck node.
  std::chrono::milliseconds progress_deadline{std::chrono::hours(2)};
};

// What the controller does about one node, decided from the record and the node alone.
enum class CompletionAction { none, finish, fail_stuck, recheck_later };
struct CompletionPlan {
  CompletionAction action = CompletionAction::none;
  std::string why;                                     // for the Event and the log
  std::chrono::system_clock::time_point recheck_at{};  // recheck_later: when the deadline passes
};
// `record` is the prior-state ConfigMap, `node` the Node (trimmed or full).
CompletionPlan plan_completion(const nlohmann::json& record, const nlohmann::json& node,
                               std::string_view schedule_label, std::chrono::milliseconds progress_deadline,
                               std::chrono::system_clock::time_point now);

class CompletionController {
 public:
  CompletionController(const kube::RestConfig& config, CompletionOptions options);
  ~CompletionController();
  CompletionController(const CompletionController&) = delete;
  CompletionController& operator=(const CompletionController&) = delete;

  void start();
  void stop();  // releases the Lease
  bool synced() const;
  bool leading() const { return rt_.leading(); }
  std::string render_metrics() const;

 private:
  using Clock = std::chrono::steady_clock;
  void enqueue(const std::string& node);
  void enqueue_all();
  bool reconcile(const std::string& name);
  bool finish(const std::string& name, const nlohmann::json& cached, const nlohmann::json& record,
              const std::string& why);
  bool fail_stuck(const nlohmann::json& cached, const std::string& why);

  CompletionOptions options_;
  Runtime rt_;
  kube::Informer* records_ = nullptr;  // owned by rt_
  kube::Informer* nodes_ = nullptr;

  mutable std::mutex mu_;
  std::map<std::string, Clock::time_point> back_since_;  // node → when first seen back (latency metric)
  // UIDs of the records this replica deleted by finishing: until the record informer sees the
  // deletion, a Done node with its record still cached is our own finish, not an interrupted one.
  std::set<std::string> finished_records_;
  Histogram back_to_restored_{{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  std::uint64_t finished_ = 0;
  std::uint64_t stuck_ = 0;
  std::uint64_t api_errors_ = 0;
};

// --enable-completion-controller and --ipb-progress-deadline (the leader-election flags are
// the gate controller's: one set per replica).
void add_completion_flags(cli::Flags& options);
// Its options when --enable-completion-controller is given (nullopt otherwise); an error for
// inconsistent flags. Reads only the flags.
Result<std::optional<CompletionOptions>> completion_options_from_flags(const cli::Parsed& parsed);
std::unique_ptr<CompletionController> start_completion(CompletionOptions options, const kube::RestConfig& config);

}  // namespace nodeboot::webhook::controller
