#include "nodeboot/webhook/server.hpp"

#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <deque>
#include <mutex>

#include <httplib.h>

#include "keepalive_wait.hpp"
#include "nodeboot/webhook/log.hpp"
#include "nodeboot/webhook/nodes.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "nodeboot/webhook/secrets.hpp"

namespace nodeboot::webhook {
namespace {

// cpp-httplib serves each connection on one pool thread for its whole keep-alive life, and
// its stock pool has a fixed size (8 here): 8 idle keep-alive connections starve
// everyone else. This pool starts threads on demand up to a maximum and retires idle ones.
class ConnectionPool final : public httplib::TaskQueue {
 public:
  ConnectionPool(std::size_t max_threads, std::chrono::seconds keep_alive) : max_threads_(max_threads), keep_alive_(keep_alive) {}

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && threads_ < max_threads_) spawn_locked();
    work_.notify_one();
  }

  void shutdown() override {
    std::unique_lock lock(mutex_);
    shutdown_ = true;
    work_.notify_all();
    done_.wait(lock, [&] { return threads_ == 0; });
  }

 private:
  // 512 KiB stacks: a handler's deepest path (OpenSSL handshake, JSON decoding) uses a few
  // tens of KiB; the default 8 MiB per thread would only inflate virtual memory.
  static constexpr std::size_t stack_size = 512 * 1024;
  // Threads above `spare` retire after this long without work.
  static constexpr auto idle_retire = std::chrono::seconds(30);
  static constexpr std::size_t spare = 4;

  void spawn_locked() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_size);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    if (pthread_create(&thread, &attr, &ConnectionPool::entry, this) == 0) ++threads_;
    pthread_attr_destroy(&attr);
  }

  static void* entry(void* self) {
    auto* pool = static_cast<ConnectionPool*>(self);
    const IdleWait idle_wait(pool->keep_alive_);
    pool->work();
    return nullptr;
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      ++idle_;
      const bool woke = work_.wait_for(lock, idle_retire, [&] { return shutdown_ || !jobs_.empty(); });
      --idle_;
      if (!jobs_.empty()) {
        auto fn = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
        continue;
      }
      if (shutdown_ || (!woke && threads_ > spare)) break;
    }
    if (--threads_ == 0) done_.notify_all();
  }

  const std::size_t max_threads_;
  const std::chrono::seconds keep_alive_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<std::function<void()>> jobs_;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

// Reaches the listening socket, which cpp-httplib 0.11.4 opens with a backlog of 5.
class TlsServer final : public httplib::SSLServer {
 public:
  using SSLServer::SSLServer;
  bool widen_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

// Enough queued handshakes for every API server reconnecting at once after a restart.
constexpr int listen_backlog = 1024;

using Clock = std::chrono::steady_clock;
thread_local Clock::time_point request_start;
thread_local bool request_pending = false;

bool is_admission(Route r) {
  return r == Route::mutate_pods || r == Route::validate_pods || r == Route::validate_secrets || r == Route::validate_nodes;
}

// An in-band answer to a request whose body is not read (or not readable): the API server
// sees a review with a status instead of a transport error. The body may be unread, so
// the connection closes.
// cpp-httplib (Debian builds it with zlib and brotli) gzips "application/json" bodies for
// clients that accept it, as the API server does: a fresh zlib stream (about 256 KiB of
// state, by zlib.h's formula) for every answer of a few hundred bytes. The parameterised
// type is outside its list and means the same.
constexpr const char* json_type = "application/json; charset=utf-8";

// The TLS connection this thread serves, recorded at its ClientHello: each connection
// lives on one pool thread from handshake to close.
thread_local SSL* connection_ssl = nullptr;
// Set when the answer being written must end the connection.
thread_local bool close_after_response = false;

// The socket corked for the answer being written, or -1.
thread_local int corked_fd = -1;

int remember_connection(SSL* ssl, int*, void*) {
  connection_ssl = ssl;
  close_after_response = false;
  corked_fd = -1;
  return SSL_CLIENT_HELLO_SUCCESS;
}

// cpp-httplib 0.11.4 writes an answer's head and body with two SSL_writes; with TCP_NODELAY
// that is two TCP segments, and two wake-ups of the API server, per admission. Corked while
// they are written, they leave as one segment when the logger (which cpp-httplib calls
// right after the write) uncorks.
void cork_answer() {
  if (!connection_ssl) return;
  const int fd = SSL_get_fd(connection_ssl);
  const int on = 1;
  if (fd >= 0 && ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0) corked_fd = fd;
}

void uncork_answer() {
  if (corked_fd < 0) return;
  const int off = 0;
  ::setsockopt(corked_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  corked_fd = -1;
}

void reject_in_band(httplib::Response& res, int code, std::string message, bool close) {
  res.status = 200;
  res.set_content(encode_review("", AdmissionResponse::errored(code, std::move(message))), json_type);
  if (close) {
    res.set_header("Connection", "close");
    close_after_response = true;
  }
}

// cpp-httplib 0.11.4 ignores a handler's "Connection: close" and would parse the unread
// body as the next request. After the answer is written: close_notify, then FIN, so the
// client reads the whole answer and a clean end (closing with unread input would send a
// reset that can destroy the answer in flight).
void end_connection_after_response() {
  uncork_answer();
  if (!close_after_response || !connection_ssl) return;
  close_after_response = false;
  SSL_shutdown(connection_ssl);
  ::shutdown(SSL_get_fd(connection_ssl), SHUT_WR);
}

}  // namespace

namespace {

// Connections with a request in flight, keyed by peer address. cpp-httplib 0.11.4 waits
// out the whole keep-alive timeout on idle connections before it notices a stop, so on
// shutdown every connection not in this list is closed (see close_idle_connections).
class BusyConnections {
 public:
  static std::uint64_t key(const std::string& addr, int port) {
    return std::hash<std::string>{}(addr) * 65599u + static_cast<std::uint64_t>(port);
  }
  void add(std::uint64_t k) {
    std::lock_guard lock(mutex_);
    keys_.push_back(k);
  }
  void remove(std::uint64_t k) {
    std::lock_guard lock(mutex_);
    if (auto it = std::ranges::find(keys_, k); it != keys_.end()) {
      *it = keys_.back();
      keys_.pop_back();
    }
  }
  bool contains(std::uint64_t k) {
    std::lock_guard lock(mutex_);
    return std::ranges::find(keys_, k) != keys_.end();
  }

 private:
  std::mutex mutex_;
  std::vector<std::uint64_t> keys_;
};

// Shuts down the accepted connections on `port` that are idle (not in `busy`): their
// threads wake, see EOF and end. Accepted sockets are found among the process's fds by
// their local port; the listener itself is already closed.
void close_idle_connections(int port, BusyConnections& busy) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    int local_port = 0;
    if (local.ss_family == AF_INET) local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    else if (local.ss_family == AF_INET6) local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    if (local_port != port) continue;
    sockaddr_storage peer{};
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {};
    int peer_port = 0;
    if (peer.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<sockaddr_in*>(&peer);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      peer_port = ntohs(a->sin_port);
    } else {
      const auto* a = reinterpret_cast<sockaddr_in6*>(&peer);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      peer_port = ntohs(a->sin6_port);
    }
    if (!busy.contains(BusyConnections::key(host, peer_port))) ::shutdown(fd, SHUT_RDWR);
  }
}

thread_local std::uint64_t request_key = 0;

}  // namespace

struct Server::Impl {
  std::unique_ptr<TlsServer> http;
  BusyConnections busy;
  int port = 0;
};

Server::Server(ServerOptions options, std::shared_ptr<ClusterView> cluster)
    : options_(std::move(options)), cluster_(std::move(cluster)), certs_(options_.cert_dir), impl_(std::make_unique<Impl>()) {}

Server::~Server() { stop(); }

bool Server::ready() const { return !shutting_down_ && certs_.loaded() && cluster_->synced(); }

Result<int> Server::start() {
  if (auto loaded = certs_.reload(); !loaded) return std::unexpected(loaded.error());
  const auto client_ca = options_.client_ca_file;
  impl_->http = std::make_unique<TlsServer>([this, client_ca](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // Idle keep-alive connections give their 2 x 16 KiB record buffers back.
    SSL_CTX_set_mode(&ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_cert_cb(&ctx, &CertWatcher::install, &certs_);
    SSL_CTX_set_client_hello_cb(&ctx, &remember_connection, nullptr);
    if (!client_ca.empty()) {
      if (SSL_CTX_load_verify_locations(&ctx, client_ca.c_str(), nullptr) != 1) return false;
      SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(client_ca.c_str()));
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      static constexpr unsigned char context[] = "nodeboot-webhook";
      SSL_CTX_set_session_id_context(&ctx, context, sizeof context - 1);
    }
    return true;
  });
  auto& http = *impl_->http;
  if (!http.is_valid()) return fail(ErrorKind::config, "cannot set up TLS (is --client-ca a readable PEM file?)");

  const auto max_connections = options_.max_connections;
  const auto keep_alive = options_.keep_alive;
  http.new_task_queue = [max_connections, keep_alive] { return new ConnectionPool(max_connections, keep_alive); };
  // Debian builds cpp-httplib with TCP_NODELAY off: every keep-alive answer would wait
  // ~40 ms for Nagle plus the client's delayed ACK.
  http.set_tcp_nodelay(true);
  // A handshake per million requests is noise; cpp-httplib's default (5) is a handshake
  // every fifth admission.
  http.set_keep_alive_max_count(1'000'000);
  http.set_keep_alive_timeout(options_.keep_alive.count());
  http.set_read_timeout(options_.read_timeout.count(), 0);
  http.set_write_timeout(options_.read_timeout.count(), 0);
  http.set_payload_max_length(options_.max_body);
  http.set_socket_options([](int sock) {
    int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (request_pending) {  // the previous request on this thread never finished
      metrics_.in_flight(-1);
      impl_->busy.remove(request_key);
    }
    request_start = Clock::now();
    request_pending = true;
    request_key = BusyConnections::key(req.remote_addr, req.remote_port);
    impl_->busy.add(request_key);
    metrics_.in_flight(+1);
    const Route route = route_of(req.path);
    if (!is_admission(route) || req.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
    // cpp-httplib 0.11.4 reads a body without Content-Length (chunked) with no limit, so
    // the size is settled here, before any of the body is read.
    if (!req.has_header("Content-Length")) {
      reject_in_band(res, 411, "the request has no Content-Length; send the AdmissionReview with one", true);
      return httplib::Server::HandlerResponse::Handled;
    }
    const auto length = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
    if (length > options_.max_body) {
      reject_in_band(res, 413, "the request body is " + std::to_string(length) + " bytes; the limit is " +
                                   std::to_string(options_.max_body), true);
      return httplib::Server::HandlerResponse::Handled;
    }
    const auto type = req.get_header_value("Content-Type");
    if (type.substr(0, type.find(';')) != "application/json") {
      reject_in_band(res, 415, "the Content-Type must be application/json", true);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (length == 0) {
      reject_in_band(res, 400, "the request body is empty; send an AdmissionReview", false);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    end_connection_after_response();
    if (!request_pending) return;
    request_pending = false;
    impl_->busy.remove(request_key);
    metrics_.in_flight(-1);
    const auto elapsed = Clock::now() - request_start;
    metrics_.observe(route_of(req.path), res.status, elapsed);
    if (log_enabled(LogLevel::debug))
      log_debug("request", {{"method", req.method},
                            {"path", req.path},
                            {"status", std::to_string(res.status)},
                            {"micros", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())}});
  });

  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    log_error("request handler failed", {{"path", req.path}});
    if (is_admission(route_of(req.path))) {
      reject_in_band(res, 500, "internal error in nodeboot-webhook; see its log", false);
    } else {
      res.status = 500;
      res.set_content("internal error\n", "text/plain");
    }
  });

  const auto admission = [this](std::function<AdmissionResponse(const AdmissionRequest&)> handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
      res.set_content(serve_admission(req.body, handler), json_type);
      cork_answer();
    };
  };
  http.Post("/mutate/pods", admission([this](const AdmissionRequest& r) { return mutate_pod(r, cluster_->taint_key()); }));
  http.Post("/validate/pods", admission([this](const AdmissionRequest& r) {
              const auto taint_key = cluster_->taint_key();
              return validate_pod(r, PodPolicy{taint_key, options_.controller_username, cluster_.get()});
            }));
  http.Post("/validate/secrets", admission([](const AdmissionRequest& r) { return validate_secret(r); }));
  http.Post("/validate/nodes", admission([this](const AdmissionRequest& r) {
              return validate_node(r, options_.schedule_label, *cluster_);
            }));
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (ready()) {
      res.set_content("ok\n", "text/plain");
      return;
    }
    res.status = 503;
    std::string why = shutting_down_ ? "shutting down\n" : "";
    if (!certs_.loaded()) why += "no serving certificate loaded\n";
    if (!cluster_->synced()) why += "MaroonedPodsConfig not read yet\n";
    res.set_content(why, "text/plain");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(certs_) + (options_.extra_metrics ? options_.extra_metrics() : ""),
                    "text/plain; version=0.0.4");
  });

  int port = options_.port;
  if (port == 0) {
    port = http.bind_to_any_port(options_.host);
    if (port <= 0) return fail(ErrorKind::io, "cannot bind a port on " + options_.host);
  } else if (!http.bind_to_port(options_.host, port)) {
    return fail(ErrorKind::io, "cannot listen on " + options_.host + ":" + std::to_string(port) + " (port in use?)");
  }
  if (!http.widen_backlog(listen_backlog)) log_error("cannot widen the listen backlog; staying at 5");
  impl_->port = port;
  thread_ = std::thread([&http] { http.listen_after_bind(); });
  certs_.start(options_.cert_poll);
  log_info("serving", {{"address", options_.host + ":" + std::to_string(port)}});
  return port;
}

void Server::stop() {
  shutting_down_ = true;
  if (impl_->http) impl_->http->stop();
  // Requests in flight finish (cpp-httplib ends their connection afterwards because the
  // listener is gone); idle keep-alive connections would otherwise hold on for minutes.
  if (impl_->port != 0) close_idle_connections(impl_->port, impl_->busy);
  if (thread_.joinable()) thread_.join();
  certs_.stop();
}

}  // namespace nodeboot::webhook
