#pragma once

// The gate-release controller (seed 004): the webhook gates and pins a marooned pod; this
// issues the pod's single-use join credential (Secret nodeboot-marooned/marooned-join-<id>),
// vouches for the node that proves it holds it (label node-restriction.kubernetes.io/
// maroonedpods.io-pod-uid, owner pod uid; see nodeboot/marooned/join.hpp), removes the gate
// once that node is Ready, schedulable and tainted for it, and cordons and marks that node
// for cleanup when the pod (by metadata.uid) is gone or finished. Two live pods claiming
// one id (only possible past the webhook) get neither release nor cleanup.
//
// Event-driven: two informers (marooned pods, marooned nodes) feed a de-duplicating work
// queue keyed by pod; a node event queues the pod with the node's id. Nothing polls: a pod
// whose node is not ready yet is simply dropped from the queue until the next node event,
// and only API failures are retried, with per-pod exponential backoff. Every replica keeps
// its caches warm (readiness), only the Lease holder writes.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/flags_fwd.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "nodeboot/webhook/controller/leader.hpp"
#include "nodeboot/webhook/controller/runtime.hpp"

namespace nodeboot::webhook::controller {

// The gate-release controller's decision about one pod, as a pure function of what its
// caches hold and of what this replica has done or read so far (plan_gate). The controller
// gathers GateInputs, carries out the plan's action and, when that action was a read or a
// write whose result changes the decision (the credential read, the credential issued, a
// node vouched), plans again with the result.
enum class GateAction {
  nothing,           // released, running, not ours, or not the leader's to clean up
  conflict,          // two live pods claim the id: a Warning, nothing released or cleaned up
  read_credential,   // the decision needs the pod's join credential Secret: GET it, plan again
  issue_credential,  // no node presented a proof and none was issued: create it, plan again
  vouch,             // nodes presented proofs: vouch for the first valid one that can be patched
  wait,              // no eligible node yet: a WaitingForNode event (once)
  release,           // remove the gate (`patch`)
  clean_up,          // the pod is gone or finished: its credential and its node
  fail,              // the inputs cannot be read (a broken credential Secret): retry with backoff
};

struct VouchCandidate {
  nlohmann::json node;
  std::string refusal;  // empty: the proof matches the credential; else the JoinRefused warning
};

// What the credential lookup (GateAction::read_credential) found.
struct CredentialLookup {
  bool read = false;
  std::optional<nlohmann::json> secret;  // nullopt after a read: not found
};

struct GateInputs {
  std::optional<nlohmann::json> pod;       // the cached pod; nullopt: deleted, its node may need cleanup
  std::string id;                          // the pod's marooned id (recorded at deletion for a deleted pod)
  std::string pod_uid;                     // metadata.uid (likewise)
  std::vector<std::string> claimant_uids;  // metadata.uid of each live pod claiming `id`
  std::vector<nlohmann::json> nodes;       // cached nodes claiming `id`
  std::string taint_key;
  bool leading = false;
  bool issued = false;    // this replica created or found the pod's credential
  bool released = false;  // this replica removed the gate; the cache has not caught up
  CredentialLookup credential;
  bool vouch_tried = false;  // every valid proof was tried; none of the nodes could be patched
};

struct GatePlan {
  GateAction action = GateAction::nothing;
  std::string message;                     // conflict, wait, fail: the event's or the log's text
  std::vector<std::string> refusals;       // JoinRefused warnings to give before the action
  std::vector<VouchCandidate> candidates;  // vouch: the nodes that presented a proof, in order
  std::string node_name;                   // wait (when a node is vouched), release
  nlohmann::json patch;                    // release: the guarded gate removal
  bool delete_credential = false;          // clean_up: the Secret read is the pod's unspent credential
  std::vector<std::string> cordon;         // clean_up: nodes vouched for this very pod, not yet cordoned
};

GatePlan plan_gate(const GateInputs& in);

struct ControllerOptions {
  LeaderOptions leader;
  // The taint key prefix from MaroonedPodsConfig `default` (the webhook's ClusterView).
  std::function<std::string()> taint_key;
};

class GateController {
 public:
  GateController(const kube::RestConfig& config, ControllerOptions options);
  ~GateController();
  GateController(const GateController&) = delete;
  GateController& operator=(const GateController&) = delete;

  void start();
  // Stops writing, releases the Lease (so another replica takes over at once), stops the caches.
  void stop();

  bool synced() const;
  bool leading() const { return rt_.leading(); }
  // Prometheus text: gated pods, releases, node-ready-to-release latency, leadership.
  std::string render_metrics() const;

 private:
  using Clock = std::chrono::steady_clock;
  void on_pod(const nlohmann::json& pod);
  void on_pod_deleted(const nlohmann::json& pod);
  void on_node(const nlohmann::json& node);
  void on_node_deleted(const nlohmann::json& node);
  // Cached nodes claiming `id` (their own label).
  std::vector<nlohmann::json> nodes_claiming(const std::string& id) const;
  void enqueue(const std::string& key);
  void enqueue_all();
  // false: failed in a way worth retrying.
  bool reconcile(const std::string& key);
  // Plans and carries out the plan until it needs nothing more (false: retry).
  bool run(GateInputs in, const std::string& why);
  // The I/O of one step; each returns false to retry, or updates `in` for the next plan.
  bool issue(const nlohmann::json& pod, GateInputs& in);
  bool vouch(const nlohmann::json& pod, const GatePlan& plan, GateInputs& in);
  bool release(const nlohmann::json& pod, const GateInputs& in, const GatePlan& plan);
  bool clean_up(const GateInputs& in, const GatePlan& plan, const std::string& why);
  // Logs a failed vouching step (the credential's issue, read or use) and counts it: false.
  bool failed(const std::string& id, const std::string& message);
  // Deletes this incarnation of a join credential Secret (gone already is fine).
  Result<void> delete_credential(const nlohmann::json& secret);
  // A Warning event and an error log line, once per pod and message.
  void warn_once(const nlohmann::json& pod, const std::string& reason, const std::string& message);
  // Queues an Event for the recorder thread: Events are for people, and writing them on the
  // worker's path cost every queued pod two extra round trips before its release.
  void event(const nlohmann::json& pod, const std::string& reason, const std::string& message,
             const char* type = "Normal");

  ControllerOptions options_;
  Runtime rt_;
  kube::Informer* pods_ = nullptr;  // owned by rt_
  kube::Informer* nodes_ = nullptr;

  mutable std::mutex mu_;
  struct PodRef {
    std::string id;
    std::string uid;  // metadata.uid
  };
  std::map<std::string, std::set<std::string>> pods_by_id_;   // marooned id → live "ns/name" claiming it
  std::map<std::string, PodRef> id_by_pod_;                   // "ns/name" → id, kept after deletion until cleaned up
  std::set<std::string> deleted_pods_;                        // keys whose pod is gone and whose node needs cleanup
  std::map<std::string, std::set<std::string>> nodes_by_id_;  // marooned id → names of nodes claiming it
  std::map<std::string, Clock::time_point> eligible_since_;   // id → when its node was first seen eligible
  std::set<std::string> gated_;                               // keys of gated pods (the gauge)
  std::set<std::string> issued_;  // ids whose credential this replica created or found (saves a create per event)
  std::map<std::string, std::set<std::string>> told_;  // pod uid → events already given (one of each)
  // Pod uids whose gate this replica removed while its cache still shows the gate: a node
  // heartbeat queues the pod again before the informer catches up, and a second patch
  // (and NodeReady event) would only fail its `test`.
  std::set<std::string> released_uids_;

  // Metrics.
  Histogram ready_to_release_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  std::uint64_t released_ = 0;
  std::uint64_t cleaned_ = 0;
  std::uint64_t vouched_ = 0;
  std::uint64_t api_errors_ = 0;
};

// --enable-gate-controller and the leader-election flags.
void add_flags(cli::Flags& options);
// The leader-election flags, for the Lease named `lease` (one per controller).
Result<LeaderOptions> leader_from_flags(const cli::Parsed& parsed, std::string_view lease);
// Its Lease settings when --enable-gate-controller is given (nullopt otherwise); an error
// for inconsistent leader-election flags. Reads only the flags: nodeboot-webhook checks
// every flag before it starts anything.
Result<std::optional<LeaderOptions>> gate_leader_from_flags(const cli::Parsed& parsed);
// Starts the controller and wraps `cluster` so /readyz also waits for its caches.
std::unique_ptr<GateController> start_gate(LeaderOptions leader, const kube::RestConfig& config,
                                           std::shared_ptr<ClusterView>& cluster);

}  // namespace nodeboot::webhook::controller
