#pragma once

// The HTTPS transport: cpp-httplib's SSLServer with the fixes it needs here (TCP_NODELAY,
// a real listen backlog, keep-alive sized for the API server, a thread per connection
// from a pool that grows on demand), per-handshake certificates, the admission routes,
// health, readiness and metrics.

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
#include "nodeboot/webhook/metrics.hpp"

namespace nodeboot::webhook {

struct ServerOptions {
  std::filesystem::path cert_dir;
  std::filesystem::path client_ca_file;  // empty = no client certificates requested
  std::string host = "0.0.0.0";
  int port = 9443;                        // 0 = any free port (tests)
  // One thread per open connection (cpp-httplib's model). The API server keeps up to 25
  // idle connections per host; 512 leaves room for several API servers plus abusive
  // slow or idle clients without refusing anyone.
  std::size_t max_connections = 512;
  // 7 MiB: an UPDATE review carries two objects of up to 3 MiB each (the API server's
  // limit) plus the envelope; controller-runtime uses the same cap.
  std::size_t max_body = 7 * 1024 * 1024;
  // Longer than the API server's 90 s idle-connection timeout, so the client closes idle
  // connections first and never sends into one the server is closing.
  std::chrono::seconds keep_alive{120};
  // A request must arrive within this once started; the API server gives up at
  // timeoutSeconds (10 s at most in the manifests) anyway.
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
  // Stops accepting, closes idle connections, waits for requests in flight.
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
  std::thread thread_;
};

}  // namespace nodeboot::webhook
