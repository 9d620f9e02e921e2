#pragma once

// Prometheus text-format metrics, kept in fixed arrays of atomics so the request path
// never locks or allocates to count itself.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace nodeboot::webhook {

enum class Route : std::uint8_t {
  mutate_pods,
  validate_pods,
  validate_secrets,
  validate_nodes,
  healthz,
  readyz,
  metrics,
  other
};
inline constexpr std::size_t route_count = 8;
Route route_of(std::string_view path);
std::string_view route_path(Route route);

class CertWatcher;

class Metrics {
 public:
  void observe(Route route, int status, std::chrono::nanoseconds elapsed);
  void in_flight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  // Connections: open now, shed (the oldest idle one when the cap is reached, or one past
  // its handshake or request deadline) and refused (the accept queue was full).
  void connections(int delta) { connections_.fetch_add(delta, std::memory_order_relaxed); }
  void shed_idle() { shed_idle_.fetch_add(1, std::memory_order_relaxed); }
  void shed_deadline() { shed_deadline_.fetch_add(1, std::memory_order_relaxed); }
  void refused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  std::int64_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  std::uint64_t shed_idle_total() const { return shed_idle_.load(std::memory_order_relaxed); }
  std::uint64_t shed_deadline_total() const { return shed_deadline_.load(std::memory_order_relaxed); }
  std::string render(const CertWatcher& certs) const;

 private:
  // Status codes the server produces; anything else is counted as "other".
  static constexpr std::array<int, 10> codes{200, 400, 403, 404, 405, 413, 415, 431, 500, 503};
  // Seconds; admission answers live in the sub-millisecond range, the API server gives up
  // at timeoutSeconds (10 s at most in our manifests).
  static constexpr std::array<double, 14> buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
  std::array<std::array<std::atomic<std::uint64_t>, codes.size() + 1>, route_count> requests_{};
  std::array<std::array<std::atomic<std::uint64_t>, buckets.size() + 1>, route_count> histogram_{};
  std::array<std::atomic<std::uint64_t>, route_count> sum_nanos_{};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> shed_idle_{0};
  std::atomic<std::uint64_t> shed_deadline_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace nodeboot::webhook
