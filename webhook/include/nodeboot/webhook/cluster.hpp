#pragma once

// What the webhook reads from the API server, behind an interface so handlers are tested
// without one and the transport can follow the common client as it grows.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::webhook {

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // MaroonedPodsConfig `default` .spec.nodeTaintKey, or maroonedpods.io without one.
  virtual std::string taint_key() const = 0;
  // Whether `ns` is in MaroonedPodsConfig `default` .spec.nodeAgentNamespaces (default
  // kube-system and nodeboot-system): its pods may run on dedicated nodes.
  virtual bool node_agent_namespace(std::string_view ns) const = 0;
  // Whether the node named `name` is a marooned pod's dedicated node: it claims an id
  // (label maroonedpods.io/pod-uid) or the controller vouched it for one.
  virtual bool dedicated_node(std::string_view name) const = 0;
  // Whether nodeboot-system/nodeboot-<node> exists with type nodeboot.io/bootstrap.
  virtual Result<bool> bootstrap_secret_exists(std::string_view node) = 0;
  // Whether the first read of the configuration has happened (gates /readyz).
  virtual bool synced() const = 0;
};

// No API access (--no-api, benchmarks, tests): a fixed taint key, the default node-agent
// namespaces; node checks fail closed (every named node counts as dedicated).
class OfflineClusterView final : public ClusterView {
 public:
  explicit OfflineClusterView(std::string taint_key) : taint_key_(std::move(taint_key)) {}
  std::string taint_key() const override { return taint_key_; }
  bool node_agent_namespace(std::string_view ns) const override;
  bool dedicated_node(std::string_view /*name*/) const override { return true; }
  Result<bool> bootstrap_secret_exists(std::string_view /*node*/) override {
    return fail(ErrorKind::config, "the webhook runs without API access (--no-api)");
  }
  bool synced() const override { return true; }

 private:
  std::string taint_key_;
};

// Reads the API server with the common client. MaroonedPodsConfig is re-read in the
// background every `refresh`, and the dedicated nodes are kept by two small informers
// (nodes claiming an id, nodes vouched for one), so the pod hot path never waits on the
// network.
class ApiClusterView final : public ClusterView {
 public:
  // What it reads from MaroonedPodsConfig `default`.
  struct Config {
    std::string taint_key;
    std::set<std::string, std::less<>> node_agent_namespaces;
  };
  ApiClusterView(std::shared_ptr<kube::Client> client, std::chrono::seconds refresh);
  ~ApiClusterView() override;
  std::string taint_key() const override;
  bool node_agent_namespace(std::string_view ns) const override;
  bool dedicated_node(std::string_view name) const override;
  Result<bool> bootstrap_secret_exists(std::string_view node) override;
  bool synced() const override;

 private:
  void refresh_loop(const std::stop_token& stop, std::chrono::seconds refresh);
  Result<Config> read_config();

  std::shared_ptr<kube::Client> client_;
  kube::Informer claimed_nodes_;
  kube::Informer vouched_nodes_;
  mutable std::mutex mutex_;
  Config config_;
  std::atomic<bool> synced_{false};
  std::jthread thread_;
};

}  // namespace nodeboot::webhook
