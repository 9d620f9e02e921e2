#include "nodeboot/webhook/controller/leader.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook::controller {
std::string micro_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // room for any int the format could print, which -Wformat-truncation checks
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(micros));
  return buf;
}

LeaderElector::LeaderElector(kube::Client& client, LeaderOptions options, std::function<void()> on_started,
                             std::function<void()> on_stopped)
    : client_(client),
      options_(std::move(options)),
      on_started_(std::move(on_started)),
      on_stopped_(std::move(on_stopped)) {}

bool LeaderElector::try_acquire_or_renew() {
  other_holds_ = false;
  const auto& leases = kube::resources::leases;
  const auto now = std::chrono::system_clock::now();
  const auto lease_seconds =
      std::max<long>(1, std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count());
  auto current = client_.get(leases, options_.namespace_, options_.name);
  if (!current && kube::is_not_found(current.error())) {
    nlohmann::json lease = {{"apiVersion", leases.api_version()},
                            {"kind", leases.kind},
                            {"metadata", {{"name", options_.name}, {"namespace", options_.namespace_}}},
                            {"spec",
                             {{"holderIdentity", options_.identity},
                              {"leaseDurationSeconds", lease_seconds},
                              {"acquireTime", micro_time(now)},
                              {"renewTime", micro_time(now)},
                              {"leaseTransitions", 0}}}};
    auto created = client_.create(leases, options_.namespace_, lease);
    if (!created) {
      if (!kube::is_already_exists(created.error()))
        log_error("creating the leader Lease failed", {{"error", created.error().message}});
      return false;
    }
    observed_spec_ = (*created)["spec"];
    observed_at_ = std::chrono::steady_clock::now();
    return true;
  }
  if (!current) {
    log_error("reading the leader Lease failed", {{"error", current.error().message}});
    return false;
  }
  nlohmann::json spec = current->value("spec", nlohmann::json::object());
  const auto version = (*current)["metadata"].value("resourceVersion", "");
  if (version != observed_version_) {
    observed_version_ = version;
    observed_spec_ = spec;
    observed_at_ = std::chrono::steady_clock::now();
  }
  const std::string holder = spec.value("holderIdentity", "");
  const auto held_for = std::chrono::seconds(spec.value("leaseDurationSeconds", lease_seconds));
  if (!holder.empty() && holder != options_.identity && std::chrono::steady_clock::now() < observed_at_ + held_for) {
    other_holds_ = true;
    return false;  // someone else leads and renewed within the lease duration we observed
  }

  if (holder != options_.identity) {
    spec["acquireTime"] = micro_time(now);
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = lease_seconds;
  spec["renewTime"] = micro_time(now);
  (*current)["spec"] = spec;
  auto updated = client_.update(leases, options_.namespace_, *current);  // conditional on resourceVersion
  if (!updated) {
    if (!kube::is_conflict(updated.error()))
      log_error("updating the leader Lease failed", {{"error", updated.error().message}});
    return false;
  }
  observed_version_ = (*updated)["metadata"].value("resourceVersion", "");
  observed_spec_ = (*updated)["spec"];
  observed_at_ = std::chrono::steady_clock::now();
  return true;
}

void LeaderElector::release() {
  // Only the holder clears it; a conditional update, so a Lease already taken is left alone.
  auto current = client_.get(kube::resources::leases, options_.namespace_, options_.name);
  if (!current || (*current)["spec"].value("holderIdentity", "") != options_.identity) return;
  auto& spec = (*current)["spec"];
  spec["holderIdentity"] = nullptr;
  spec["leaseDurationSeconds"] = 1;  // the API requires > 0; 1 s lets the next candidate in at once
  spec["renewTime"] = micro_time(std::chrono::system_clock::now());
  if (auto r = client_.update(kube::resources::leases, options_.namespace_, *current); !r)
    log_error("releasing the leader Lease failed", {{"error", r.error().message}});
  else
    log_info("released the leader Lease", {{"identity", options_.identity}});
}

void LeaderElector::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    // Campaign.
    while (!stop.stop_requested() && !try_acquire_or_renew()) sleep_for(stop, options_.retry_period);
    if (stop.stop_requested()) return;
    leading_ = true;
    log_info("became the leader",
             {{"lease", options_.namespace_ + "/" + options_.name}, {"identity", options_.identity}});
    if (on_started_) on_started_();
    // Lead: renew every retry period; give up after the renew deadline without success.
    auto last_renew = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
      sleep_for(stop, options_.retry_period);
      if (stop.stop_requested()) break;
      if (try_acquire_or_renew()) {
        last_renew = std::chrono::steady_clock::now();
      } else if (other_holds_ || std::chrono::steady_clock::now() - last_renew > options_.renew_deadline) {
        break;
      }
    }
    leading_ = false;
    if (on_stopped_) on_stopped_();
    if (stop.stop_requested()) {
      release();
      return;
    }
    log_error("lost the gate-release controller's leadership", {{"identity", options_.identity}});
  }
}

}  // namespace nodeboot::webhook::controller
