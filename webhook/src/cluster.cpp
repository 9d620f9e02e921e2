#include "nodeboot/webhook/cluster.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook {

namespace {
// The documented defaults, which apply without a MaroonedPodsConfig `default`.
ApiClusterView::Config default_config() {
  ApiClusterView::Config config;
  config.taint_key = names::maroon_default_taint_key;
  for (const auto ns : names::maroon_default_node_agent_namespaces) config.node_agent_namespaces.emplace(ns);
  return config;
}

bool default_node_agent_namespace(std::string_view ns) {
  return std::ranges::find(names::maroon_default_node_agent_namespaces, ns) !=
         std::end(names::maroon_default_node_agent_namespaces);
}

kube::Informer node_informer(kube::Client& client, std::string_view label) {
  return kube::Informer(client, kube::resources::nodes, "", kube::ListOptions{.label_selector = std::string(label)},
                        kube::InformerHandlers{.on_error = [label = std::string(label)](const Error& e) {
                          log_error("watching dedicated nodes", {{"label", label}, {"error", e.message}});
                        }});
}
}  // namespace

bool OfflineClusterView::node_agent_namespace(std::string_view ns) const { return default_node_agent_namespace(ns); }

ApiClusterView::ApiClusterView(std::shared_ptr<kube::Client> client, std::chrono::seconds refresh)
    : client_(std::move(client)),
      claimed_nodes_(node_informer(*client_, names::maroon_pod_uid)),
      vouched_nodes_(node_informer(*client_, names::maroon_vouched_label)),
      config_(default_config()) {
  claimed_nodes_.start();
  vouched_nodes_.start();
  thread_ = std::jthread([this, refresh](const std::stop_token& stop) { refresh_loop(stop, refresh); });
}

ApiClusterView::~ApiClusterView() {
  thread_ = {};  // stops and joins
  claimed_nodes_.stop();
  vouched_nodes_.stop();
}

std::string ApiClusterView::taint_key() const {
  std::lock_guard lock(mutex_);
  return config_.taint_key;
}

bool ApiClusterView::node_agent_namespace(std::string_view ns) const {
  std::lock_guard lock(mutex_);
  return config_.node_agent_namespaces.contains(ns);
}

bool ApiClusterView::dedicated_node(std::string_view name) const {
  return claimed_nodes_.get("", name).has_value() || vouched_nodes_.get("", name).has_value();
}

bool ApiClusterView::synced() const { return synced_.load() && claimed_nodes_.synced() && vouched_nodes_.synced(); }

Result<ApiClusterView::Config> ApiClusterView::read_config() {
  auto config = default_config();
  auto obj = client_->get(kube::resources::maroonedpodsconfigs, "", names::maroon_config_name);
  // No CRD or no `default` object: the documented defaults apply.
  if (!obj && kube::is_not_found(obj.error())) return config;
  if (!obj) return std::unexpected(obj.error());
  const auto spec = obj->value("spec", nlohmann::json::object());
  if (const auto key = spec.find("nodeTaintKey");
      key != spec.end() && key->is_string() && !key->get<std::string>().empty())
    config.taint_key = key->get<std::string>();
  if (const auto list = spec.find("nodeAgentNamespaces"); list != spec.end() && list->is_array()) {
    config.node_agent_namespaces.clear();
    for (const auto& ns : *list)
      if (ns.is_string()) config.node_agent_namespaces.insert(ns.get<std::string>());
  }
  return config;
}

void ApiClusterView::refresh_loop(const std::stop_token& stop, std::chrono::seconds refresh) {
  // Until the first read succeeds, retry soon: readiness waits for it.
  while (!stop.stop_requested()) {
    auto config = read_config();
    if (config) {
      std::lock_guard lock(mutex_);
      if (config->taint_key != config_.taint_key)
        log_info("taint key from MaroonedPodsConfig", {{"taintKey", config->taint_key}});
      config_ = std::move(*config);
      synced_ = true;
    } else {
      log_error("reading MaroonedPodsConfig failed", {{"error", config.error().message}});
    }
    if (!sleep_for(stop, synced_ ? refresh : std::chrono::seconds(1))) break;
  }
}

Result<bool> ApiClusterView::bootstrap_secret_exists(std::string_view node) {
  auto secret = client_->get(kube::resources::secrets, names::system_namespace, bootstrap::secret_name(node));
  if (!secret && kube::is_not_found(secret.error())) return false;
  if (!secret) return std::unexpected(secret.error());
  return secret->value("type", "") == names::bootstrap_secret_type;
}

}  // namespace nodeboot::webhook
