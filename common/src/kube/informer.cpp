#include "nodeboot/kube/informer.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/util/sleep.hpp"

namespace nodeboot::kube {
namespace {

std::string rv_of(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  return object["metadata"].value("resourceVersion", "");
}

// 1 s doubling to 30 s: a re-list is expensive for the server, so back off harder than a call.
std::chrono::milliseconds relist_backoff(int failures) {
  return std::chrono::milliseconds(std::min(1000L << std::min(failures, 5), 30000L));
}

}  // namespace

Informer::Informer(Client& client, ResourceRef ref, std::string ns, ListOptions selector, InformerHandlers handlers)
    : client_(client),
      ref_(std::move(ref)),
      ns_(std::move(ns)),
      selector_(std::move(selector)),
      handlers_(std::move(handlers)) {}

Informer::~Informer() { stop(); }

Informer::Key Informer::key_of(const nlohmann::json& object) {
  const auto& meta = object.at("metadata");
  return {meta.value("namespace", ""), meta.value("name", "")};
}

void Informer::start() {
  thread_ = std::jthread([this](const std::stop_token& st) { run(st); });
}

void Informer::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool Informer::synced() const {
  std::shared_lock lock(mu_);
  return synced_;
}

bool Informer::wait_synced(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(sync_mu_);
  return sync_cv_.wait_for(lock, timeout, [this] { return synced(); });
}

std::optional<nlohmann::json> Informer::get(std::string_view ns, std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = store_.find(Key{std::string(ref_.namespaced ? ns : ""), std::string(name)});
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> Informer::list() const {
  std::shared_lock lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(store_.size());
  for (const auto& [k, v] : store_) out.push_back(v);
  return out;
}

std::string Informer::resource_version() const {
  std::shared_lock lock(mu_);
  return version_;
}

int Informer::lists() const {
  std::shared_lock lock(mu_);
  return lists_;
}

Result<void> Informer::relist() {
  std::map<Key, nlohmann::json> fresh;
  ListOptions opts = selector_;
  opts.continue_token.clear();
  opts.resource_version.clear();  // a consistent read of the current state
  auto version = client_.list_pages(ref_, ns_, opts, [&](nlohmann::json& page) -> Result<void> {
    if (page.contains("items") && page["items"].is_array())
      for (auto& item : page["items"]) {
        if (handlers_.transform) item = handlers_.transform(std::move(item));
        Key k = key_of(item);
        fresh.emplace(std::move(k), std::move(item));
      }
    return {};
  });
  if (!version) return std::unexpected(version.error());

  // What changed since the cache was last right, computed under the lock, reported after it.
  std::vector<nlohmann::json> added, deleted;
  std::vector<std::pair<nlohmann::json, nlohmann::json>> updated;
  {
    std::unique_lock lock(mu_);
    for (const auto& [k, obj] : fresh) {
      auto old = store_.find(k);
      if (old == store_.end())
        added.push_back(obj);
      else if (rv_of(old->second) != rv_of(obj))
        updated.emplace_back(old->second, obj);
    }
    for (const auto& [k, obj] : store_)
      if (!fresh.contains(k)) deleted.push_back(obj);
    store_ = std::move(fresh);
    version_ = *version;
    ++lists_;
    synced_ = true;
  }
  { std::lock_guard lock(sync_mu_); }
  sync_cv_.notify_all();
  for (const auto& o : added)
    if (handlers_.on_add) handlers_.on_add(o);
  for (const auto& [o, n] : updated)
    if (handlers_.on_update) handlers_.on_update(o, n);
  for (const auto& o : deleted)
    if (handlers_.on_delete) handlers_.on_delete(o);
  return {};
}

void Informer::apply(const WatchEvent& ev) {
  if (ev.type == WatchEventType::bookmark) {
    std::unique_lock lock(mu_);
    if (auto rv = ev.resource_version(); !rv.empty()) version_ = rv;
    return;
  }
  if (!ev.object.is_object() || !ev.object.contains("metadata")) return;
  const auto version = ev.resource_version();
  const nlohmann::json object = handlers_.transform ? handlers_.transform(ev.object) : ev.object;
  Key k = key_of(object);
  std::optional<nlohmann::json> old;
  {
    std::unique_lock lock(mu_);
    auto it = store_.find(k);
    if (it != store_.end()) old = it->second;
    if (ev.type == WatchEventType::deleted)
      store_.erase(k);
    else
      store_[k] = object;
    version_ = version;
  }
  if (ev.type == WatchEventType::deleted) {
    if (handlers_.on_delete) handlers_.on_delete(object);
  } else if (old) {
    if (handlers_.on_update) handlers_.on_update(*old, object);
  } else if (handlers_.on_add) {
    handlers_.on_add(object);
  }
}

void Informer::run(const std::stop_token& stop) {
  int failures = 0;
  bool need_list = true;
  while (!stop.stop_requested()) {
    if (need_list) {
      if (auto r = relist(); !r) {
        if (handlers_.on_error) handlers_.on_error(r.error());
        sleep_for(stop, relist_backoff(failures++));
        continue;
      }
      need_list = false;
      failures = 0;
    }
    WatchOptions wopts{.label_selector = selector_.label_selector,
                       .field_selector = selector_.field_selector,
                       .resource_version = resource_version()};
    auto end = client_.watch(
        ref_, ns_, wopts,
        [&](const WatchEvent& ev) {
          apply(ev);
          return true;
        },
        WatchControl{.stop = stop});
    if (stop.stop_requested()) return;
    if (!end) {
      if (handlers_.on_error) handlers_.on_error(end.error());
      // 410 Gone: the version is compacted, only a list brings the cache back. Any other
      // error (403 after an RBAC change, 500): list again after a pause too.
      need_list = true;
      if (!is_gone(end.error())) sleep_for(stop, relist_backoff(failures++));
    }
  }
}

}  // namespace nodeboot::kube
