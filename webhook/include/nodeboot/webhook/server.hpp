#pragma once

// The HTTPS transport: cpp-httplib 0.18.7's SSLServer (header-only, from Debian 13's source:
// packaging/httplib) with TCP_NODELAY, a listen backlog for API servers reconnecting at once,
// keep-alive sized for the API server, per-handshake certificates, the admission routes,
// health, readiness and metrics. The API server's plain requests to the admission routes
// are read and answered without cpp-httplib's request machinery (the same bytes out); every
// other request goes through it. Connections wait on one epoll set and take a worker thread
// only while they have input (connections.hpp); at the cap the least useful parked one is
// shed; a handshake or request that is not complete within a deadline is closed; bodies are
// capped per route and refused in-band, unread, when too large (RequestLimits, limits.hpp).

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
  // Connections held open at once. A connection takes a thread only while it has input to
  // work on (a handshake, a request); idle and silent ones wait on one epoll set, each
  // costing a descriptor and, once its handshake is done, its SSL object (about 16 KiB of
  // OpenSSL 3's state, measured: 5,000 idle TLS connections took the RSS from 14 to 91 MiB).
  // 4,096 of those fit the Deployment's 128 MiB beside the largest reviews. At the cap a
  // new connection closes a parked one: one ending, one still in its handshake, one never
  // used, then the idle one unused longest. The API server keeps 25 idle connections per
  // host; the rest of the cap is room for a flood.
  std::size_t max_connections = 4096;
  // Threads working on connections at once: handshakes and requests in progress (a request
  // has limits.request_deadline, a handshake the same from the accept).
  std::size_t max_workers = 256;
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
