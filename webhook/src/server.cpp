#include "nodeboot/webhook/server.hpp"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <string>

#include "connections.hpp"
#include "nodeboot/webhook/log.hpp"
#include "nodeboot/webhook/nodes.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "nodeboot/webhook/secrets.hpp"

namespace nodeboot::webhook {
namespace {

// cpp-httplib's listener thread accepts and hands each socket to its task queue. This one
// runs the hand-over on the listener thread itself: the override below parks the socket in
// Connections at once, before any thread is taken for it.
class InlineQueue final : public httplib::TaskQueue {
 public:
  bool enqueue(std::function<void()> fn) override {
    fn();
    return true;
  }
  void shutdown() override {}
};

// One request's TLS stream. cpp-httplib's SSLSocketStream polls before every read and twice
// before every write (select_write, then is_socket_alive's select_read), and sends an
// answer's head and body as two TLS records: six polls and two records per request. This
// one reads straight through OpenSSL and gathers the answer, which leaves in one SSL_write:
// one record, one TCP segment, no cork. A wait is still bounded: cpp-httplib sets
// SO_RCVTIMEO and SO_SNDTIMEO on every accepted socket, and the watchdog's shutdown() ends
// a read at the request deadline.
class TlsStream final : public httplib::Stream {
 public:
  TlsStream(SSL& ssl, int fd) : ssl_(ssl), fd_(fd) {}

  // Only content providers ask these, and no route uses one.
  [[nodiscard]] bool is_readable() const override { return SSL_has_pending(&ssl_) == 1; }
  [[nodiscard]] bool is_writable() const override { return true; }

  ssize_t read(char* ptr, size_t size) override {
    // Anything gathered goes first: an interim answer (100 Continue) precedes the body it asks for.
    if (!flush()) return -1;
    // cpp-httplib reads the head a byte at a time: those bytes come from a peeked copy of
    // what OpenSSL holds (one SSL_peek for up to `peek_size` of them instead of one
    // SSL_read each), taken out of OpenSSL in one read when the copy runs out, a larger
    // read comes or the request ends (consume). Bytes peeked but not served stay in
    // OpenSSL, so nothing of the next request is lost with this stream.
    if (size == 1) {
      if (served_ == peeked_) {
        if (!consume()) return -1;
        ERR_clear_error();
        const int got = SSL_peek(&ssl_, peek_.data(), static_cast<int>(peek_.size()));
        if (got <= 0) return end_of(got);
        peeked_ = static_cast<std::size_t>(got);
      }
      *ptr = peek_[served_++];
      return 1;
    }
    if (!consume()) return -1;
    ERR_clear_error();
    const int got = SSL_read(&ssl_, ptr, static_cast<int>(std::min<size_t>(size, max_chunk)));
    return got > 0 ? got : end_of(got);
  }

  // Takes the peeked bytes already served out of OpenSSL; false when that fails.
  bool consume() {
    while (served_ > 0) {
      // They are in OpenSSL's buffer (peeked from one record): this read does not wait.
      const int got = SSL_read(&ssl_, peek_.data(), static_cast<int>(served_));
      if (got <= 0) return false;
      served_ -= static_cast<std::size_t>(got);
    }
    peeked_ = 0;
    return true;
  }

  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    if (out_.size() >= max_chunk && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  // Sends what was gathered; false once the client is gone or has stopped reading.
  bool flush() {
    if (failed_) return false;
    if (!out_.empty()) ERR_clear_error();
    for (std::size_t sent = 0; sent < out_.size();) {
      const int wrote =
          SSL_write(&ssl_, out_.data() + sent, static_cast<int>(std::min<size_t>(out_.size() - sent, max_chunk)));
      if (wrote <= 0) {
        out_.clear();
        failed_ = true;
        return false;
      }
      sent += static_cast<std::size_t>(wrote);
    }
    out_.clear();
    return true;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    httplib::detail::get_remote_ip_and_port(fd_, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    httplib::detail::get_local_ip_and_port(fd_, ip, port);
  }
  [[nodiscard]] int socket() const override { return fd_; }

 private:
  // What read() returns for a failed SSL_read or SSL_peek: 0 at the client's close_notify.
  ssize_t end_of(int result) const { return SSL_get_error(&ssl_, result) == SSL_ERROR_ZERO_RETURN ? 0 : -1; }

  static constexpr std::size_t max_chunk = std::size_t{64} * 1024;
  // A request head from the API server is about 300 bytes; a longer one takes more peeks.
  static constexpr std::size_t peek_size = 512;
  SSL& ssl_;
  int fd_;
  std::string out_;
  bool failed_ = false;
  std::array<char, peek_size> peek_{};
  std::size_t peeked_ = 0;  // bytes in peek_
  std::size_t served_ = 0;  // of those, returned by read() (still in OpenSSL until consume)
};

// The stream of the request this thread serves: the logger (called once the answer is
// written) sends it before the connection may be closed.
thread_local TlsStream* current_stream = nullptr;

// cpp-httplib's TLS server with its connection loop replaced: Connections owns every
// socket, and runs one request at a time here through cpp-httplib's own parsing, routing
// and answer writing (`process_request`).
class HttpServer final : public httplib::SSLServer {
 public:
  HttpServer(const std::function<bool(SSL_CTX&)>& setup, Connections& connections)
      : SSLServer(setup), connections_(connections) {}

  bool serve_request(SSL& ssl, int fd, Peer& peer) {
    if (peer.remote_port == 0) {
      httplib::detail::get_remote_ip_and_port(fd, peer.remote_addr, peer.remote_port);
      httplib::detail::get_local_ip_and_port(fd, peer.local_addr, peer.local_port);
    }
    TlsStream stream(ssl, fd);
    current_stream = &stream;
    bool client_closes = false;
    bool ok = process_request(stream, peer.remote_addr, peer.remote_port, peer.local_addr, peer.local_port, false,
                              client_closes, [&ssl](httplib::Request& req) { req.ssl = &ssl; });
    ok = stream.flush() && stream.consume() && ok;
    current_stream = nullptr;
    return ok && !client_closes;
  }

 private:
  // Called through InlineQueue on the listener thread for each accepted socket.
  bool process_and_close_socket(socket_t sock) override {
    connections_.adopt(sock);
    return true;
  }

  Connections& connections_;
};

// cpp-httplib adds these to every request's headers itself; they are not the client's.
constexpr std::array<std::string_view, 4> injected_headers{"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"};

RequestHead head_of(const httplib::Request& req) {
  RequestHead head;
  head.method = req.method;
  head.path = req.path;
  for (const auto& [name, value] : req.headers) {
    if (std::find(injected_headers.begin(), injected_headers.end(), name) != injected_headers.end()) continue;
    ++head.header_count;
    head.header_bytes += name.size() + value.size();
  }
  // Headers compare case-insensitively (cpp-httplib's multimap).
  const auto [first, last] = req.headers.equal_range("Content-Length");
  for (auto it = first; it != last; ++it) head.content_length.push_back(it->second);
  head.transfer_encoding = req.has_header("Transfer-Encoding");
  if (const auto type = req.headers.find("Content-Type"); type != req.headers.end()) head.content_type = type->second;
  return head;
}

// An in-band answer to a request whose body is not read (or not readable): the API server
// sees a review with a status instead of a transport error. With `close` the body stays
// unread and the connection ends after the answer.
void reject_in_band(httplib::Response& res, int code, std::string message, bool close) {
  res.status = 200;
  res.set_content(encode_review("", AdmissionResponse::errored(code, std::move(message))), "application/json");
  if (close) res.set_header("Connection", "close");
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, Metrics& metrics)
      : connections(ConnectionLimits{options.max_connections, options.max_workers, options.limits.request_deadline,
                                     std::chrono::duration_cast<std::chrono::milliseconds>(options.keep_alive)},
                    metrics) {}
  Connections connections;  // outlives the server: cpp-httplib's listener hands it sockets
  std::unique_ptr<HttpServer> http;
};

Server::Server(ServerOptions options, std::shared_ptr<ClusterView> cluster)
    : options_(std::move(options)),
      cluster_(std::move(cluster)),
      certs_(options_.cert_dir),
      impl_(std::make_unique<Impl>(options_, metrics_)) {}

Server::~Server() { stop(); }

bool Server::ready() const { return !shutting_down_ && certs_.loaded() && cluster_->synced(); }

Result<int> Server::start() {
  if (auto loaded = certs_.reload(); !loaded) return std::unexpected(loaded.error());
  const auto client_ca = options_.client_ca_file;
  impl_->http = std::make_unique<HttpServer>(
      [this, client_ca](SSL_CTX& ctx) {
        SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        // Idle keep-alive connections give their 2 x 16 KiB record buffers back.
        SSL_CTX_set_mode(&ctx, SSL_MODE_RELEASE_BUFFERS);
        // No server-side session cache: the API server does not resume webhook sessions, and a
        // flood of handshakes would fill it (TLS 1.3 tickets stay: they are stateless).
        SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_cert_cb(&ctx, &CertWatcher::install, &certs_);
        if (!client_ca.empty()) {
          if (SSL_CTX_load_verify_locations(&ctx, client_ca.c_str(), nullptr) != 1) return false;
          SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(client_ca.c_str()));
          SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
          static constexpr unsigned char context[] = "nodeboot-webhook";
          SSL_CTX_set_session_id_context(&ctx, context, sizeof context - 1);
        }
        return true;
      },
      impl_->connections);
  auto& http = *impl_->http;
  if (!http.is_valid()) return fail(ErrorKind::config, "cannot set up TLS (is --client-ca a readable PEM file?)");

  http.new_task_queue = [] { return new InlineQueue; };
  // Without TCP_NODELAY every keep-alive answer would wait ~40 ms for Nagle plus the
  // client's delayed ACK. Accepted sockets inherit it from the listener.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(options_.read_timeout.count(), 0);
  http.set_write_timeout(options_.read_timeout.count(), 0);
  // A backstop: the pre-routing handler refuses larger bodies per route before reading.
  http.set_payload_max_length(options_.limits.largest_body());
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second
  // webhook process bind the same port and take half the connections.
  http.set_socket_options([](int sock) {
    int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Connections::headers_read();
    const auto framing = check_framing(head_of(req), options_.limits);
    if (framing.code == 0) return httplib::Server::HandlerResponse::Unhandled;
    if (is_admission(route_of(req.path)) && req.method == "POST") {
      reject_in_band(res, framing.code, framing.message, framing.close);
    } else {
      res.status = framing.code;
      res.set_content(framing.message + "\n", "text/plain");
      if (framing.close) res.set_header("Connection", "close");
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  // cpp-httplib's own refusals (a head it cannot read: more than 100 header lines, a line
  // over 8 KiB, a malformed line; a body over the payload limit) on an admission route are
  // answered in-band too, and end the connection: its input is not a request boundary.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    const int code = res.status;
    if (!is_admission(route_of(req.path)) || !res.body.empty() || (code != 400 && code != 413 && code != 414))
      return httplib::Server::HandlerResponse::Unhandled;
    reject_in_band(res, code == 400 ? 431 : code,
                   code == 400 ? "the request head cannot be read (more than 100 header lines, a header line over "
                                 "8 KiB, or a malformed line)"
                               : "the request cannot be read (HTTP status " + std::to_string(code) + ")",
                   true);
    return httplib::Server::HandlerResponse::Handled;
  });

  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const bool close = res.get_header_value("Connection") == "close";
    // The answer leaves before the connection may be closed behind it.
    if (current_stream != nullptr && !current_stream->flush()) return;
    const auto elapsed = Connections::answered(close);
    metrics_.observe(route_of(req.path), res.status, elapsed);
    if (log_enabled(LogLevel::debug))
      log_debug("request",
                {{"method", req.method},
                 {"path", req.path},
                 {"status", std::to_string(res.status)},
                 {"micros", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())}});
  });

  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, const std::exception_ptr&) {
    log_error("request handler failed", {{"path", req.path}});
    if (is_admission(route_of(req.path))) {
      reject_in_band(res, 500, "internal error in nodeboot-webhook; see its log", false);
    } else {
      res.status = 500;
      res.set_content("internal error\n", "text/plain");
    }
  });

  const auto admission = [this](std::function<AdmissionResponse(const AdmissionRequest&)> handler,
                                ReviewObjects objects = ReviewObjects::raw) {
    return [this, handler = std::move(handler), objects](const httplib::Request& req, httplib::Response& res) {
      Connections::handling();
      res.set_content(serve_admission(req.body, handler, options_.limits, objects), "application/json");
    };
  };
  http.Post("/mutate/pods",
            admission([this](const AdmissionRequest& r) { return mutate_pod(r, cluster_->taint_key()); },
                      ReviewObjects::pods));
  http.Post("/validate/pods",
            admission(
                [this](const AdmissionRequest& r) {
                  const auto taint_key = cluster_->taint_key();
                  return validate_pod(r, PodPolicy{taint_key, options_.controller_username, cluster_.get()});
                },
                ReviewObjects::pods));
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
  impl_->connections.start(*http.ssl_context(),
                           [&http](SSL& ssl, int fd, Peer& peer) { return http.serve_request(ssl, fd, peer); });
  listener_ = std::jthread([&http] { http.listen_after_bind(); });
  // stop() before the accept loop runs would be lost (cpp-httplib stops only a running
  // server), so start() returns once it runs.
  http.wait_until_ready();
  certs_.start(options_.cert_poll);
  log_info("serving", {{"address", options_.host + ":" + std::to_string(port)}});
  return port;
}

void Server::stop() {
  shutting_down_ = true;
  if (impl_->http) impl_->http->stop();
  // The accept loop ends; the pool then waits for the requests in flight, while idle
  // keep-alive connections notice the closed listener within 100 ms and end.
  if (listener_.joinable()) listener_.join();
  impl_->connections.stop();
  certs_.stop();
}

}  // namespace nodeboot::webhook
