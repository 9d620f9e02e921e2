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
#include <cstdint>
#include <condition_variable>
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

#include <cxxopts.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "nodeboot/webhook/controller/leader.hpp"
#include "nodeboot/webhook/controller/runtime.hpp"

namespace nodeboot::webhook::controller {

struct ControllerOptions {
  LeaderOptions leader;
  // The taint key prefix from MaroonedPodsConfig `default` (the webhook's ClusterView).
  std::function<std::string()> taint_key;
};

class GateController {
 public:
  GateController(kube::RestConfig config, ControllerOptions options);
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
  // The node vouched for `id`, vouching for one that presented a valid proof (and issuing
  // the pod's credential first when there is none); nullopt while none has.
  Result<std::optional<nlohmann::json>> vouched_node(const nlohmann::json& pod, const std::string& id);
  void enqueue(const std::string& key);
  void enqueue_all();
  // false: failed in a way worth retrying.
  bool reconcile(const std::string& key);
  bool release(const nlohmann::json& pod, const std::string& id, const std::optional<nlohmann::json>& node);
  bool clean_up(const std::string& id, const std::string& pod_uid, const std::string& why);
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
  std::set<std::string> gated_;                    // keys of gated pods (the gauge)
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
void add_flags(cxxopts::Options& options);
// The leader-election flags, for the Lease named `lease` (one per controller).
Result<LeaderOptions> leader_from_flags(const cxxopts::ParseResult& parsed, std::string_view lease);
// Starts the controller when --enable-gate-controller is given (nullptr otherwise; an error
// for inconsistent leader-election flags) and
// wraps `cluster` so /readyz also waits for the controller's caches.
Result<std::unique_ptr<GateController>> start_from_flags(const cxxopts::ParseResult& parsed,
                                                         const kube::RestConfig& config,
                                                         std::shared_ptr<ClusterView>& cluster);

}  // namespace nodeboot::webhook::controller
