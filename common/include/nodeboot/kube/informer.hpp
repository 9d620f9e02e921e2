#pragma once

// A list+watch cache of one resource (client-go's informer, in small): an initial paged
// list, then a watch from the list's version; a 410 Gone (or any broken watch that cannot
// resume) re-lists and reports the difference as add/update/delete, so handlers see every
// change exactly once per version. synced() turns true after the first complete list.
//
// Handlers run on the informer's own thread, one at a time, after the cache is updated and
// without any lock held: they may call get()/list() and may block (the watch waits).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/watch_event.hpp"

namespace nodeboot::kube {

struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add{};
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update{};
  std::function<void(const nlohmann::json& last_known)> on_delete{};
  // Errors the informer recovers from by itself (it retries with backoff): for logging.
  std::function<void(const Error& error)> on_error{};
  // Applied to every object before it is cached or handed to a handler (client-go's
  // SetTransform): a cache of all Nodes keeps only the fields its controller reads. Must
  // keep metadata.name, metadata.namespace and metadata.resourceVersion.
  std::function<nlohmann::json(nlohmann::json object)> transform{};
};

class Informer {
 public:
  // `ns` "" = all namespaces (or a cluster-scoped resource); only the selectors of `selector` are used.
  Informer(Client& client, ResourceRef ref, std::string ns, ListOptions selector, InformerHandlers handlers);
  ~Informer();  // stops the thread started by start()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Runs on the calling thread until `stop` is requested.
  void run(const std::stop_token& stop);
  // Runs on a thread of its own until stop() or destruction.
  void start();
  void stop();

  bool synced() const;
  // Waits for the first complete list; false on timeout.
  bool wait_synced(std::chrono::milliseconds timeout) const;

  std::optional<nlohmann::json> get(std::string_view ns, std::string_view name) const;
  std::vector<nlohmann::json> list() const;
  // The version the cache reflects (the last event or list).
  std::string resource_version() const;
  // How many times the informer listed (1 + re-lists after 410 or a broken watch).
  int lists() const;

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name
  static Key key_of(const nlohmann::json& object);
  Result<void> relist();
  void apply(const WatchEvent& event);

  Client& client_;
  ResourceRef ref_;
  std::string ns_;
  ListOptions selector_;
  InformerHandlers handlers_;

  mutable std::shared_mutex mu_;
  std::map<Key, nlohmann::json> store_;
  std::string version_;
  int lists_ = 0;
  bool synced_ = false;
  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
  std::jthread thread_;
};

}  // namespace nodeboot::kube
