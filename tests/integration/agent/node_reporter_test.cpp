// The host side's node annotations (NodeAnnotator with keep_done) against an API server that
// is not answering yet, as right after a boot. The API server is played by a TLS server on
// loopback: a real kube-apiserver cannot be made to answer 503 on demand (the e2e layer
// covers the reports against the real one).
#include <httplib.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <sstream>

#include "nodeboot/agent/node_reporter.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using nlohmann::json;

namespace {

// GET /api/v1/nodes/n1 answers 503 `unavailable` times, then the node; PATCH is recorded.
struct FakeApi : test::HttpsServer {
  std::atomic<int> unavailable{0}, gets{0};
  std::mutex mu;
  std::vector<json> patches;
  explicit FakeApi(int not_yet) : unavailable(not_yet) {
    server.Get("/api/v1/nodes/n1", [this](const httplib::Request&, httplib::Response& res) {
      ++gets;
      if (unavailable-- > 0) {
        res.status = 503;
        res.set_content(R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":503})", "application/json");
        return;
      }
      res.set_content(R"({"kind":"Node","metadata":{"name":"n1","resourceVersion":"7"}})", "application/json");
    });
    server.Patch("/api/v1/nodes/n1", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu);
      patches.push_back(json::parse(req.body, nullptr, false));
      res.set_content(R"({"kind":"Node","metadata":{"name":"n1","resourceVersion":"8"}})", "application/json");
    });
    start();
  }
  kube::RestConfig config() const {
    kube::RestConfig c;
    c.server = url("");
    c.ca_pem = test::read_file(test::test_pki().ca);
    c.max_retries = 0;  // the annotator's own patience, not the client's retries
    return c;
  }
};

// The host side's annotator against a FakeApi that answers 503 twice first.
struct HostReporter {
  FakeApi api{2};
  kube::Client client{api.config()};
  std::ostringstream log;
  agent::NodeAnnotator annotator{client, "n1", "1", log, true};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(node_reporter)

BOOST_FIXTURE_TEST_CASE(joining_waits_for_an_api_server_that_is_not_answering_yet, HostReporter) {
  annotator.report(agent::Step{agent::State::joining, 98, "", "back on a new boot", "boot-2"});
  BOOST_TEST(api.gets.load() == 3);
  std::lock_guard lock(api.mu);
  BOOST_REQUIRE(api.patches.size() == 1u);
  const auto& ann = api.patches[0]["metadata"]["annotations"];
  BOOST_TEST(ann.value(std::string(names::ann_state), "") == "Joining");
  BOOST_TEST(api.patches[0]["metadata"].value("resourceVersion", "") == "7");  // written against what it read
  BOOST_TEST(log.str().find("trying again in 1s") != std::string::npos, log.str());
  BOOST_TEST(log.str().find("trying again in 2s") != std::string::npos, log.str());
}

BOOST_FIXTURE_TEST_CASE(other_steps_do_not_hold_the_bootstrap_up, HostReporter) {
  // A progress report before a step is not worth delaying the step: one try, logged.
  annotator.report(agent::Step{agent::State::applying, 70, "", "running the payload's entrypoint", "boot-1"});
  BOOST_TEST(api.gets.load() == 1);
  std::lock_guard lock(api.mu);
  BOOST_TEST(api.patches.empty());
  BOOST_TEST(log.str().find("cannot read node n1") != std::string::npos, log.str());
}

BOOST_AUTO_TEST_SUITE_END()
