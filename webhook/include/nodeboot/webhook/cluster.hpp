#pragma once

// What the webhook reads from the API server, behind an interface so handlers are tested
// without one and the transport can follow the common client as it grows.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::webhook {

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // MaroonedPodsConfig `default` .spec.nodeTaintKey, or maroonedpods.io without one.
  virtual std::string taint_key() const = 0;
  // Whether nodeboot-system/nodeboot-<node> exists with type nodeboot.io/bootstrap.
  virtual Result<bool> bootstrap_secret_exists(std::string_view node) = 0;
  // Whether the first read of the configuration has happened (gates /readyz).
  virtual bool synced() const = 0;
};

// No API access (--no-api, benchmarks, tests): a fixed taint key; node checks fail closed.
class OfflineClusterView final : public ClusterView {
 public:
  explicit OfflineClusterView(std::string taint_key) : taint_key_(std::move(taint_key)) {}
  std::string taint_key() const override { return taint_key_; }
  Result<bool> bootstrap_secret_exists(std::string_view) override {
    return fail(ErrorKind::config, "the webhook runs without API access (--no-api)");
  }
  bool synced() const override { return true; }

 private:
  std::string taint_key_;
};

// Reads the API server with the common client. The taint key is re-read in the
// background every `refresh` so the pod hot path never waits on the network.
class ApiClusterView final : public ClusterView {
 public:
  ApiClusterView(std::shared_ptr<kube::Client> client, std::chrono::seconds refresh);
  ~ApiClusterView() override;
  std::string taint_key() const override;
  Result<bool> bootstrap_secret_exists(std::string_view node) override;
  bool synced() const override { return synced_.load(); }

 private:
  void refresh_loop(std::chrono::seconds refresh);
  Result<std::string> read_taint_key();

  std::shared_ptr<kube::Client> client_;
  mutable std::mutex mutex_;
  std::string taint_key_;
  std::atomic<bool> synced_{false};
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace nodeboot::webhook
