#pragma once

// kube::Client: sends Requests (request.hpp) to one API server as one identity.
//
// Thread safety: a Client may be shared by any number of threads. Each call borrows a
// libcurl handle from the Client's pool (and returns it, with its kept-alive connection,
// when the call ends), so concurrent calls run in parallel and a long watch never blocks
// other calls. Credentials that change (token files, exec plugins) are refreshed under a
// lock. Keep one Client per identity for the life of the program.
//
// Every call has a deadline (RestConfig::timeout, all retries included). 429 and 5xx
// answers are retried with exponential backoff, honouring Retry-After; a connection that
// could not be opened is retried for every verb, one that broke mid-request only for GET.
// HTTP/2 is used when the server offers it (ALPN).
//
// Typical use (a command's complete()/run()):
//   auto client = kube::Client::connect(flags);   // kubectl's rules (flags: cli::connection_flags)
//   if (!client) return fail(client.error());
//   auto node = (*client)->get(kube::resources::nodes, "", name);
//   if (!node) { if (kube::is_not_found(node.error())) ...; io.err << "error: " << node.error().message; }
//   (*client)->patch(kube::resources::nodes, "", name, kube::PatchType::merge, {{"metadata", ...}});

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/kube/request.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {

struct Response {
  long status = 0;
  std::string body{};
  std::string content_type{};
  std::string retry_after{};  // the Retry-After header, "" if absent
  int http_version = 0;       // 2 for HTTP/2 (negotiated by ALPN), 1 for HTTP/1.x
};

struct WatchEvent;  // watch_event.hpp: what a WatchHandler reads

// Return false to end the watch (Client::watch then returns normally).
using WatchHandler = std::function<bool(const WatchEvent&)>;

struct WatchControl {
  std::stop_token stop{};  // request_stop() ends the watch within about a second
  // Reconnect after a dropped connection or a server-side timeout, resuming from the last
  // version seen; give up when no connection has succeeded for this long (0 = never).
  std::chrono::milliseconds give_up_after{0};
};

// One page of a paged list: the List object (items and metadata).
using PageHandler = std::function<Result<void>(nlohmann::json& page)>;

class Client {
 public:
  explicit Client(RestConfig config);
  // resolve_config(flags) and a Client for it.
  static Result<std::unique_ptr<Client>> connect(const ConnectionFlags& flags);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const RestConfig& config() const noexcept { return config_; }
  // The namespace from the flags / context / in-cluster config ("default" otherwise).
  const std::string& default_namespace() const noexcept { return config_.namespace_; }

  // The raw exchange: auth, retries and the deadline applied; any HTTP status is returned.
  Result<Response> send(const Request& request);
  // send(), then a 2xx body decoded as JSON (null for an empty body) or the API error.
  Result<nlohmann::json> call(const Request& request);
  // GET an arbitrary path (/version, /readyz?verbose) as JSON.
  Result<nlohmann::json> get_json(const std::string& path);

  Result<nlohmann::json> get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             const GetOptions& options = {});
  // Every page, as one List object whose items are all of them (metadata from the last page).
  // Pages of options.limit objects (500 if 0, kubectl's chunk size).
  Result<nlohmann::json> list(const ResourceRef& ref, std::string_view ns, const ListOptions& options = {});
  // Every page, handed over one at a time so memory stays bounded by a page; returns the
  // list's resourceVersion (the one to start a watch from).
  Result<std::string> list_pages(const ResourceRef& ref, std::string_view ns, ListOptions options,
                                 const PageHandler& on_page);
  Result<nlohmann::json> create(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  // PUT: name from object.metadata.name; conflict (409) if metadata.resourceVersion is stale.
  Result<nlohmann::json> update(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  Result<nlohmann::json> update_status(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                       const WriteOptions& options = {});
  // For PatchType::apply, `patch` is the whole intent (apiVersion, kind, metadata.name) and
  // options.field_manager is required.
  Result<nlohmann::json> patch(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                               const nlohmann::json& patch, const PatchOptions& options = {},
                               std::string_view subresource = {});
  // DELETE; returns the object (being deleted, with finalizers) or the server's Status.
  Result<nlohmann::json> remove(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                const DeleteOptions& options = {});
  Result<nlohmann::json> remove_collection(const ResourceRef& ref, std::string_view ns, const ListOptions& selector,
                                           const DeleteOptions& options = {});
  // The eviction subresource: 429 (is_too_many_requests) while a PodDisruptionBudget forbids it.
  Result<void> evict(std::string_view ns, std::string_view pod, const DeleteOptions& options = {});
  Result<std::string> logs(std::string_view ns, std::string_view pod, const LogOptions& options = {});

  // Streams events to `handler` until it returns false, control.stop is requested, or an
  // error the caller must act on: 410 Gone (is_gone: the version was compacted; re-list and
  // watch again from the list's version), 401/403/404. Dropped connections and server-side
  // timeouts reconnect from the last version seen (bookmarks advance it). Returns the last
  // version seen, to resume from.
  Result<std::string> watch(const ResourceRef& ref, std::string_view ns, WatchOptions options,
                            const WatchHandler& handler, const WatchControl& control = {});

 private:
  struct Impl;
  RestConfig config_;
  std::unique_ptr<Impl> impl_{};
};

// Read-modify-write that survives concurrent writers: GET the object, apply `mutate` to it
// (return false to skip the write: nothing to change), PUT it; on 409 Conflict start over,
// up to `attempts` times (client-go's retry.RetryOnConflict uses 5). Returns the stored object.
Result<nlohmann::json> update_with_retry(Client& client, const ResourceRef& ref, std::string_view ns,
                                         std::string_view name,
                                         const std::function<Result<bool>(nlohmann::json&)>& mutate, int attempts = 5);

}  // namespace nodeboot::kube
