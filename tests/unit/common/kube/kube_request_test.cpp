#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/kube/request.hpp"

using namespace nodeboot::kube;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(kube_request)

BOOST_AUTO_TEST_CASE(paths_for_core_and_group_resources) {
  BOOST_TEST(resource_path(resources::nodes, "ignored", "n1") == "/api/v1/nodes/n1");
  BOOST_TEST(resource_path(resources::nodes, "", "") == "/api/v1/nodes");
  BOOST_TEST(resource_path(resources::pods, "default", "p") == "/api/v1/namespaces/default/pods/p");
  BOOST_TEST(resource_path(resources::pods, "", "") == "/api/v1/pods");  // all namespaces
  BOOST_TEST(resource_path(resources::pods, "ns", "p", "status") == "/api/v1/namespaces/ns/pods/p/status");
  BOOST_TEST(resource_path(resources::daemonsets, "kube-system", "ds") ==
             "/apis/apps/v1/namespaces/kube-system/daemonsets/ds");
  BOOST_TEST(resource_path(resources::leases, "nodeboot-system", "") ==
             "/apis/coordination.k8s.io/v1/namespaces/nodeboot-system/leases");
  BOOST_TEST(resource_path(resources::customresourcedefinitions, "", "x.example.com") ==
             "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com");
  BOOST_TEST(resource_path(resources::mutatingwebhookconfigurations, "", "w") ==
             "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/w");
  BOOST_TEST(resource_path(resources::poddisruptionbudgets, "a", "b") ==
             "/apis/policy/v1/namespaces/a/poddisruptionbudgets/b");
  BOOST_TEST(resources::daemonsets.api_version() == "apps/v1");
  BOOST_TEST(resources::secrets.api_version() == "v1");
  // Names are escaped as path segments (a name never legitimately holds these, but a typo might).
  BOOST_TEST(resource_path(resources::configmaps, "a b", "x/y") == "/api/v1/namespaces/a%20b/configmaps/x%2Fy");
}

BOOST_AUTO_TEST_CASE(get_and_list_queries_keep_their_order) {
  BOOST_TEST(get_request(resources::nodes, "", "n", {.resource_version = "0"}).target() ==
             "/api/v1/nodes/n?resourceVersion=0");
  Request r = list_request(resources::pods, "default",
                           {.label_selector = "a=b,!c",
                            .field_selector = "spec.nodeName=kwok-node-0",
                            .limit = 500,
                            .continue_token = "tok=",
                            .resource_version = "12",
                            .resource_version_match = "NotOlderThan"});
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.target() ==
             "/api/v1/namespaces/default/pods?labelSelector=a%3Db%2C%21c&fieldSelector=spec.nodeName%3Dkwok-node-0"
             "&limit=500&continue=tok%3D&resourceVersion=12&resourceVersionMatch=NotOlderThan");
  BOOST_TEST(list_request(resources::nodes, "", {}).target() == "/api/v1/nodes");
}

BOOST_AUTO_TEST_CASE(watch_request_resumes_with_bookmarks) {
  Request r = watch_request(resources::nodes, "", {.label_selector = "type=kwok", .resource_version = "42"});
  BOOST_TEST(r.watch);
  BOOST_TEST(r.target() ==
             "/api/v1/nodes?watch=1&labelSelector=type%3Dkwok&resourceVersion=42&allowWatchBookmarks=true"
             "&timeoutSeconds=300");
  Request plain = watch_request(resources::pods, "ns", {.bookmarks = false, .timeout_seconds = 0});
  BOOST_TEST(plain.target() == "/api/v1/namespaces/ns/pods?watch=1");
}

BOOST_AUTO_TEST_CASE(writes_carry_dry_run_and_field_manager) {
  json cm = {{"metadata", {{"name", "c"}}}};
  Request c = create_request(resources::configmaps, "ns", cm, {.dry_run = true, .field_manager = "nodeboot"});
  BOOST_TEST(c.method == "POST");
  BOOST_TEST(c.target() == "/api/v1/namespaces/ns/configmaps?dryRun=All&fieldManager=nodeboot");
  BOOST_TEST(c.body == cm.dump());
  BOOST_TEST((c.headers == Pairs{{"Content-Type", "application/json"}}));

  Request u = update_request(resources::nodes, "", "n", cm, {.field_validation = "Strict"}, "status");
  BOOST_TEST(u.method == "PUT");
  BOOST_TEST(u.target() == "/api/v1/nodes/n/status?fieldValidation=Strict");
}

BOOST_AUTO_TEST_CASE(patch_types_set_the_content_type) {
  json p = {{"metadata", {{"labels", {{"a", "b"}}}}}};
  BOOST_TEST(patch_request(resources::nodes, "", "n", PatchType::merge, p).headers ==
             (Pairs{{"Content-Type", "application/merge-patch+json"}}));
  BOOST_TEST(patch_request(resources::nodes, "", "n", PatchType::strategic, p).headers ==
             (Pairs{{"Content-Type", "application/strategic-merge-patch+json"}}));
  BOOST_TEST(patch_request(resources::nodes, "", "n", PatchType::json, json::array()).headers ==
             (Pairs{{"Content-Type", "application/json-patch+json"}}));
  Request apply =
      patch_request(resources::nodes, "", "n", PatchType::apply, p, {.field_manager = "nodeboot", .force = true});
  BOOST_TEST(apply.method == "PATCH");
  BOOST_TEST(apply.target() == "/api/v1/nodes/n?fieldManager=nodeboot&force=true");
  BOOST_TEST(apply.headers == (Pairs{{"Content-Type", "application/apply-patch+yaml"}}));
  // force means nothing to the other patch types; the server rejects it there.
  BOOST_TEST(patch_request(resources::nodes, "", "n", PatchType::merge, p, {.force = true}).target() ==
             "/api/v1/nodes/n");
}

BOOST_AUTO_TEST_CASE(delete_options_travel_in_the_body) {
  Request plain = delete_request(resources::pods, "ns", "p");
  BOOST_TEST(plain.method == "DELETE");
  BOOST_TEST(plain.body.empty());
  BOOST_TEST(plain.headers.empty());
  Request r = delete_request(
      resources::pods, "ns", "p",
      {.dry_run = true, .grace_period_seconds = 0, .propagation = Propagation::foreground, .precondition_uid = "u1"});
  auto body = json::parse(r.body);
  BOOST_TEST(body["kind"] == "DeleteOptions");
  BOOST_TEST(body["gracePeriodSeconds"] == 0);
  BOOST_TEST(body["propagationPolicy"] == "Foreground");
  BOOST_TEST(body["preconditions"]["uid"] == "u1");
  BOOST_TEST(body["dryRun"] == json::array({"All"}));

  Request coll = delete_collection_request(resources::configmaps, "ns", {.label_selector = "x=y"});
  BOOST_TEST(coll.method == "DELETE");
  BOOST_TEST(coll.target() == "/api/v1/namespaces/ns/configmaps?labelSelector=x%3Dy");
}

BOOST_AUTO_TEST_CASE(eviction_and_logs_are_pod_subresources) {
  Request e = eviction_request("ns", "p", {.grace_period_seconds = 30});
  BOOST_TEST(e.method == "POST");
  BOOST_TEST(e.path == "/api/v1/namespaces/ns/pods/p/eviction");
  auto body = json::parse(e.body);
  BOOST_TEST(body["kind"] == "Eviction");
  BOOST_TEST(body["apiVersion"] == "policy/v1");
  BOOST_TEST(body["metadata"]["name"] == "p");
  BOOST_TEST(body["deleteOptions"]["gracePeriodSeconds"] == 30);

  Request l = log_request("ns", "p", {.container = "c", .tail_lines = 10, .previous = true});
  BOOST_TEST(l.target() == "/api/v1/namespaces/ns/pods/p/log?container=c&tailLines=10&previous=true");
}

BOOST_AUTO_TEST_SUITE_END()
