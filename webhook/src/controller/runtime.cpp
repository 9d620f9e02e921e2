#include "nodeboot/webhook/controller/runtime.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/controller/leader.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook::controller {
namespace {

// Retries of failed API calls: 1 s doubling to 5 min, per key (client-go's workqueue
// default rate limiter caps at 1000 s; 5 min on a broken API is enough).
std::chrono::milliseconds backoff(int failures) {
  return std::chrono::milliseconds(std::min(1000L << std::min(failures - 1, 9), 300000L));
}

// Events waiting while the API server is slow: a few per object for thousands of objects,
// then new ones are dropped rather than growing without bound.
constexpr std::size_t max_queued_events = 10000;

}  // namespace

WorkQueue::WorkQueue(Reconcile reconcile, std::size_t workers)
    : reconcile_(std::move(reconcile)), worker_count_(std::max<std::size_t>(workers, 1)) {}

WorkQueue::~WorkQueue() { stop(); }

void WorkQueue::start() {
  for (std::size_t i = 0; i < worker_count_; ++i)
    workers_.emplace_back([this](const std::stop_token& st) { work(st); });
}

void WorkQueue::stop() {
  if (workers_.empty()) return;
  for (auto& w : workers_) w.request_stop();
  wake_.notify_all();
  workers_.clear();  // joins
}

void WorkQueue::add(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (!queued_.insert(key).second) return;
    if (processing_.contains(key)) return;  // its worker queues it again when done
    queue_.push_back(key);
  }
  wake_.notify_one();
}

void WorkQueue::add_at(const std::string& key, Clock::time_point when) {
  {
    std::lock_guard lock(mu_);
    delayed_.emplace(when, key);
  }
  wake_.notify_one();
}

void WorkQueue::work(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      auto key = delayed_.begin()->second;
      delayed_.erase(delayed_.begin());
      if (queued_.insert(key).second && !processing_.contains(key)) queue_.push_back(std::move(key));
    }
    if (queue_.empty()) {
      if (delayed_.empty())
        wake_.wait(lock, stop, [&] { return !queue_.empty(); });
      else  // a copy: while this worker waits another may take (and erase) that entry
        wake_.wait_until(lock, stop, Clock::time_point(delayed_.begin()->first), [&] { return !queue_.empty(); });
      continue;
    }
    auto key = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(key);  // an event while we work marks it queued again
    processing_.insert(key);
    lock.unlock();
    const bool ok = reconcile_(key);
    lock.lock();
    processing_.erase(key);
    if (ok)
      failures_.erase(key);
    else
      delayed_.emplace(Clock::now() + backoff(++failures_[key]), key);
    if (queued_.contains(key)) {  // added while it was reconciled: again, on any worker
      queue_.push_back(std::move(key));
      wake_.notify_one();
    }
  }
}

std::string metric(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
  const std::string n(name);
  return "# HELP " + n + " " + std::string(help) + "\n# TYPE " + n + " " + std::string(type) + "\n" + n + " " +
         std::to_string(value) + "\n";
}

Histogram::Histogram(std::vector<double> buckets) : buckets_(std::move(buckets)), counts_(buckets_.size() + 1) {}

void Histogram::observe(double seconds) {
  std::size_t b = 0;
  while (b < buckets_.size() && seconds > buckets_[b]) ++b;
  ++counts_[b];
  sum_ += seconds;
}

std::string Histogram::render(std::string_view name, std::string_view help) const {
  const std::string n(name);
  std::string out = "# HELP " + n + " " + std::string(help) + "\n# TYPE " + n + " histogram\n";
  std::uint64_t cumulative = 0;
  char le[32];
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += counts_[i];
    std::snprintf(le, sizeof le, "%g", buckets_[i]);
    out += n + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += n + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  std::snprintf(le, sizeof le, "%.6f", sum_);
  out += n + "_sum " + le + "\n" + n + "_count " + std::to_string(cumulative) + "\n";
  return out;
}

EventRecorder::EventRecorder(kube::Client& client, std::string component, std::string instance)
    : client_(client), component_(std::move(component)), instance_(std::move(instance)) {}

EventRecorder::~EventRecorder() { stop(); }

void EventRecorder::start() {
  thread_ = std::jthread([this](const std::stop_token& st) { run(st); });
}

void EventRecorder::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void EventRecorder::record(const nlohmann::json& object, std::string_view reason, std::string_view message,
                           std::string_view type) {
  const auto& meta = object["metadata"];
  const auto now = micro_time(std::chrono::system_clock::now());
  const std::string ns = meta.value("namespace", "");
  nlohmann::json involved = {{"apiVersion", "v1"},
                             {"kind", object.value("kind", ns.empty() ? "Node" : "Pod")},
                             {"name", meta.value("name", "")},
                             {"uid", meta.value("uid", "")},
                             {"resourceVersion", meta.value("resourceVersion", "")}};
  if (!ns.empty()) involved["namespace"] = ns;
  nlohmann::json ev = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", meta.value("name", "") + "."}, {"namespace", ns.empty() ? "default" : ns}}},
      {"involvedObject", std::move(involved)},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", {{"component", component_}}},
      {"reportingComponent", component_},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  {
    std::lock_guard lock(mu_);
    if (events_.size() >= max_queued_events) {
      log_error("event queue full; dropping an event", {{"reason", std::string(reason)}});
      return;
    }
    events_.push_back(std::move(ev));
  }
  wake_.notify_one();
}

void EventRecorder::run(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (wake_.wait(lock, stop, [&] { return !events_.empty(); })) {
    auto ev = std::move(events_.front());
    events_.pop_front();
    lock.unlock();
    // Events are for people; losing one must not hold up the work.
    const std::string ns = ev["metadata"]["namespace"];
    if (auto r = client_.create(kube::resources::events, ns, ev); !r)
      log_error("recording an event failed", {{"reason", ev.value("reason", "")}, {"error", r.error().message}});
    lock.lock();
  }
}

Runtime::Runtime(const kube::RestConfig& config, LeaderOptions leader, std::string component,
                 std::function<void()> on_leading, WorkQueue::Reconcile reconcile, std::size_t workers)
    : client_(config),
      lease_client_([&] {
        auto c = config;
        c.timeout = leader.renew_deadline / 2;
        return c;
      }()),
      component_(std::move(component)),
      elector_(lease_client_, std::move(leader), std::move(on_leading),
               [this] {
                 log_info("no longer the leader: the controller stops writing",
                          {{"controller", component_}, {"identity", elector_.options().identity}});
               }),
      queue_([this, reconcile = std::move(reconcile)](const std::string& key) { return !leading() || reconcile(key); },
             workers),
      events_(client_, component_, elector_.options().identity) {}

Runtime::~Runtime() { stop(); }

kube::Informer& Runtime::inform(kube::ResourceRef ref, std::string ns, kube::ListOptions selector,
                                kube::InformerHandlers handlers) {
  informers_.push_back(std::make_unique<kube::Informer>(client_, std::move(ref), std::move(ns), std::move(selector),
                                                        std::move(handlers)));
  return *informers_.back();
}

void Runtime::start() {
  for (auto& i : informers_) i->start();
  queue_.start();
  events_.start();
  elector_thread_ = std::jthread([this](const std::stop_token& st) {
    while (!st.stop_requested() &&
           !std::ranges::all_of(informers_, [](const auto& i) { return i->wait_synced(std::chrono::seconds(1)); })) {
    }
    elector_.run(st);
  });
}

void Runtime::stop() {
  if (elector_thread_.joinable()) {
    elector_thread_.request_stop();
    elector_thread_.join();  // releases the Lease
  }
  queue_.stop();
  events_.stop();
  for (auto& i : informers_) i->stop();
}

bool Runtime::synced() const {
  return std::ranges::all_of(informers_, [](const auto& i) { return i->synced(); });
}

void Runtime::add(const std::string& key) {
  if (leading()) queue_.add(key);
}

void Runtime::add_at(const std::string& key, WorkQueue::Clock::time_point when) {
  if (leading()) queue_.add_at(key, when);
}

void Runtime::event(const nlohmann::json& object, std::string_view reason, std::string_view message,
                    std::string_view type) {
  if (leading()) events_.record(object, reason, message, type);
}

std::string Runtime::render_metrics(std::string_view prefix, std::uint64_t api_errors,
                                    std::initializer_list<MetricSample> own, const LatencyMetric& latency) const {
  std::string out;
  for (const auto& sample : own) out += metric(sample.name, sample.type, sample.help, sample.value);
  const std::string p(prefix);
  out += metric(p + "_api_errors_total", "counter", "Failed writes, retried with backoff.", api_errors);
  out += metric(p + "_leader", "gauge", "Whether this replica holds the Lease.", leading() ? 1u : 0u);
  return out + latency.histogram.render(latency.name, latency.help);
}

}  // namespace nodeboot::webhook::controller
