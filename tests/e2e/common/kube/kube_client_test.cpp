// kube::Client against the real API server: every verb, every patch type, API errors as
// kubectl prints them, paging, watch and the informer.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <set>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;
using namespace nodeboot::test;
using nlohmann::json;

namespace {

Client& admin() {
  static Client client = [] {
    ConnectionFlags f;
    f.kubeconfig = cluster().kubeconfig.string();
    auto cfg = resolve_config(f);
    BOOST_REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
    return Client(std::move(*cfg));
  }();
  return client;
}

json configmap(const std::string& name, const json& data) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

// A namespace per test case, deleted at the end.
struct Ns {
  std::string name = unique_name("kube-client");
  Ns() {
    auto r = admin().create(resources::namespaces, "", {{"metadata", {{"name", name}}}});
    BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  }
  ~Ns() { (void)admin().remove(resources::namespaces, "", name); }
};

template <typename T>
const T& ok(const Result<T>& r) {
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : kubectl_message(r.error())));
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kube_client)

BOOST_AUTO_TEST_CASE(crud_and_errors_as_kubectl_prints_them) {
  Ns ns;
  auto& c = admin();
  json created = ok(c.create(resources::configmaps, ns.name, configmap("a", {{"k", "1"}})));
  BOOST_TEST(created["metadata"]["uid"].get<std::string>().size() > 0);

  auto again = c.create(resources::configmaps, ns.name, configmap("a", {{"k", "1"}}));
  BOOST_REQUIRE(!again);
  BOOST_TEST(is_already_exists(again.error()));
  BOOST_TEST(kubectl_message(again.error()) == "Error from server (AlreadyExists): configmaps \"a\" already exists");

  json got = ok(c.get(resources::configmaps, ns.name, "a"));
  got["data"]["k"] = "2";
  json updated = ok(c.update(resources::configmaps, ns.name, got));
  BOOST_TEST(updated["data"]["k"] == "2");
  // The first read's version is stale now: a blind second write must conflict.
  auto stale = c.update(resources::configmaps, ns.name, got);
  BOOST_REQUIRE(!stale);
  BOOST_TEST(is_conflict(stale.error()));

  auto dry = ok(c.create(resources::configmaps, ns.name, configmap("dry", {}), {.dry_run = true}));
  BOOST_TEST(dry["metadata"]["name"] == "dry");
  BOOST_TEST(is_not_found(c.get(resources::configmaps, ns.name, "dry").error()));

  ok(c.remove(resources::configmaps, ns.name, "a"));
  auto gone = c.get(resources::configmaps, ns.name, "a");
  BOOST_REQUIRE(!gone);
  BOOST_TEST(kubectl_message(gone.error()) == "Error from server (NotFound): configmaps \"a\" not found");

  auto invalid = c.create(resources::configmaps, ns.name, configmap("Not_Valid", {}));
  BOOST_REQUIRE(!invalid);
  BOOST_TEST(is_invalid(invalid.error()));
  BOOST_TEST(!invalid.error().status->causes.empty());
}

BOOST_AUTO_TEST_CASE(every_patch_type) {
  Ns ns;
  auto& c = admin();
  ok(c.create(resources::configmaps, ns.name, configmap("p", {{"a", "1"}})));
  auto merged = ok(c.patch(resources::configmaps, ns.name, "p", PatchType::merge, {{"data", {{"b", "2"}}}}));
  BOOST_TEST(merged["data"] == (json{{"a", "1"}, {"b", "2"}}));
  auto strategic = ok(c.patch(resources::configmaps, ns.name, "p", PatchType::strategic,
                              {{"metadata", {{"labels", {{"l", "v"}}}}}}));
  BOOST_TEST(strategic["metadata"]["labels"]["l"] == "v");
  auto jsonp = ok(c.patch(resources::configmaps, ns.name, "p", PatchType::json,
                          json::array({{{"op", "remove"}, {"path", "/data/a"}}})));
  BOOST_TEST(jsonp["data"] == (json{{"b", "2"}}));

  json intent = configmap("p", {{"c", "3"}});
  auto no_manager = c.patch(resources::configmaps, ns.name, "p", PatchType::apply, intent);
  BOOST_TEST(!no_manager);
  auto applied = ok(c.patch(resources::configmaps, ns.name, "p", PatchType::apply, intent,
                            {.field_manager = "nodeboot-test", .force = true}));
  BOOST_TEST(applied["data"]["c"] == "3");
  bool managed = false;
  for (const auto& m : applied["metadata"]["managedFields"]) managed = managed || m["manager"] == "nodeboot-test";
  BOOST_TEST(managed);
  // A second manager claiming the same field conflicts unless it forces.
  json rival = configmap("p", {{"c", "4"}});
  auto conflict = c.patch(resources::configmaps, ns.name, "p", PatchType::apply, rival, {.field_manager = "rival"});
  BOOST_REQUIRE(!conflict);
  BOOST_TEST(conflict.error().code() == 409);
}

BOOST_AUTO_TEST_CASE(update_with_retry_survives_a_concurrent_writer) {
  Ns ns;
  auto& c = admin();
  ok(c.create(resources::configmaps, ns.name, configmap("rmw", {{"n", "0"}})));
  int calls = 0;
  auto stored = update_with_retry(c, resources::configmaps, ns.name, "rmw", [&](json& obj) -> Result<bool> {
    if (++calls == 1)  // someone else writes between our read and our write
      (void)c.patch(resources::configmaps, ns.name, "rmw", PatchType::merge, {{"data", {{"other", "x"}}}});
    obj["data"]["n"] = std::to_string(calls);
    return true;
  });
  ok(stored);
  BOOST_TEST(calls == 2);
  BOOST_TEST(stored->at("data")["other"] == "x");
  BOOST_TEST(stored->at("data")["n"] == "2");
}

BOOST_AUTO_TEST_CASE(watch_streams_events_and_stops) {
  Ns ns;
  auto& c = admin();
  auto list = ok(c.list(resources::configmaps, ns.name));
  std::string from = list["metadata"]["resourceVersion"];
  ok(c.create(resources::configmaps, ns.name, configmap("w", {})));
  ok(c.patch(resources::configmaps, ns.name, "w", PatchType::merge, {{"data", {{"x", "y"}}}}));
  ok(c.remove(resources::configmaps, ns.name, "w"));
  std::vector<WatchEventType> seen;
  auto last = c.watch(resources::configmaps, ns.name, {.resource_version = from}, [&](const WatchEvent& ev) {
    if (ev.type != WatchEventType::bookmark) seen.push_back(ev.type);
    return seen.size() < 3;
  });
  ok(last);
  BOOST_REQUIRE_EQUAL(seen.size(), 3u);
  BOOST_TEST((seen[0] == WatchEventType::added && seen[1] == WatchEventType::modified &&
              seen[2] == WatchEventType::deleted));
  BOOST_TEST(!last->empty());
}

BOOST_AUTO_TEST_CASE(informer_syncs_and_follows_changes) {
  Ns ns;
  auto& c = admin();
  ok(c.create(resources::configmaps, ns.name, configmap("before", {})));
  std::mutex m;
  std::set<std::string> added, deleted;
  int updates = 0;
  Informer inf(c, resources::configmaps, ns.name, {},
               {.on_add = [&](const json& o) { std::lock_guard l(m); added.insert(o["metadata"]["name"]); },
                .on_update = [&](const json&, const json&) { std::lock_guard l(m); ++updates; },
                .on_delete = [&](const json& o) { std::lock_guard l(m); deleted.insert(o["metadata"]["name"]); }});
  inf.start();
  BOOST_REQUIRE(inf.wait_synced(std::chrono::seconds(30)));
  BOOST_TEST(inf.get(ns.name, "before").has_value());
  ok(c.create(resources::configmaps, ns.name, configmap("after", {})));
  ok(c.patch(resources::configmaps, ns.name, "after", PatchType::merge, {{"data", {{"x", "y"}}}}));
  ok(c.remove(resources::configmaps, ns.name, "before"));
  BOOST_TEST(eventually([&] {
    std::lock_guard l(m);
    return added.contains("after") && deleted.contains("before") && updates >= 1;
  }));
  BOOST_TEST(!inf.get(ns.name, "before").has_value());
  BOOST_TEST(inf.get(ns.name, "after").value()["data"]["x"] == "y");
  inf.stop();
}

BOOST_AUTO_TEST_SUITE_END()
