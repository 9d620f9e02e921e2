#include "nodeboot/kube/client.hpp"

#include <array>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "nodeboot/kube/auth.hpp"

#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/curl_trust.hpp"
#include "nodeboot/util/random.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::kube {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void global_init() {
  // curl_global_init is not thread-safe before 7.84; do it once before any handle exists.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

curl_blob blob_of(const std::string& s) { return curl_blob{const_cast<char*>(s.data()), s.size(), CURL_BLOB_COPY}; }

// Exponential backoff, 200 ms doubling to 5 s, with ±20 % jitter so that many clients
// thrown off by one API server restart do not reconnect in lockstep.
milliseconds backoff(int attempt) {
  static thread_local std::mt19937 rng{[] {
    std::array<unsigned char, sizeof(std::uint32_t)> seed{};
    random_bytes(
        seed);  // OpenSSL's CSPRNG: std::random_device would pull glibc 2.36's arc4random into the portable link
    std::uint32_t v = 0;
    std::memcpy(&v, seed.data(), sizeof v);
    return v;
  }()};
  long base = 200L << std::min(attempt, 5);
  base = std::min(base, 5000L);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return milliseconds(static_cast<long>(static_cast<double>(base) * jitter(rng)));
}

bool is_retryable_status(long code) { return code == 429 || code == 502 || code == 503 || code == 504; }

// Connections that never reached the server: safe to retry whatever the verb.
bool never_sent(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY;
}

// The Go API server answers an error before reading a request body and then sends GOAWAY;
// libcurl 7.88 reports the stream as partial although the status line (and usually the
// Status body) arrived. The answer stands: an error status is not worth a retry over this.
bool answered_then_closed(CURLcode rc, long status) {
  return status >= 400 &&
         (rc == CURLE_PARTIAL_FILE || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_RECV_ERROR);
}

bool is_idempotent(const std::string& method) { return method == "GET" || method == "HEAD"; }

struct Exchange {
  Response response;
  // Streaming (watch): complete lines go to on_line; the body of an error answer is kept.
  std::function<bool(std::string_view)> on_line;
  std::string partial;
  bool aborted_by_handler = false;
  std::exception_ptr exception;
  const std::stop_token* stop = nullptr;
  CURL* curl = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    if (name == "content-type") ex->response.content_type = value;
    if (name == "retry-after") ex->response.retry_after = value;
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  if (!ex->on_line) {
    ex->response.body.append(data, n);
    return n;
  }
  long code = 0;
  curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {  // an error answer: a Status, not a stream
    ex->response.body.append(data, n);
    return n;
  }
  ex->partial.append(data, n);
  std::size_t start = 0;
  for (std::size_t nl; (nl = ex->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(ex->partial.data() + start, nl - start);
    if (line.empty()) continue;
    bool go_on = false;
    try {
      go_on = ex->on_line(line);
    } catch (...) {
      ex->exception = std::current_exception();
    }
    if (!go_on) {
      ex->aborted_by_handler = true;
      return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
  }
  ex->partial.erase(0, start);
  return n;
}

int on_progress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
                curl_off_t /*ulnow*/) {
  auto* ex = static_cast<Exchange*>(user);
  return ex->stop && ex->stop->stop_requested() ? 1 : 0;
}

}  // namespace

std::string WatchEvent::resource_version() const {
  if (!object.is_object()) return "";
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return "";
  auto rv = m->find("resourceVersion");
  return rv != m->end() && rv->is_string() ? rv->get<std::string>() : "";
}

struct Client::Impl {
  explicit Impl(const RestConfig& config) : auth(config) {}
  ~Impl() {
    for (CURL* c : idle) curl_easy_cleanup(c);
  }

  Authenticator auth;
  std::mutex mu;
  std::vector<CURL*> idle;  // handles (and their live connections) between calls

  // A handle for one call; back into the pool when the call ends.
  struct Lease {
    Impl* impl;
    CURL* curl;
    ~Lease() {
      if (!curl) return;
      std::lock_guard lock(impl->mu);
      impl->idle.push_back(curl);
    }
  };
  Lease lease() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        CURL* c = idle.back();
        idle.pop_back();
        return Lease{this, c};
      }
    }
    return Lease{this, curl_easy_init()};
  }
};

Client::Client(RestConfig config) : config_(std::move(config)) {
  global_init();
  impl_ = std::make_unique<Impl>(config_);
}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(const ConnectionFlags& flags) {
  auto cfg = resolve_config(flags);
  if (!cfg) return std::unexpected(cfg.error());
  return std::make_unique<Client>(std::move(*cfg));
}

namespace {

// One HTTP exchange on `c`. `timeout` 0 = none.
CURLcode perform(CURL* c, const RestConfig& cfg, const Credentials& creds, const Request& req, Exchange& ex,
                 milliseconds timeout, std::string& error_text) {
  curl_easy_reset(c);
  ex.curl = c;
  const std::string url = cfg.server + req.target();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);  // a loopback or LAN server answers a SYN in far less
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);          // notices a server host that vanished under a long watch
  if (timeout.count() > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  if (ex.stop) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ex);
  }
  if (!cfg.disable_compression) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (req.method != "GET" && req.method != "HEAD") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  // TLS: trust, SNI override, client certificate.
  curl_blob cert = blob_of(creds.client_cert_pem), key = blob_of(creds.client_key_pem.reveal());
  trust_only(c, cfg.ca_pem);
  if (cfg.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!creds.client_cert_pem.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* connect_to = nullptr;
  std::string sni_url;
  if (!cfg.tls_server_name.empty()) {
    // libcurl has no SNI option: address the URL to the TLS name (so SNI and verification use
    // it) and route that name to the real host and port.
    CURLU* u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
      char *host = nullptr, *port = nullptr;
      curl_url_get(u, CURLUPART_HOST, &host, 0);
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
      std::string route = cfg.tls_server_name + ":" + port + ":" + host + ":" + port;
      connect_to = curl_slist_append(nullptr, route.c_str());
      curl_url_set(u, CURLUPART_HOST, cfg.tls_server_name.c_str(), 0);
      char* rewritten = nullptr;
      curl_url_get(u, CURLUPART_URL, &rewritten, 0);
      sni_url = rewritten;
      curl_free(rewritten);
      curl_free(host);
      curl_free(port);
      curl_easy_setopt(c, CURLOPT_URL, sni_url.c_str());
      curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
    }
    curl_url_cleanup(u);
  }

  // Proxy: the kubeconfig's proxy-url wins; otherwise libcurl reads the *_proxy variables.
  // Go's net/http never proxies loopback addresses, so neither do we (kubectl parity).
  std::string no_proxy = "localhost,127.0.0.1,::1";
  for (const char* var : {"NO_PROXY", "no_proxy"})
    if (const char* v = std::getenv(var); v && *v) no_proxy = std::string(v).append(",").append(no_proxy);
  if (!cfg.proxy_url.empty()) {
    curl_easy_setopt(c, CURLOPT_PROXY, cfg.proxy_url.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_NOPROXY, no_proxy.c_str());
  }

  curl_slist* headers = nullptr;
  auto add = [&](const std::string& h) { headers = curl_slist_append(headers, h.c_str()); };
  add("Accept: application/json");
  add("Expect:");  // no 100-continue round trip before bodies
  add("User-Agent: nodeboot/" + std::string(nodeboot::version()));
  for (const auto& [k, v] : req.headers) add(std::string(k).append(": ").append(v));
  // Holds secret header lines; wiped when this function returns.
  Secret auth_header;
  if (!creds.bearer_token.empty()) {
    auth_header = Secret("Authorization: Bearer " + creds.bearer_token.reveal());
  } else if (!creds.basic_user.empty() || !creds.basic_password.empty()) {
    auth_header =
        Secret("Authorization: Basic " + base64_encode(creds.basic_user + ":" + creds.basic_password.reveal()));
  }
  if (!auth_header.empty()) add(auth_header.reveal());
  if (!cfg.impersonate_user.empty()) add("Impersonate-User: " + cfg.impersonate_user);
  if (!cfg.impersonate_uid.empty()) add("Impersonate-Uid: " + cfg.impersonate_uid);
  for (const auto& g : cfg.impersonate_groups) add("Impersonate-Group: " + g);
  for (const auto& [k, values] : cfg.impersonate_extra)
    for (const auto& v : values) add("Impersonate-Extra-" + percent_encode(k) + ": " + v);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ex.response.status);
  long version = 0;
  curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
  ex.response.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : version == 0 ? 0 : 1;
  error_text = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  // The libcurl handle keeps the last option values; drop the pointers to our buffers.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  return rc;
}

Error transport_error(const Request& req, const RestConfig& cfg, const std::string& text) {
  return Error{ErrorKind::transport, req.method + " " + cfg.server + req.path + ": " + text};
}

}  // namespace

Result<Response> Client::send(const Request& req) {
  const auto start = Clock::now();
  const bool limited = config_.timeout.count() > 0 && !req.watch;
  const auto deadline = start + config_.timeout;
  bool refreshed = false;  // one forced credential refresh per call, after a 401
  bool force_refresh = false;
  for (int attempt = 0;; ++attempt) {
    milliseconds left{0};
    if (limited) {
      left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return fail(ErrorKind::transport, req.method + " " + config_.server + req.path + ": timed out after " +
                                              std::to_string(config_.timeout.count()) + " ms (--request-timeout)");
    }
    auto creds = impl_->auth.current(std::exchange(force_refresh, false));
    if (!creds) return std::unexpected(creds.error());
    auto lease = impl_->lease();
    if (!lease.curl) return fail(ErrorKind::internal, "libcurl could not be initialised");
    Exchange ex;
    std::string text;
    CURLcode rc = perform(lease.curl, config_, *creds, req, ex, left, text);
    if (rc != CURLE_OK && answered_then_closed(rc, ex.response.status)) rc = CURLE_OK;
    const bool can_retry = attempt < config_.max_retries;
    if (rc != CURLE_OK) {
      if (can_retry && (never_sent(rc) || (is_idempotent(req.method) && rc != CURLE_OPERATION_TIMEDOUT &&
                                           rc != CURLE_PEER_FAILED_VERIFICATION))) {
        std::this_thread::sleep_for(backoff(attempt));
        continue;
      }
      return fail(transport_error(req, config_, text));
    }
    const long code = ex.response.status;
    if (code == 401 && !refreshed && impl_->auth.refreshable()) {
      refreshed = force_refresh = true;
      continue;
    }
    const bool server_says_retry = !ex.response.retry_after.empty() && code >= 500;
    if (can_retry && (code == 429 || server_says_retry || (is_retryable_status(code) && is_idempotent(req.method)))) {
      milliseconds wait = backoff(attempt);
      if (!ex.response.retry_after.empty()) {
        // Retry-After in seconds (the API server never sends the HTTP-date form).
        long secs = std::atol(ex.response.retry_after.c_str());
        if (secs > 0) wait = std::chrono::seconds(std::min(secs, 60L));  // a minute bounds a CLI's patience
      }
      if (!limited || Clock::now() + wait < deadline) {
        std::this_thread::sleep_for(wait);
        continue;
      }
    }
    return std::move(ex.response);
  }
}

Result<nlohmann::json> Client::call(const Request& req) {
  auto resp = send(req);
  if (!resp) return std::unexpected(resp.error());
  if (resp->status < 200 || resp->status >= 300) return fail(api_error(resp->status, resp->body, resp->retry_after));
  if (resp->body.empty()) return nlohmann::json();
  auto doc = nlohmann::json::parse(resp->body, nullptr, false);
  if (doc.is_discarded())
    return fail(ErrorKind::api, req.method + " " + req.path + ": the server's answer is not JSON (" +
                                    (resp->content_type.empty() ? "no content type" : resp->content_type) + ")");
  return doc;
}

Result<nlohmann::json> Client::get_json(const std::string& path) {
  return call(Request{.method = "GET", .path = path});
}

Result<nlohmann::json> Client::get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                   const GetOptions& options) {
  return call(get_request(ref, ns, name, options));
}

Result<std::string> Client::list_pages(const ResourceRef& ref, std::string_view ns, ListOptions options,
                                       const PageHandler& on_page) {
  if (options.limit <= 0) options.limit = 500;  // kubectl's --chunk-size default
  std::string version;
  while (true) {
    auto page = call(list_request(ref, ns, options));
    if (!page) return std::unexpected(page.error());
    const auto& meta = (*page)["metadata"];
    version = meta.value("resourceVersion", version);
    std::string next = meta.value("continue", "");
    if (auto r = on_page(*page); !r) return std::unexpected(r.error());
    if (next.empty()) return version;
    options.continue_token = std::move(next);
    // Later pages come from the first page's snapshot; a version with a continue token is rejected.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
}

Result<nlohmann::json> Client::list(const ResourceRef& ref, std::string_view ns, const ListOptions& options) {
  nlohmann::json all;
  auto version = list_pages(ref, ns, options, [&](nlohmann::json& page) -> Result<void> {
    if (all.is_null()) {
      all = std::move(page);
      if (!all.contains("items") || all["items"].is_null()) all["items"] = nlohmann::json::array();
    } else if (page.contains("items") && page["items"].is_array()) {
      auto& items = all["items"];
      for (auto& item : page["items"]) items.push_back(std::move(item));
      all["metadata"]["resourceVersion"] = page["metadata"].value("resourceVersion", "");
    }
    return {};
  });
  if (!version) return std::unexpected(version.error());
  all["metadata"].erase("continue");
  all["metadata"].erase("remainingItemCount");
  return all;
}

Result<nlohmann::json> Client::create(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                      const WriteOptions& options) {
  return call(create_request(ref, ns, object, options));
}

namespace {
Result<std::string> name_of(const nlohmann::json& object) {
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    std::string name = object["metadata"].value("name", "");
    if (!name.empty()) return name;
  }
  return fail(ErrorKind::invalid_input, "the object to update has no metadata.name");
}
}  // namespace

// clang-tidy: it calls call(); clang 14 misreads this unit (a front-end error in std::expected)
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
Result<nlohmann::json> Client::update(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                      const WriteOptions& options) {
  auto name = name_of(object);
  if (!name) return std::unexpected(name.error());
  return call(update_request(ref, ns, *name, object, options));
}

// clang-tidy: it calls call(); clang 14 misreads this unit (a front-end error in std::expected)
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
Result<nlohmann::json> Client::update_status(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                                             const WriteOptions& options) {
  auto name = name_of(object);
  if (!name) return std::unexpected(name.error());
  return call(update_request(ref, ns, *name, object, options, "status"));
}

Result<nlohmann::json> Client::patch(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                                     const nlohmann::json& patch, const PatchOptions& options,
                                     std::string_view subresource) {
  if (type == PatchType::apply && options.field_manager.empty())
    return fail(ErrorKind::invalid_input, "server-side apply needs a field manager (PatchOptions::field_manager)");
  return call(patch_request(ref, ns, name, type, patch, options, subresource));
}

Result<nlohmann::json> Client::remove(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                      const DeleteOptions& options) {
  return call(delete_request(ref, ns, name, options));
}

Result<nlohmann::json> Client::remove_collection(const ResourceRef& ref, std::string_view ns,
                                                 const ListOptions& selector, const DeleteOptions& options) {
  return call(delete_collection_request(ref, ns, selector, options));
}

Result<void> Client::evict(std::string_view ns, std::string_view pod, const DeleteOptions& options) {
  auto r = call(eviction_request(ns, pod, options));
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<std::string> Client::logs(std::string_view ns, std::string_view pod, const LogOptions& options) {
  Request req = log_request(ns, pod, options);
  auto resp = send(req);
  if (!resp) return std::unexpected(resp.error());
  if (resp->status < 200 || resp->status >= 300) return fail(api_error(resp->status, resp->body, resp->retry_after));
  return std::move(resp->body);
}

Result<std::string> Client::watch(const ResourceRef& ref, std::string_view ns, WatchOptions options,
                                  const WatchHandler& handler, const WatchControl& control) {
  auto last_connected = Clock::now();
  int failures = 0;
  bool refreshed = false, force_refresh = false;
  while (true) {
    if (control.stop.stop_requested()) return options.resource_version;
    auto creds = impl_->auth.current(std::exchange(force_refresh, false));
    if (!creds) return std::unexpected(creds.error());
    Request req = watch_request(ref, ns, options);
    std::optional<Error> event_error;
    bool handler_done = false;
    bool got_events = false;
    Exchange ex;
    ex.stop = &control.stop;
    ex.on_line = [&](std::string_view line) {
      auto doc = nlohmann::json::parse(line, nullptr, false);
      if (!doc.is_object()) {
        event_error = Error{ErrorKind::api, "watch " + req.path + ": undecodable event from the server"};
        return false;
      }
      WatchEvent ev;
      const std::string type = doc.value("type", "");
      ev.object = std::move(doc["object"]);
      if (type == "ADDED")
        ev.type = WatchEventType::added;
      else if (type == "MODIFIED")
        ev.type = WatchEventType::modified;
      else if (type == "DELETED")
        ev.type = WatchEventType::deleted;
      else if (type == "BOOKMARK")
        ev.type = WatchEventType::bookmark;
      else
        ev.type = WatchEventType::error;
      if (ev.type == WatchEventType::error) {
        event_error = status_error(parse_status(ev.object));
        return false;
      }
      got_events = true;
      if (std::string rv = ev.resource_version(); !rv.empty()) options.resource_version = rv;
      if (!handler(ev)) {
        handler_done = true;
        return false;
      }
      return true;
    };
    auto lease = impl_->lease();
    if (!lease.curl) return fail(ErrorKind::internal, "libcurl could not be initialised");
    // The server ends the watch after timeoutSeconds; a minute beyond it means it hung.
    milliseconds limit =
        options.timeout_seconds > 0 ? std::chrono::seconds(options.timeout_seconds + 60) : milliseconds(0);
    std::string text;
    CURLcode rc = perform(lease.curl, config_, *creds, req, ex, limit, text);
    if (ex.exception) std::rethrow_exception(ex.exception);
    if (handler_done || control.stop.stop_requested()) return options.resource_version;
    if (event_error) return fail(std::move(*event_error));
    const long code = ex.response.status;
    if (rc == CURLE_OK && code >= 200 && code < 300) {
      // The server ended the watch (timeoutSeconds): resume at once.
      last_connected = Clock::now();
      failures = 0;
      refreshed = false;
      continue;
    }
    if (rc == CURLE_OK) {
      Error e = api_error(code, ex.response.body, ex.response.retry_after);
      if (code == 401 && !refreshed && impl_->auth.refreshable()) {
        refreshed = force_refresh = true;
        continue;
      }
      if (!(is_retryable_status(code) || code == 500)) return fail(std::move(e));
    } else if (got_events || (code >= 200 && code < 300)) {
      // A stream that was flowing and broke (server restart): reconnect from where it was.
      last_connected = Clock::now();
      failures = 0;
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM) {  // CURLE_SSL_CACERT is an alias
      return fail(transport_error(req, config_, text));
    }
    if (control.give_up_after.count() > 0 && Clock::now() - last_connected > control.give_up_after)
      return fail(transport_error(req, config_, text.empty() ? "the watch could not reconnect" : text));
    if (!sleep_for(control.stop, backoff(failures++))) return options.resource_version;
  }
}

Result<nlohmann::json> update_with_retry(Client& client, const ResourceRef& ref, std::string_view ns,
                                         std::string_view name,
                                         const std::function<Result<bool>(nlohmann::json&)>& mutate, int attempts) {
  for (int i = 0;; ++i) {
    auto object = client.get(ref, ns, name);
    if (!object) return object;
    auto changed = mutate(*object);
    if (!changed) return std::unexpected(changed.error());
    if (!*changed) return object;
    auto stored = client.update(ref, ns, *object);
    if (stored || !is_conflict(stored.error()) || i + 1 >= attempts) return stored;
  }
}

}  // namespace nodeboot::kube
