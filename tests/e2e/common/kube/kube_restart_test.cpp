// Watches and lists across the API server's bad days: a restart (tests/cluster/restart.sh
// stops kube-apiserver and starts it again with the same flags) and 410 Gone after an etcd
// compaction forced through etcd's HTTP gateway. Runs alone (RUN_SERIAL): it takes the API
// server away from every other test.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/test/support.hpp"

#include "kube_e2e.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;
using namespace nodeboot::test;
using e2e::admin;
using e2e::ok;
using nlohmann::json;

namespace {

// The namespace's own objects, leaving out kube-root-ca.crt (the controller manager's).
std::set<std::string> names(const std::vector<json>& items) {
  std::set<std::string> out;
  for (const auto& i : items)
    if (i["metadata"]["name"] != "kube-root-ca.crt") out.insert(i["metadata"]["name"]);
  return out;
}

json configmap(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}};
}

struct Ns : e2e::TestNamespace {
  Ns() : TestNamespace("kube-restart") {}
};

std::string etcd_url() {
  std::istringstream env(read_file(cluster().state_dir / "env"));
  for (std::string line; std::getline(env, line);)
    if (line.starts_with("NODEBOOT_E2E_ETCD=")) return line.substr(line.find('=') + 1);
  BOOST_FAIL("no NODEBOOT_E2E_ETCD in the cluster's env file");
  return "";
}

json etcd_post(const std::string& path, const json& body) {
  auto r = run({"curl", "-sf", "-X", "POST", etcd_url() + path, "-d", body.dump()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "etcd " << path << ": " << r.err);
  return json::parse(r.out);
}

// Compacts etcd's history up to its current revision: every older resourceVersion is gone.
void compact_etcd() {
  json range = etcd_post("/v3/kv/range", {{"key", "AA=="}});  // any key: the header carries the revision
  const long long revision = std::stoll(range["header"]["revision"].get<std::string>());
  etcd_post("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}});
}

void restart_apiserver() {
  auto r = run({(source_dir() / "tests/cluster/restart.sh").string(), "--state-dir", cluster().state_dir.string()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "restart.sh: " << r.err);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kube_restart)

BOOST_AUTO_TEST_CASE(gone_after_compaction_is_surfaced) {
  Ns ns;
  auto& c = admin();
  for (const char* n : {"a", "b", "c"}) ok(c.create(resources::configmaps, ns.name, configmap(n)));
  json first_page = ok(c.call(list_request(resources::configmaps, ns.name, {.limit = 1})));
  const std::string token = first_page["metadata"].value("continue", "");
  const std::string old_version = first_page["metadata"].value("resourceVersion", "");
  BOOST_REQUIRE(!token.empty());
  ok(c.create(resources::configmaps, ns.name, configmap("d")));  // history moves on
  compact_etcd();

  // A continue token from before the compaction: 410 with the server's explanation.
  auto next = c.call(list_request(resources::configmaps, ns.name, {.limit = 1, .continue_token = token}));
  BOOST_REQUIRE(!next);
  BOOST_TEST(is_gone(next.error()), kubectl_message(next.error()));
  BOOST_TEST(kubectl_message(next.error()).starts_with("Error from server (Expired): "), kubectl_message(next.error()));

  // An exact read of a compacted version.
  auto exact = c.call(list_request(resources::configmaps, ns.name,
                                   {.resource_version = old_version, .resource_version_match = "Exact"}));
  BOOST_REQUIRE(!exact);
  BOOST_TEST(is_gone(exact.error()), kubectl_message(exact.error()));

  // A watch from a version older than anything the server keeps: 410 surfaced, not retried.
  auto watched =
      c.watch(resources::configmaps, ns.name, {.resource_version = "1"}, [](const WatchEvent&) { return true; });
  BOOST_REQUIRE(!watched);
  BOOST_TEST(is_gone(watched.error()), kubectl_message(watched.error()));

  // A fresh list works and a watch from its version resumes normally.
  json all = ok(c.list(resources::configmaps, ns.name));
  BOOST_TEST(names(all["items"]) == (std::set<std::string>{"a", "b", "c", "d"}));
}

BOOST_AUTO_TEST_CASE(watch_and_informer_survive_an_api_server_restart) {
  Ns ns;
  auto& c = admin();
  ok(c.create(resources::configmaps, ns.name, configmap("before")));
  std::mutex m;
  std::set<std::string> informer_added;
  Informer inf(c, resources::configmaps, ns.name, {}, {.on_add = [&](const json& o) {
                 std::lock_guard l(m);
                 informer_added.insert(o["metadata"]["name"]);
               }});
  inf.start();
  BOOST_REQUIRE(inf.wait_synced(std::chrono::seconds(30)));

  // A raw watch from the list's version, on its own thread, until it sees "after".
  const std::string from = ok(c.list(resources::configmaps, ns.name))["metadata"]["resourceVersion"];
  std::set<std::string> watch_added;
  std::atomic<bool> watch_done{false};
  Result<std::string> watch_end = std::string();
  std::jthread watcher([&](std::stop_token st) {
    watch_end = c.watch(resources::configmaps, ns.name, {.resource_version = from},
                        [&](const WatchEvent& ev) {
                          if (ev.type == WatchEventType::added) {
                            std::lock_guard l(m);
                            watch_added.insert(ev.object["metadata"]["name"]);
                          }
                          std::lock_guard l(m);
                          return !watch_added.contains("after");
                        },
                        {.stop = std::move(st), .give_up_after = std::chrono::minutes(2)});
    watch_done = true;
  });
  ok(c.create(resources::configmaps, ns.name, configmap("during")));
  BOOST_REQUIRE(eventually([&] {
    std::lock_guard l(m);
    return watch_added.contains("during") && informer_added.contains("during");
  }));

  restart_apiserver();
  ok(c.create(resources::configmaps, ns.name, configmap("after")));  // the client reconnects by itself

  BOOST_TEST(eventually([&] { return watch_done.load(); }, std::chrono::seconds(120)));
  BOOST_TEST_MESSAGE("raw watch after the restart: " << (watch_end ? "resumed, last version " + *watch_end
                                                                   : kubectl_message(watch_end.error())));
  // Either the watch resumed and saw the new object, or the server no longer had its version
  // and said so with 410 (then the caller re-lists, as the informer does).
  if (watch_end) {
    std::lock_guard l(m);
    BOOST_TEST(watch_added.contains("after"));
  } else {
    BOOST_TEST(is_gone(watch_end.error()), kubectl_message(watch_end.error()));
  }
  BOOST_TEST(eventually(
      [&] {
        std::lock_guard l(m);
        return informer_added.contains("after");
      },
      std::chrono::seconds(120)));
  BOOST_TEST(inf.get(ns.name, "after").has_value());
  BOOST_TEST(names(inf.list()) == (std::set<std::string>{"before", "during", "after"}));
  BOOST_TEST_MESSAGE("informer lists: " << inf.lists());
  inf.stop();
}

BOOST_AUTO_TEST_SUITE_END()
