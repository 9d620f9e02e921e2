#pragma once

// The HTTPS transport: cpp-httplib 0.18.7's SSLServer (header-only, from Debian 13's source:
// packaging/httplib) with TCP_NODELAY, a listen backlog for API servers reconnecting at once,
// keep-alive sized for the API server, per-handshake certificates, the admission routes,
// health, readiness and metrics. Connections are served one thread each from a pool with a
// cap; at the cap the oldest idle connection is shed; a handshake or request that is not
// complete within a deadline is closed; bodies are capped per route and refused in-band,
// unread, when too large (RequestLimits, limits.hpp).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "nodeboot/util/result.hpp"
#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/certs.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "nodeboot/webhook/limits.hpp"
#include "nodeboot/webhook/metrics.hpp"

namespace nodeboot::webhook {

struct ServerOptions {
  std::filesystem::path cert_dir;
  std::filesystem::path client_ca_file;  // empty = no client certificates requested
  std::string host = "0.0.0.0";
  int port = 9443;  // 0 = any free port (tests)
  // One thread per open connection (cpp-httplib's model). The API server keeps up to 25
  // idle connections per host; 512 leaves room for several API servers. Past the cap, a new
  // connection sheds the oldest idle one, so idle abusers cannot lock the API server out.
  std::size_t max_connections = 512;
  // Accepted connections waiting for a thread (at the cap, each one sheds an idle
  // connection, whose thread then takes it); past this a new connection is closed unserved.
  // A queued connection costs a descriptor and a few bytes; 1024 rides out a flood of
  // reconnects without refusing the API server. The kernel's listen backlog
  // (CPPHTTPLIB_LISTEN_BACKLOG, cmake/dependencies.cmake) queues before it.
  std::size_t max_queued = 1024;
  RequestLimits limits;
  // Longer than the API server's 90 s idle-connection timeout, so the client closes idle
  // connections first and never sends into one the server is closing.
  std::chrono::seconds keep_alive{120};
  // One read or write may wait this long (cpp-httplib's per-call timeout); the whole
  // request has limits.request_deadline.
  std::chrono::seconds read_timeout{10};
  std::chrono::milliseconds cert_poll{1000};
  std::string controller_username = "system:serviceaccount:nodeboot-system:nodeboot-webhook";
  std::string schedule_label = "nodeboot.io/ipb-schedule";
  // More Prometheus text appended to /metrics (the gate-release controller's).
  std::function<std::string()> extra_metrics;
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<ClusterView> cluster);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate, binds and serves in the background; returns the bound port.
  Result<int> start();
  // /readyz fails from now on (the API server's endpoints drop us); keeps serving.
  void begin_shutdown() { shutting_down_ = true; }
  // Stops accepting, closes idle connections (within 100 ms: cpp-httplib checks the
  // listener that often, CPPHTTPLIB_KEEPALIVE_TIMEOUT_CHECK_INTERVAL_USECOND), waits for
  // requests in flight.
  void stop();

  bool ready() const;
  const Metrics& metrics() const { return metrics_; }

 private:
  struct Impl;
  ServerOptions options_;
  std::shared_ptr<ClusterView> cluster_;
  CertWatcher certs_;
  Metrics metrics_;
  std::atomic<bool> shutting_down_{false};
  std::unique_ptr<Impl> impl_;
  std::jthread listener_;
};

}  // namespace nodeboot::webhook
