#include "nodeboot/webhook/metrics.hpp"

#include <cstdio>

#include "nodeboot/webhook/certs.hpp"

namespace nodeboot::webhook {

namespace {
constexpr std::array<std::string_view, route_count> paths{"/mutate/pods",    "/validate/pods", "/validate/secrets",
                                                          "/validate/nodes", "/healthz",       "/readyz",
                                                          "/metrics",        "other"};
}

Route route_of(std::string_view path) {
  for (std::size_t i = 0; i + 1 < paths.size(); ++i)
    if (paths[i] == path) return static_cast<Route>(i);
  return Route::other;
}

std::string_view route_path(Route route) { return paths[static_cast<std::size_t>(route)]; }

void Metrics::observe(Route route, int status, std::chrono::nanoseconds elapsed) {
  const auto r = static_cast<std::size_t>(route);
  std::size_t c = 0;
  while (c < codes.size() && codes[c] != status) ++c;
  requests_[r][c].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::size_t b = 0;
  while (b < buckets.size() && seconds > buckets[b]) ++b;
  histogram_[r][b].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_[r].fetch_add(static_cast<std::uint64_t>(elapsed.count()), std::memory_order_relaxed);
}

std::string Metrics::render(const CertWatcher& certs) const {
  std::string out;
  char line[1024];  // the longest line written is the connections block below, ~800 bytes
  out +=
      "# HELP nodeboot_webhook_requests_total HTTP requests by path and status code.\n"
      "# TYPE nodeboot_webhook_requests_total counter\n";
  for (std::size_t r = 0; r < route_count; ++r)
    for (std::size_t c = 0; c <= codes.size(); ++c) {
      const auto n = requests_[r][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = c < codes.size() ? std::to_string(codes[c]) : "other";
      std::snprintf(line, sizeof line, "nodeboot_webhook_requests_total{path=\"%s\",code=\"%s\"} %llu\n",
                    paths[r].data(), code.c_str(), static_cast<unsigned long long>(n));
      out += line;
    }
  out +=
      "# HELP nodeboot_webhook_request_duration_seconds Time from reading the request headers to writing the "
      "response.\n"
      "# TYPE nodeboot_webhook_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < route_count; ++r) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= buckets.size(); ++b) {
      cumulative += histogram_[r][b].load(std::memory_order_relaxed);
      if (b < buckets.size())
        std::snprintf(line, sizeof line,
                      "nodeboot_webhook_request_duration_seconds_bucket{path=\"%s\",le=\"%g\"} %llu\n", paths[r].data(),
                      buckets[b], static_cast<unsigned long long>(cumulative));
      else
        std::snprintf(line, sizeof line,
                      "nodeboot_webhook_request_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} %llu\n",
                      paths[r].data(), static_cast<unsigned long long>(cumulative));
      out += line;
    }
    std::snprintf(line, sizeof line,
                  "nodeboot_webhook_request_duration_seconds_sum{path=\"%s\"} %.9f\n"
                  "nodeboot_webhook_request_duration_seconds_count{path=\"%s\"} %llu\n",
                  paths[r].data(), static_cast<double>(sum_nanos_[r].load(std::memory_order_relaxed)) / 1e9,
                  paths[r].data(), static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "# HELP nodeboot_webhook_requests_in_flight Requests being served now.\n"
                "# TYPE nodeboot_webhook_requests_in_flight gauge\n"
                "nodeboot_webhook_requests_in_flight %lld\n",
                static_cast<long long>(in_flight_.load(std::memory_order_relaxed)));
  out += line;
  std::snprintf(
      line, sizeof line,
      "# HELP nodeboot_webhook_connections Open TLS connections.\n"
      "# TYPE nodeboot_webhook_connections gauge\n"
      "nodeboot_webhook_connections %lld\n"
      "# HELP nodeboot_webhook_connections_shed_total Connections closed by the server to protect the rest.\n"
      "# TYPE nodeboot_webhook_connections_shed_total counter\n"
      "nodeboot_webhook_connections_shed_total{reason=\"idle\"} %llu\n"
      "nodeboot_webhook_connections_shed_total{reason=\"deadline\"} %llu\n"
      "# HELP nodeboot_webhook_connections_refused_total Connections closed unserved: the accept queue was full.\n"
      "# TYPE nodeboot_webhook_connections_refused_total counter\n"
      "nodeboot_webhook_connections_refused_total %llu\n",
      static_cast<long long>(connections_.load(std::memory_order_relaxed)),
      static_cast<unsigned long long>(shed_idle_.load(std::memory_order_relaxed)),
      static_cast<unsigned long long>(shed_deadline_.load(std::memory_order_relaxed)),
      static_cast<unsigned long long>(refused_.load(std::memory_order_relaxed)));
  out += line;
  std::snprintf(
      line, sizeof line,
      "# HELP nodeboot_webhook_certificate_reloads_total Serving certificate loads (the first included).\n"
      "# TYPE nodeboot_webhook_certificate_reloads_total counter\n"
      "nodeboot_webhook_certificate_reloads_total %llu\n"
      "# HELP nodeboot_webhook_certificate_reload_errors_total Failed attempts to load the serving certificate.\n"
      "# TYPE nodeboot_webhook_certificate_reload_errors_total counter\n"
      "nodeboot_webhook_certificate_reload_errors_total %llu\n",
      static_cast<unsigned long long>(certs.reloads()), static_cast<unsigned long long>(certs.reload_errors()));
  out += line;
  return out;
}

}  // namespace nodeboot::webhook
