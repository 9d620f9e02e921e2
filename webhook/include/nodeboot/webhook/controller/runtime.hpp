#pragma once

// What every controller in nodeboot-webhook shares: a de-duplicating work queue drained by
// one or more worker threads, never two on one key, with per-key exponential backoff for
// failed keys and timed re-checks (client-go's workqueue with its default rate limiter and
// controller-runtime's MaxConcurrentReconciles, in small); the Event recorder, a
// bounded queue written by its own thread so Events never hold up the work; and a latency
// histogram in Prometheus' text format.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/webhook/controller/leader.hpp"

namespace nodeboot::webhook::controller {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  // false: failed in a way worth retrying (1 s doubling to 5 min per key).
  using Reconcile = std::function<bool(const std::string& key)>;

  // `workers` threads reconcile at once, each a different key.
  explicit WorkQueue(Reconcile reconcile, std::size_t workers = 1);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void start();
  void stop();  // what is still queued is dropped
  // Queued once however often it is added before a worker takes it; added while a worker
  // has it, it is queued again when that worker is done (never two workers on one key).
  void add(const std::string& key);
  // Queued at `when` (a deadline to check); an earlier add still runs it at once.
  void add_at(const std::string& key, Clock::time_point when);

 private:
  void work(const std::stop_token& stop);

  Reconcile reconcile_;
  std::size_t worker_count_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<std::string> queue_;     // ready, none of them in processing_
  std::set<std::string> queued_;      // to be reconciled (in queue_, or waiting for its worker)
  std::set<std::string> processing_;  // on a worker now
  std::multimap<Clock::time_point, std::string> delayed_;
  std::map<std::string, int> failures_;
  std::vector<std::jthread> workers_;
};

// One counter or gauge in Prometheus' text format (HELP, TYPE, sample).
std::string metric(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value);

// Seconds in fixed buckets. Not synchronised: the owner guards it with its own lock.
class Histogram {
 public:
  explicit Histogram(std::vector<double> buckets);
  void observe(double seconds);
  std::string render(std::string_view name, std::string_view help) const;

 private:
  std::vector<double> buckets_;
  std::vector<std::uint64_t> counts_;  // one per bucket, then +Inf
  double sum_ = 0;
};

// A counter or gauge a controller reports, and its latency histogram.
struct MetricSample {
  std::string_view name, type, help;
  std::uint64_t value = 0;
};
struct LatencyMetric {
  std::string_view name, help;
  const Histogram& histogram;
};

class EventRecorder {
 public:
  // `component` is the Event's source; `instance` this replica (the Lease identity).
  EventRecorder(kube::Client& client, std::string component, std::string instance);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void start();
  void stop();  // Events still queued are dropped: they are best effort
  // An Event about `object` (a Pod or a Node as read from the API); cluster-scoped objects'
  // Events go to the default namespace, as kubectl describe node looks for them.
  void record(const nlohmann::json& object, std::string_view reason, std::string_view message,
              std::string_view type = "Normal");

 private:
  void run(const std::stop_token& stop);

  kube::Client& client_;
  std::string component_, instance_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<nlohmann::json> events_;
  std::jthread thread_;
};

// One leader-elected controller's moving parts, started and stopped in the one right order:
// its API client (and a second one with short deadlines for the Lease), informers, work
// queue, Event recorder and elector. Every replica keeps its caches warm (readiness);
// campaigning starts once every informer has listed, so a new leader acts on what it has
// seen; only the leader's keys are queued and only the leader writes Events.
class Runtime {
 public:
  // `on_leading` runs when leadership is won (queue everything cached); `reconcile` as WorkQueue's.
  Runtime(const kube::RestConfig& config, LeaderOptions leader, std::string component, std::function<void()> on_leading,
          WorkQueue::Reconcile reconcile, std::size_t workers = 1);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Before start(): a cache the controller reads; its handlers run on the informer's thread.
  kube::Informer& inform(kube::ResourceRef ref, std::string ns, kube::ListOptions selector,
                         kube::InformerHandlers handlers);
  void start();
  void stop();  // releases the Lease first, so another replica takes over at once
  bool synced() const;
  bool leading() const { return elector_.leading(); }
  const std::string& identity() const { return elector_.options().identity; }
  kube::Client& client() { return client_; }

  void add(const std::string& key);  // only while leading
  void add_at(const std::string& key, WorkQueue::Clock::time_point when);
  void event(const nlohmann::json& object, std::string_view reason, std::string_view message,
             std::string_view type = "Normal");  // only while leading
  // A controller's metrics: `own`, then what every controller reports,
  // `<prefix>_api_errors_total` (`api_errors`, the owner's count of failed writes) and
  // `<prefix>_leader` (whether this replica holds the Lease), then `latency`.
  std::string render_metrics(std::string_view prefix, std::uint64_t api_errors, std::initializer_list<MetricSample> own,
                             const LatencyMetric& latency) const;

 private:
  kube::Client client_;
  kube::Client lease_client_;  // a lease call must not outlast the renew deadline
  std::string component_;
  LeaderElector elector_;
  WorkQueue queue_;
  EventRecorder events_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  std::jthread elector_thread_;
};

}  // namespace nodeboot::webhook::controller
