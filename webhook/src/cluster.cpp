#include "nodeboot/webhook/cluster.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook {

namespace {
// The CRD is issue 4's (cluster-scoped, the object named `default`).
const kube::ResourceRef maroonedpodsconfigs{"maroonedpods.io", "v1alpha1", "maroonedpodsconfigs", false,
                                            "MaroonedPodsConfig"};
}  // namespace

ApiClusterView::ApiClusterView(std::shared_ptr<kube::Client> client, std::chrono::seconds refresh)
    : client_(std::move(client)), taint_key_(names::maroon_default_taint_key) {
  thread_ = std::thread([this, refresh] { refresh_loop(refresh); });
}

ApiClusterView::~ApiClusterView() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string ApiClusterView::taint_key() const {
  std::lock_guard lock(mutex_);
  return taint_key_;
}

Result<std::string> ApiClusterView::read_taint_key() {
  auto obj = client_->get(maroonedpodsconfigs, "", "default");
  // No CRD or no `default` object: the documented defaults apply.
  if (!obj && kube::is_not_found(obj.error())) return std::string(names::maroon_default_taint_key);
  if (!obj) return std::unexpected(obj.error());
  const auto ptr = nlohmann::json::json_pointer("/spec/nodeTaintKey");
  if (obj->contains(ptr) && obj->at(ptr).is_string() && !obj->at(ptr).get<std::string>().empty())
    return obj->at(ptr).get<std::string>();
  return std::string(names::maroon_default_taint_key);
}

void ApiClusterView::refresh_loop(std::chrono::seconds refresh) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto key = read_taint_key();
    lock.lock();
    if (key) {
      if (*key != taint_key_) log_info("taint key from MaroonedPodsConfig", {{"taintKey", *key}});
      taint_key_ = std::move(*key);
      synced_ = true;
    } else {
      log_error("reading MaroonedPodsConfig failed", {{"error", key.error().message}});
    }
    // Until the first read succeeds, retry soon: readiness waits for it.
    wake_.wait_for(lock, synced_ ? refresh : std::chrono::seconds(1), [&] { return stopping_; });
  }
}

Result<bool> ApiClusterView::bootstrap_secret_exists(std::string_view node) {
  auto secret = client_->get(kube::resources::secrets, names::system_namespace, bootstrap::secret_name(node));
  if (!secret && kube::is_not_found(secret.error())) return false;
  if (!secret) return std::unexpected(secret.error());
  return secret->value("type", "") == names::bootstrap_secret_type;
}

}  // namespace nodeboot::webhook
