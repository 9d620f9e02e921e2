// The admission server's limits over real TLS on loopback (issue 14: a webhook that sheds
// abuse): nesting depth refused in-band without memory growth, body caps per route decided
// before the body is read, a deadline for a whole request and handshake, header count and
// size caps, and a parked connection shed for a fresh one at the connection cap.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/server.hpp"
#include "webhook_harness.hpp"

using namespace nodeboot::test;
using nlohmann::json;
namespace wh = nodeboot::webhook;

namespace {

std::string pod_review() { return read_file(source_dir() / "tests/unit/webhook/fixtures/pod_create_named.json"); }

// A review whose request.uid comes first and whose object nests `depth` arrays deep.
std::string deep_review(std::size_t depth, const std::string& uid) {
  std::string body = R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":")" + uid +
                     R"(","operation":"CREATE","object":{"type":"nodeboot.io/bootstrap","data":)";
  body.append(depth, '[');
  body.append(depth, ']');
  body += "}}}";
  return body;
}

struct Served {
  WebhookPki pki;
  TempDir certs;
  std::unique_ptr<wh::Server> server;
  int port = 0;

  explicit Served(const std::function<void(wh::ServerOptions&)>& tune = {}) {
    pki.write_serving(certs.path(), pki.issue("nodeboot-webhook"));
    wh::ServerOptions options;
    options.cert_dir = certs.path();
    options.host = "127.0.0.1";
    options.port = 0;
    if (tune) tune(options);
    server = std::make_unique<wh::Server>(options, std::make_shared<wh::OfflineClusterView>("maroonedpods.io"));
    auto started = server->start();
    BOOST_REQUIRE_MESSAGE(started.has_value(), (started ? std::string() : started.error().message));
    port = *started;
  }

  std::unique_ptr<RawTls> connect() const {
    auto t = std::make_unique<RawTls>(port, pki.ca_file());
    BOOST_REQUIRE(t->connected());
    return t;
  }

  std::string metrics() const {
    httplib::SSLClient c("127.0.0.1", port);
    c.set_ca_cert_path(pki.ca_file().c_str());
    c.enable_server_certificate_verification(true);
    auto res = c.Get("/metrics");
    return res ? res->body : std::string();
  }
};

json in_band(const std::string& http_response) {
  BOOST_REQUIRE_MESSAGE(!http_response.empty(), "no answer");
  return json::parse(http_response.substr(http_response.find("\r\n\r\n") + 4))["response"];
}

// Sends `n` pod reviews one after another on `t`; each must come back patched.
void patch_reviews(RawTls& t, int n) {
  for (int i = 0; i < n; ++i) {
    BOOST_REQUIRE(t.send(http_post("/mutate/pods", pod_review())));
    BOOST_REQUIRE(in_band(t.read_response()).contains("patch"));
  }
}

std::string head_only(std::string_view path, std::size_t length) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_limits)

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_in_band_without_growing_memory) {
  WebhookPki pki;
  TempDir certs;
  pki.write_serving(certs.path(), pki.issue("nodeboot-webhook"));
  WebhookProcess p({"--cert-dir", certs.path().string(), "--port", "0", "--bind-address", "127.0.0.1", "--no-api"});
  const int port = p.port();
  {  // warm: one thread, its buffers, OpenSSL's tables
    RawTls t(port, pki.ca_file());
    BOOST_REQUIRE(t.handshake());
    t.send(http_post("/mutate/pods", pod_review()));
    BOOST_REQUIRE(in_band(t.read_response()).contains("patch"));
  }
  const long before = proc_status_kib(p.pid(), "VmHWM");
  // 1.4 MB of nesting, 700,000 deep: under /validate/secrets' 1.5 MiB cap, so it is read;
  // a DOM of it (nlohmann, the Secret handler's parser) would take hundreds of MiB.
  const auto deep = deep_review(700'000, "deep-uid-1");
  for (const char* path : {"/validate/secrets", "/validate/nodes", "/mutate/pods", "/validate/pods"}) {
    RawTls t(port, pki.ca_file());
    BOOST_REQUIRE(t.handshake());
    const std::string body = std::string_view(path).ends_with("pods") ? deep_review(200'000, "deep-uid-1") : deep;
    t.send(http_post(path, body));
    const auto r = in_band(t.read_response());
    BOOST_TEST(r["allowed"] == false, path);
    BOOST_TEST(r["status"]["code"] == 400, path);
    BOOST_TEST(r["uid"] == "deep-uid-1", path);
    BOOST_TEST(r["status"]["message"].get<std::string>().find("at most 64") != std::string::npos, r.dump());
  }
  const long after = proc_status_kib(p.pid(), "VmHWM");
  BOOST_TEST_MESSAGE("peak RSS " << before / 1024 << " MiB before, " << after / 1024 << " MiB after the deep reviews");
  // The bodies themselves pass through (1.4 MB, a few copies); a DOM would be 100x that.
  BOOST_TEST(after - before < 24 * 1024);
  // 64 deep is still served (and decoded as a review).
  RawTls t(port, pki.ca_file());
  BOOST_REQUIRE(t.handshake());
  t.send(http_post("/validate/secrets", deep_review(60, "ok-uid")));
  const auto r = in_band(t.read_response());
  BOOST_TEST(r["uid"] == "ok-uid");
  BOOST_TEST(r.dump().find("nests") == std::string::npos, r.dump());
}

BOOST_AUTO_TEST_CASE(body_caps_are_per_route_and_decided_before_the_body_is_read) {
  Served s;
  struct Case {
    const char* path;
    std::size_t length;
    bool refused;
  };
  constexpr std::size_t kib = 1024;
  for (const Case c : {Case{"/mutate/pods", 512 * kib + 1, true}, Case{"/validate/pods", 600 * kib, true},
                       Case{"/validate/secrets", 1536 * kib + 1, true}, Case{"/validate/nodes", 2048 * kib, true},
                       Case{"/validate/secrets", 600 * kib, false}, Case{"/validate/nodes", 1536 * kib, false}}) {
    auto t = s.connect();
    BOOST_REQUIRE(t->handshake());
    // Only the head: a refusal must come without the body.
    t->send(head_only(c.path, c.length));
    if (c.refused) {
      const auto r = in_band(t->read_response());
      BOOST_TEST(r["status"]["code"] == 413, c.path);
      const std::string_view limit = std::string_view(c.path).ends_with("pods") ? "512 KiB" : "1536 KiB";
      BOOST_TEST(r["status"]["message"].get<std::string>().find(limit) != std::string::npos, r.dump());
      BOOST_TEST(t->closed_by_peer());
    } else {
      // Accepted: the server waits for the body (no answer yet), then answers in-band.
      BOOST_TEST(!t->closed_by_peer(std::chrono::milliseconds(300)), c.path);
      std::string body(c.length, ' ');
      body.front() = '{';
      body.back() = '}';
      t->send(body);
      BOOST_TEST(in_band(t->read_response())["status"]["code"] == 400, c.path);  // not a review
    }
  }
}

BOOST_AUTO_TEST_CASE(header_count_and_size_are_capped_in_band) {
  Served s;
  {  // 120 header lines: cpp-httplib stops at 100; answered in-band, connection closed.
    auto t = s.connect();
    BOOST_REQUIRE(t->handshake());
    std::string head = "POST /mutate/pods HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 120; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
    t->send(head + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    const auto r = in_band(t->read_response());
    BOOST_TEST(r["status"]["code"] == 431);
    BOOST_TEST(r["status"]["message"].get<std::string>().find("100 header lines") != std::string::npos, r.dump());
    BOOST_TEST(t->closed_by_peer());
  }
  {  // 20 lines of 1 KiB: each under cpp-httplib's 8 KiB line limit, 20 KiB in all.
    auto t = s.connect();
    BOOST_REQUIRE(t->handshake());
    std::string head = "POST /validate/pods HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 20; ++i) head += "X-H" + std::to_string(i) + ": " + std::string(1024, 'v') + "\r\n";
    t->send(head + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    const auto r = in_band(t->read_response());
    BOOST_TEST(r["status"]["code"] == 431);
    BOOST_TEST(r["status"]["message"].get<std::string>().find("16 KiB") != std::string::npos, r.dump());
    BOOST_TEST(t->closed_by_peer());
  }
  {  // Just under both caps: served.
    auto t = s.connect();
    BOOST_REQUIRE(t->handshake());
    const auto review = pod_review();
    std::string head = "POST /mutate/pods HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 10; ++i) head += "X-H" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
    t->send(head + "Content-Type: application/json\r\nContent-Length: " + std::to_string(review.size()) + "\r\n\r\n" +
            review);
    BOOST_TEST(in_band(t->read_response()).contains("patch"));
  }
}

BOOST_AUTO_TEST_CASE(the_request_deadline_closes_dribblers_and_silent_handshakes_not_idle_connections) {
  Served s([](wh::ServerOptions& o) { o.limits.request_deadline = std::chrono::milliseconds(1500); });
  auto dribbler = s.connect();
  BOOST_REQUIRE(dribbler->handshake());
  auto silent = s.connect();  // TCP only: never starts TLS
  auto idle = s.connect();
  BOOST_REQUIRE(idle->handshake());
  // A byte every 100 ms: every read completes well within cpp-httplib's 10 s read timeout,
  // so only a deadline for the whole request ends it.
  const std::string head = "POST /mutate/pods HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (std::size_t i = 0; i < 100 && !closed; ++i) {
    if (!dribbler->send(i < head.size() ? head.substr(i, 1) : "a")) break;
    closed = dribbler->closed_by_peer(std::chrono::milliseconds(100));
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("dribbler closed after " << took << " s");
  BOOST_TEST(closed);
  BOOST_TEST(took >= 1.4);
  BOOST_TEST(took < 5.0);
  // The silent TCP connection is gone too (its handshake had the same deadline)...
  char c;
  BOOST_TEST(::recv(silent->fd(), &c, 1, 0) <= 0);
  // ...but the idle keep-alive connection is not: idling is what keep-alive is for.
  BOOST_TEST(!idle->closed_by_peer(std::chrono::milliseconds(10)));
  BOOST_REQUIRE(idle->send(http_post("/mutate/pods", pod_review())));
  BOOST_TEST(in_band(idle->read_response()).contains("patch"));
  BOOST_TEST(s.metrics().find("nodeboot_webhook_connections_shed_total{reason=\"deadline\"} 2") != std::string::npos,
             s.metrics());
}

BOOST_AUTO_TEST_CASE(idle_connections_are_shed_oldest_first_so_fresh_and_working_clients_get_through) {
  constexpr int cap = 16;
  Served s([](wh::ServerOptions& o) { o.max_connections = cap; });
  // 3x the cap in idle connections: half finish the handshake and idle, half never start
  // TLS. Parked, they hold no thread, but each holds a descriptor (and an SSL object): past
  // the cap a new connection closes a parked one, so the flood cannot grow without bound.
  // The API server's connection, opened first and working: older than the whole flood,
  // but it has answered a review, so the flood's never-used connections go before it.
  auto api = s.connect();
  BOOST_REQUIRE(api->handshake());
  patch_reviews(*api, 1);
  std::vector<std::unique_ptr<RawTls>> held;
  for (int i = 0; i < 3 * cap; ++i) {
    held.push_back(s.connect());
    if (i % 2 == 0) BOOST_REQUIRE(held.back()->handshake());
  }
  // A fresh client: its connection sheds a parked one (the silent ones went first, then
  // the oldest handshaken) and is served.
  const auto start = std::chrono::steady_clock::now();
  auto fresh = s.connect();
  BOOST_REQUIRE(fresh->handshake());
  patch_reviews(*fresh, 20);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("fresh client served 20 reviews in " << took << " s beside " << 3 * cap << " idle connections");
  BOOST_TEST(took < 5.0);
  // The oldest went first: the first handshaken connection is closed, the newest is not.
  BOOST_TEST(held.front()->closed_by_peer(std::chrono::milliseconds(500)));
  BOOST_TEST(!held[held.size() - 2]->closed_by_peer(std::chrono::milliseconds(10)));
  BOOST_TEST(!api->closed_by_peer(std::chrono::milliseconds(10)));
  BOOST_REQUIRE(api->send(http_post("/mutate/pods", pod_review())));
  BOOST_TEST(in_band(api->read_response()).contains("patch"));
  const auto metrics = s.metrics();
  BOOST_TEST(metrics.find("nodeboot_webhook_connections_shed_total{reason=\"idle\"} 0") == std::string::npos, metrics);
}

BOOST_AUTO_TEST_CASE(idle_and_silent_connections_hold_no_thread) {
  // Four workers and 300 held connections: if a parked connection held a thread, the
  // reviews below would wait for a deadline (10 s) or the keep-alive timeout (120 s).
  Served s([](wh::ServerOptions& o) { o.max_workers = 4; });
  std::vector<std::unique_ptr<RawTls>> held;
  for (int i = 0; i < 300; ++i) {
    held.push_back(s.connect());
    if (i % 3 != 0) BOOST_REQUIRE(held.back()->handshake());  // 100 silent, 200 idle TLS
  }
  // An idle connection used once and then left idle too.
  patch_reviews(*held[1], 1);
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < 3; ++c) {
    auto fresh = s.connect();
    BOOST_REQUIRE(fresh->handshake());
    patch_reviews(*fresh, 10);
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("30 reviews on 3 fresh connections beside 300 held ones, 4 workers: " << took << " s");
  BOOST_TEST(took < 5.0);
  // Nothing was shed or timed out: every held connection is still open, and the used one
  // still answers.
  const auto metrics = s.metrics();
  BOOST_TEST(metrics.find("nodeboot_webhook_connections_shed_total{reason=\"idle\"} 0") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("nodeboot_webhook_connections_shed_total{reason=\"deadline\"} 0") != std::string::npos,
             metrics);
  for (std::size_t i = 1; i < held.size(); i += 3) BOOST_TEST(!held[i]->closed_by_peer(std::chrono::milliseconds(1)));
  BOOST_REQUIRE(held[1]->send(http_post("/mutate/pods", pod_review())));
  BOOST_TEST(in_band(held[1]->read_response()).contains("patch"));
}

BOOST_AUTO_TEST_SUITE_END()
