#include "nodeboot/webhook/server.hpp"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <string>
#include <string_view>

#include "connections.hpp"
#include "httplib_head.hpp"
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

// What a review that made a handler throw is answered (the details go to the log).
constexpr std::string_view internal_error = "internal error in nodeboot-webhook; see its log";

// An in-band answer to a request whose body is not read (or not readable): the API server
// sees a review with a status instead of a transport error. With `close` the body stays
// unread and the connection ends after the answer.
void reject_in_band(httplib::Response& res, int code, std::string message, bool close) {
  res.status = 200;
  res.set_content(encode_review("", AdmissionResponse::errored(code, std::move(message))), "application/json");
  if (close) res.set_header("Connection", "close");
}

// An admission route's handler, and how its review's objects are read.
struct AdmissionRoute {
  std::function<AdmissionResponse(const AdmissionRequest&)> handler;
  ReviewObjects objects = ReviewObjects::raw;
};
// By Route: mutate_pods, validate_pods, validate_secrets, validate_nodes.
using AdmissionRoutes = std::array<AdmissionRoute, 4>;

// What the server does once an answer is out: the connection's state, the route's metrics,
// the debug line. Both paths below end here.
void answered(Metrics& metrics, std::string_view method, std::string_view path, int status, bool close) {
  const auto elapsed = Connections::answered(close);
  metrics.observe(route_of(path), status, elapsed);
  if (log_enabled(LogLevel::debug))
    log_debug("request",
              {{"method", std::string(method)},
               {"path", std::string(path)},
               {"status", std::to_string(status)},
               {"micros", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())}});
}

#define NODEBOOT_STR2(x) #x
#define NODEBOOT_STR(x) NODEBOOT_STR2(x)
// The head cpp-httplib writes for a 200 with a JSON body on a connection kept alive, its
// headers in the order its unordered multimap gives these three, up to the Content-Length's
// digits (integration/webhook_server compares the two paths' answers byte for byte).
constexpr std::string_view plain_answer_head = "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=" NODEBOOT_STR(
    CPPHTTPLIB_KEEPALIVE_TIMEOUT_SECOND) ", max=" NODEBOOT_STR(CPPHTTPLIB_KEEPALIVE_MAX_COUNT) "\r\nContent-Length: ";
constexpr std::string_view plain_answer_rest = "\r\nContent-Type: application/json\r\n\r\n";
#undef NODEBOOT_STR
#undef NODEBOOT_STR2

// Reads exactly `size` bytes (a request's head and body: the next request's bytes stay in
// OpenSSL); false when the client is gone or the request deadline shut the socket.
bool read_exactly(SSL& ssl, char* to, std::size_t size) {
  for (std::size_t have = 0; have < size;) {
    const int got = SSL_read(&ssl, to + have, static_cast<int>(std::min<std::size_t>(size - have, INT_MAX)));
    if (got <= 0) return false;
    have += static_cast<std::size_t>(got);
  }
  return true;
}

// The API server's requests without cpp-httplib's request machinery: a plain head
// (read_plain_head) for an admission route that the framing rules let through is read from
// one peek at what OpenSSL holds; the head is then taken out of OpenSSL and the body read
// straight into the decoder's buffer, the review is served, and the answer (the bytes
// cpp-httplib would write) leaves in one SSL_write. cpp-httplib reads a head one byte at a
// time through a virtual call, builds a header multimap and a Request, and routes by
// regular expression: about a fifth of a review's CPU (perf, session 28). nullopt: nothing
// was taken from OpenSSL, and cpp-httplib serves the request (every refusal, every other
// route, every unusual head). Otherwise whether the connection may serve another request.
// No ERR_clear_error here: nothing below asks SSL_get_error, and every path that does
// (TlsStream, the handshake) clears the queue first.
std::optional<bool> serve_plain(SSL& ssl, const AdmissionRoutes& routes, const RequestLimits& limits,
                                Metrics& metrics) {
  // A head from the API server is about 300 bytes; one that is not whole in the first
  // record's first KiB goes to cpp-httplib.
  std::array<char, 1024> peeked;  // NOLINT(cppcoreguidelines-pro-type-member-init): SSL_peek fills it
  const int got = SSL_peek(&ssl, peeked.data(), static_cast<int>(peeked.size()));
  if (got <= 0) return std::nullopt;
  const auto plain = read_plain_head(std::string_view(peeked.data(), static_cast<std::size_t>(got)));
  if (!plain) return std::nullopt;
  const Route route = route_of(plain->head.path);
  if (!is_admission(route) || plain->head.method != "POST" || check_framing(plain->head, limits).code != 0)
    return std::nullopt;
  // The framing check has read the one Content-Length, within the route's cap.
  const auto length = parse_content_length(plain->head.content_length.front()).value_or(0);
  Connections::headers_read();

  // The head was peeked from OpenSSL's buffer: taking it out does not wait.
  if (!read_exactly(ssl, peeked.data(), plain->size)) return false;
  thread_local PaddedBody body;
  if (!read_exactly(ssl, body.prepare(length), length)) return false;

  Connections::handling();
  const auto& served = routes[static_cast<std::size_t>(route)];
  std::string answer;
  try {
    answer = serve_admission(body, served.handler, limits, served.objects);
  } catch (const std::exception&) {  // as cpp-httplib's exception handler below answers
    log_error("request handler failed", {{"path", std::string(route_path(route))}});
    answer = encode_review("", AdmissionResponse::errored(500, std::string(internal_error)));
  }
  thread_local std::string out;
  out.clear();
  out += plain_answer_head;
  out += std::to_string(answer.size());
  out += plain_answer_rest;
  out += answer;
  const bool sent = SSL_write(&ssl, out.data(), static_cast<int>(out.size())) > 0;
  if (out.size() > limits.shrink_after) std::string().swap(out);
  if (!sent) return false;
  answered(metrics, "POST", route_path(route), 200, false);
  return true;
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, Metrics& metrics)
      : connections(ConnectionLimits{options.max_connections, options.max_workers, options.limits.request_deadline,
                                     std::chrono::duration_cast<std::chrono::milliseconds>(options.keep_alive)},
                    metrics) {}
  Connections connections;  // outlives the server: cpp-httplib's listener hands it sockets
  AdmissionRoutes routes;
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
    // The answer leaves before the connection may be closed behind it.
    if (current_stream != nullptr && !current_stream->flush()) return;
    answered(metrics_, req.method, req.path, res.status, res.get_header_value("Connection") == "close");
  });

  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, const std::exception_ptr&) {
    log_error("request handler failed", {{"path", req.path}});
    if (is_admission(route_of(req.path))) {
      reject_in_band(res, 500, std::string(internal_error), false);
    } else {
      res.status = 500;
      res.set_content("internal error\n", "text/plain");
    }
  });

  auto& routes = impl_->routes;
  routes[static_cast<std::size_t>(Route::mutate_pods)] = {
      [this](const AdmissionRequest& r) { return mutate_pod(r, cluster_->taint_key()); }, ReviewObjects::pods};
  routes[static_cast<std::size_t>(Route::validate_pods)] = {
      [this](const AdmissionRequest& r) {
        const auto taint_key = cluster_->taint_key();
        return validate_pod(r, PodPolicy{taint_key, options_.controller_username, cluster_.get()});
      },
      ReviewObjects::pods};
  routes[static_cast<std::size_t>(Route::validate_secrets)] = {
      [](const AdmissionRequest& r) { return validate_secret(r); }};
  routes[static_cast<std::size_t>(Route::validate_nodes)] = {
      [this](const AdmissionRequest& r) { return validate_node(r, options_.schedule_label, *cluster_); }};
  // The same routes through cpp-httplib, for the requests serve_plain leaves to it.
  for (std::size_t r = 0; r < routes.size(); ++r) {
    http.Post(std::string(route_path(static_cast<Route>(r))), [this, &served = routes[r]](const httplib::Request& req,
                                                                                          httplib::Response& res) {
      Connections::handling();
      res.set_content(serve_admission(req.body, served.handler, options_.limits, served.objects), "application/json");
    });
  }
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
  impl_->connections.start(*http.ssl_context(), [this, &http](SSL& ssl, int fd, Peer& peer) {
    if (const auto served = serve_plain(ssl, impl_->routes, options_.limits, metrics_)) return *served;
    return http.serve_request(ssl, fd, peer);
  });
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
