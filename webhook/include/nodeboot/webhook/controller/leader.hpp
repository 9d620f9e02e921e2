#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// a candidate takes the Lease when it is free, released, or has not been renewed for
// leaseDurationSeconds *as observed on this candidate's own clock* (no cross-machine clock
// comparison); the leader renews every retry period and stops acting when it could not
// renew within the renew deadline, which is shorter than the lease duration, so a new
// leader never acts while the old one still believes it leads. Every write is an update
// conditional on the resourceVersion read, so two candidates never both win.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"

namespace nodeboot::webhook::controller {

struct LeaderOptions {
  std::string namespace_;
  std::string name;
  std::string identity;  // unique per replica: pod name (or host) plus a random suffix
  // client-go's defaults (15 s / 10 s / 2 s): a crashed leader is replaced within about
  // 17 s; a leader that stops cleanly releases the Lease and is replaced within a retry period.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  // on_started / on_stopped run on the elector's thread when leadership is won / lost.
  LeaderElector(kube::Client& client, LeaderOptions options, std::function<void()> on_started,
                std::function<void()> on_stopped);

  // Campaigns and leads until `stop`; on stop, a leader releases the Lease.
  void run(const std::stop_token& stop);
  bool leading() const { return leading_.load(); }
  const LeaderOptions& options() const { return options_; }

 private:
  // One attempt: true if this candidate holds the Lease afterwards.
  bool try_acquire_or_renew();
  void release();

  kube::Client& client_;
  LeaderOptions options_;
  std::function<void()> on_started_;
  std::function<void()> on_stopped_;
  std::atomic<bool> leading_{false};
  // The last Lease spec seen and when this process saw it change (its own steady clock).
  nlohmann::json observed_spec_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::string observed_version_;
  bool other_holds_ = false;  // the last attempt found another live holder: stop leading at once
};

// A Kubernetes MicroTime, e.g. 2026-11-23T11:40:00.123456Z.
std::string micro_time(std::chrono::system_clock::time_point t);

}  // namespace nodeboot::webhook::controller
