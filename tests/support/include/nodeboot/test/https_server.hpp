#pragma once

// A real HTTPS server for tests (cpp-httplib on loopback) with its own CA, issued with
// OpenSSL through nodeboot::issue_certificate; plus a second, unrelated CA for
// "wrong CA" cases. Header-only: the integration and e2e layers both use it.

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"
#include "nodeboot/util/pki.hpp"

namespace nodeboot::test {

struct TestPki {
  TempDir dir;
  // PEM files; the server cert is for 127.0.0.1 and 10.0.2.2, the host's loopback as QEMU's
  // user network shows it to the worker VMs of tests/nodes (the node layer serves them).
  std::filesystem::path ca, other_ca, cert, key;

  TestPki() {
    const auto now = std::chrono::system_clock::now();
    const auto day = std::chrono::hours(24);  // outlives any test run, expires soon after
    auto make_ca = [&](const std::string& name) {
      auto ca_pair =
          nodeboot::issue_certificate({name, {}, {}, true, now - std::chrono::minutes(5), now + day}, nullptr);
      BOOST_REQUIRE_MESSAGE(ca_pair.has_value(), "CA: " << (ca_pair ? "" : ca_pair.error().message));
      return *ca_pair;
    };
    const auto test_ca = make_ca("nodeboot-test-ca");
    const auto unrelated = make_ca("nodeboot-other-ca");
    auto server = nodeboot::issue_certificate(
        {"127.0.0.1", {"localhost"}, {"127.0.0.1", "10.0.2.2"}, false, now - std::chrono::minutes(5), now + day},
        &test_ca);
    BOOST_REQUIRE_MESSAGE(server.has_value(), "server cert: " << (server ? "" : server.error().message));
    ca = dir.write("ca.crt", test_ca.cert_pem);
    other_ca = dir.write("other-ca.crt", unrelated.cert_pem);
    cert = dir.write("server.crt", server->cert_pem);
    key = dir.write("server.key", server->key_pem.reveal());
  }
};

inline const TestPki& test_pki() {
  static const TestPki pki;
  return pki;
}

// Add routes to `server`, then start(); stops and joins on destruction.
class HttpsServer {
 public:
  httplib::SSLServer server{test_pki().cert.c_str(), test_pki().key.c_str()};

  HttpsServer() { server.set_tcp_nodelay(true); }
  ~HttpsServer() {
    server.stop();
    if (thread_.joinable()) thread_.join();
  }
  void start() {
    port_ = server.bind_to_any_port("127.0.0.1");
    BOOST_REQUIRE_MESSAGE(port_ > 0, "cannot bind a loopback port");
    thread_ = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  std::thread thread_;
  int port_ = 0;
};

}  // namespace nodeboot::test
