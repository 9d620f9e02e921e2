// kube::Client's transport against real local TLS servers: retries (429 / 5xx with
// Retry-After), the per-call deadline, auth and impersonation headers, compression,
// tls-server-name, and an HTTP CONNECT proxy.
//
// FAKE, on purpose: the HTTPS peer is a cpp-httplib server scripted by each test, because
// a real API server cannot be made to answer 429 or 503 on cue. Everything else (TLS,
// sockets, the proxy tunnel) is real.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;
using namespace nodeboot::test;

namespace {

// A CA and a serving certificate for 127.0.0.1 and nodeboot.test, made with openssl.
struct Pki {
  TempDir dir;
  Pki() {
    auto ssl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "openssl");
      ProcessOptions o;
      o.working_dir = dir.path().string();
      auto r = run(args, o);
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    };
    ssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key",
         "-out", "ca.crt", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"});
    ssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=server", "-keyout", "server.key", "-out", "server.csr"});
    dir.write("ext", "subjectAltName=IP:127.0.0.1,DNS:nodeboot.test\nextendedKeyUsage=serverAuth\n");
    dir.write("ext-name-only", "subjectAltName=DNS:only.nodeboot.test\nextendedKeyUsage=serverAuth\n");
    ssl({"x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
         "-out", "server.crt", "-extfile", "ext"});
    ssl({"x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
         "-out", "name-only.crt", "-extfile", "ext-name-only"});
  }
  std::string ca() const { return read_file(dir.path() / "ca.crt"); }
};

const Pki& pki() {
  static Pki p;
  return p;
}

// The scripted HTTPS server, on a random loopback port, stopped on destruction.
struct Server {
  httplib::SSLServer https;
  int port = 0;
  std::thread thread;
  std::mutex mu;
  std::vector<httplib::Request> seen;

  explicit Server(const std::string& cert = "server.crt")
      : https((pki().dir.path() / cert).c_str(), (pki().dir.path() / "server.key").c_str()) {
    https.set_tcp_nodelay(true);
  }
  void start() {
    port = https.bind_to_any_port("127.0.0.1");
    BOOST_REQUIRE(port > 0);
    thread = std::thread([this] { https.listen_after_bind(); });
  }
  ~Server() {
    https.stop();
    if (thread.joinable()) thread.join();
  }
  void record(const httplib::Request& r) {
    std::lock_guard l(mu);
    seen.push_back(r);
  }
  std::size_t count() {
    std::lock_guard l(mu);
    return seen.size();
  }
  RestConfig config(const std::string& host = "127.0.0.1") const {
    RestConfig c;
    c.server = "https://" + host + ":" + std::to_string(port);
    c.ca_pem = pki().ca();
    c.timeout = std::chrono::seconds(20);
    return c;
  }
};

const char* kStatus429 =
    R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"slow down","reason":"TooManyRequests","code":429})";

}  // namespace

BOOST_AUTO_TEST_SUITE(kube_transport)

BOOST_AUTO_TEST_CASE(too_many_requests_is_retried_after_retry_after) {
  Server s;
  std::atomic<int> calls{0};
  s.https.Get("/api/v1/namespaces/default", [&](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    if (calls++ < 2) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(kStatus429, "application/json");
      return;
    }
    res.set_content(R"({"kind":"Namespace","metadata":{"name":"default"}})", "application/json");
  });
  s.start();
  Client c(s.config());
  auto r = c.get(resources::namespaces, "", "default");
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  BOOST_TEST(calls.load() == 3);
}

BOOST_AUTO_TEST_CASE(server_errors_retry_reads_but_not_writes) {
  Server s;
  std::atomic<int> gets{0}, posts{0};
  s.https.Get("/api/v1/nodes", [&](const httplib::Request&, httplib::Response& res) {
    if (gets++ == 0) {
      res.status = 503;
      return;
    }
    res.set_content(R"({"kind":"NodeList","metadata":{"resourceVersion":"5"},"items":[]})", "application/json");
  });
  s.https.Post("/api/v1/namespaces/default/configmaps", [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    res.status = 500;
    res.set_content(R"({"kind":"Status","message":"etcd is sad","reason":"InternalError","code":500})",
                    "application/json");
  });
  s.start();
  Client c(s.config());
  auto list = c.list(resources::nodes, "");
  BOOST_REQUIRE_MESSAGE(list.has_value(), (list ? "" : list.error().message));
  BOOST_TEST(gets.load() == 2);
  auto created = c.create(resources::configmaps, "default", {{"metadata", {{"name", "x"}}}});
  BOOST_REQUIRE(!created);
  BOOST_TEST(posts.load() == 1);  // a create may have happened: never repeated blindly
  BOOST_TEST(kubectl_message(created.error()) == "Error from server (InternalError): etcd is sad");
}

BOOST_AUTO_TEST_CASE(every_call_has_a_deadline) {
  Server s;
  s.https.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    res.set_content("{}", "application/json");
  });
  s.start();
  RestConfig cfg = s.config();
  cfg.timeout = std::chrono::milliseconds(300);
  Client c(cfg);
  auto r = c.get_json("/slow");
  BOOST_REQUIRE(!r);
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::transport));
  BOOST_TEST(r.error().message.find("/slow") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_CASE(basic_auth_impersonation_and_compression_headers) {
  Server s;
  s.https.Get("/version", [&](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    res.set_content(R"({"gitVersion":"v1.33.0"})", "application/json");
  });
  s.start();
  RestConfig cfg = s.config();
  cfg.username = "alice";
  cfg.password = Secret("pa:ss");
  cfg.impersonate_user = "bob";
  cfg.impersonate_uid = "uid-1";
  cfg.impersonate_groups = {"g1", "g2"};
  cfg.impersonate_extra = {{"scopes/x", {"a"}}};
  cfg.disable_compression = true;
  Client c(cfg);
  BOOST_REQUIRE(c.get_json("/version").has_value());
  BOOST_REQUIRE_EQUAL(s.count(), 1u);
  const auto& req = s.seen[0];
  BOOST_TEST(req.get_header_value("Authorization") == "Basic YWxpY2U6cGE6c3M=");  // alice:pa:ss
  BOOST_TEST(req.get_header_value("Impersonate-User") == "bob");
  BOOST_TEST(req.get_header_value("Impersonate-Uid") == "uid-1");
  BOOST_TEST(req.get_header_value_count("Impersonate-Group") == 2u);
  BOOST_TEST(req.get_header_value("Impersonate-Extra-scopes%2Fx") == "a");
  BOOST_TEST(!req.has_header("Accept-Encoding"));
  BOOST_TEST(req.get_header_value("User-Agent").starts_with("nodeboot/"));

  RestConfig token = s.config();
  token.bearer_token = Secret("tok");
  Client t(token);
  BOOST_REQUIRE(t.get_json("/version").has_value());
  BOOST_TEST(s.seen[1].get_header_value("Authorization") == "Bearer tok");
  BOOST_TEST(s.seen[1].has_header("Accept-Encoding"));
}

BOOST_AUTO_TEST_CASE(tls_server_name_is_what_gets_verified) {
  Server s("name-only.crt");  // valid only for only.nodeboot.test, not for 127.0.0.1
  s.https.Get("/version",
              [&](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  s.start();
  Client plain(s.config());
  auto refused = plain.get_json("/version");
  BOOST_REQUIRE(!refused);
  BOOST_TEST(static_cast<int>(refused.error().kind) == static_cast<int>(ErrorKind::transport));
  RestConfig named = s.config();
  named.tls_server_name = "only.nodeboot.test";
  Client n(named);
  auto r = n.get_json("/version");
  BOOST_TEST(r.has_value(), (r ? "" : r.error().message));
}

BOOST_AUTO_TEST_CASE(proxy_url_tunnels_through_an_http_proxy) {
  Server s;
  s.https.Get("/version",
              [&](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  s.start();
  // A minimal HTTP CONNECT proxy: real sockets, one tunnel per connection.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(listener, 4);
  std::atomic<int> tunnels{0};
  std::string connect_line;
  std::thread proxy([&] {
    int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) return;
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && ::read(client, &ch, 1) == 1) head.push_back(ch);
    connect_line = head.substr(0, head.find("\r\n"));
    int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in up{};
    up.sin_family = AF_INET;
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up.sin_port = htons(static_cast<std::uint16_t>(s.port));
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&up), sizeof up) == 0) {
      ++tunnels;
      const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      (void)!::write(client, ok, sizeof ok - 1);
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      char buf[16384];
      for (bool open = true; open && ::poll(fds, 2, 5000) > 0;) {
        for (int i = 0; i < 2; ++i)
          if (fds[i].revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0 || ::write(fds[1 - i].fd, buf, static_cast<std::size_t>(n)) != n) open = false;
          }
      }
    }
    ::close(upstream);
    ::close(client);
  });
  RestConfig cfg = s.config();
  cfg.proxy_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  {
    Client c(cfg);
    auto r = c.get_json("/version");
    BOOST_TEST(r.has_value(), (r ? "" : r.error().message));
  }  // the Client's connection closes, so the tunnel ends
  ::shutdown(listener, SHUT_RDWR);
  proxy.join();
  ::close(listener);
  BOOST_TEST(tunnels.load() == 1);
  BOOST_TEST(connect_line == "CONNECT 127.0.0.1:" + std::to_string(s.port) + " HTTP/1.1");
}

BOOST_AUTO_TEST_SUITE_END()
