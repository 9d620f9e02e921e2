// kube::Client against the real API server: every verb, every patch type, API errors as
// kubectl prints them, paging, watch and the informer.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <set>
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

json configmap(const std::string& name, const json& data) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

struct Ns : e2e::TestNamespace {
  Ns() : TestNamespace("kube-client") {}
};

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
  auto strategic = ok(
      c.patch(resources::configmaps, ns.name, "p", PatchType::strategic, {{"metadata", {{"labels", {{"l", "v"}}}}}}));
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
    // Only "w": the controller manager adds kube-root-ca.crt to every new namespace.
    if (ev.type != WatchEventType::bookmark && ev.object["metadata"].value("name", "") == "w") seen.push_back(ev.type);
    return seen.size() < 3;
  });
  ok(last);
  BOOST_REQUIRE_EQUAL(seen.size(), 3u);
  BOOST_TEST(
      (seen[0] == WatchEventType::added && seen[1] == WatchEventType::modified && seen[2] == WatchEventType::deleted));
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
               {.on_add =
                    [&](const json& o) {
                      std::lock_guard l(m);
                      added.insert(o["metadata"]["name"]);
                    },
                .on_update =
                    [&](const json&, const json&) {
                      std::lock_guard l(m);
                      ++updates;
                    },
                .on_delete =
                    [&](const json& o) {
                      std::lock_guard l(m);
                      deleted.insert(o["metadata"]["name"]);
                    }});
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

BOOST_AUTO_TEST_CASE(pagination_over_more_than_a_thousand_objects) {
  Ns ns;
  auto& c = admin();
  // 1,100 ConfigMaps written by 4 threads through one Client: the Client is shared, not copied.
  constexpr int kObjects = 1100, kThreads = 4;
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> writers;
    for (int t = 0; t < kThreads; ++t)
      writers.emplace_back([&, t] {
        for (int i = t; i < kObjects; i += kThreads)
          if (!c.create(resources::configmaps, ns.name,
                        configmap("cm-" + std::to_string(i), {{"i", std::to_string(i)}})))
            ++failures;
      });
  }
  BOOST_REQUIRE_EQUAL(failures.load(), 0);

  std::vector<std::size_t> page_sizes;
  std::set<std::string> seen;
  auto version = c.list_pages(resources::configmaps, ns.name, {.label_selector = "", .limit = 500},
                              [&](json& page) -> Result<void> {
                                page_sizes.push_back(page["items"].size());
                                for (const auto& item : page["items"]) seen.insert(item["metadata"]["name"]);
                                return {};
                              });
  ok(version);
  BOOST_TEST(!version->empty());
  seen.erase("kube-root-ca.crt");  // the controller manager's, in every namespace
  BOOST_TEST(seen.size() == static_cast<std::size_t>(kObjects));
  BOOST_REQUIRE_GE(page_sizes.size(), 3u);
  BOOST_TEST(page_sizes[0] == 500u);

  json all = ok(c.list(resources::configmaps, ns.name));
  std::size_t ours = 0;
  for (const auto& item : all["items"]) ours += item["metadata"]["name"] != "kube-root-ca.crt";
  BOOST_TEST(ours == static_cast<std::size_t>(kObjects));
  BOOST_TEST(!all["metadata"].contains("continue"));
  // kubectl counts the same.
  auto names = cluster().kubectl_ok({"get", "configmaps", "-n", ns.name, "-o", "name"});
  BOOST_TEST(static_cast<std::size_t>(std::count(names.begin(), names.end(), '\n')) == all["items"].size());
}

BOOST_AUTO_TEST_CASE(connections_use_http2_and_are_reused) {
  auto& c = admin();
  auto r = c.send(get_request(resources::namespaces, "", "default"));
  ok(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->http_version == 2);
}

BOOST_AUTO_TEST_CASE(label_and_field_selectors) {
  Ns ns;
  auto& c = admin();
  json labelled = configmap("labelled", {});
  labelled["metadata"]["labels"] = {{"nodeboot.io/test", "yes"}};
  ok(c.create(resources::configmaps, ns.name, labelled));
  ok(c.create(resources::configmaps, ns.name, configmap("plain", {})));
  auto by_label = ok(c.list(resources::configmaps, ns.name, {.label_selector = "nodeboot.io/test=yes"}));
  BOOST_REQUIRE_EQUAL(by_label["items"].size(), 1u);
  BOOST_TEST(by_label["items"][0]["metadata"]["name"] == "labelled");
  auto by_field = ok(c.list(resources::configmaps, ns.name, {.field_selector = "metadata.name=plain"}));
  BOOST_REQUIRE_EQUAL(by_field["items"].size(), 1u);
  BOOST_TEST(by_field["items"][0]["metadata"]["name"] == "plain");
}

BOOST_AUTO_TEST_SUITE_END()
