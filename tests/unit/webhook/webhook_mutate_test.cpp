#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/pods.hpp"
#include "review_fixtures.hpp"

using nlohmann::json;
using nodeboot::test::admit;
using nodeboot::test::decoded_patch;
using nodeboot::test::kubectl_patch;
using nodeboot::test::review_fixture;
namespace wh = nodeboot::webhook;

namespace {

const std::regex uuid_v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

json mutate(const json& review, std::string_view taint_key = "maroonedpods.io") {
  return admit(
      review, [&](const wh::AdmissionRequest& r) { return wh::mutate_pod(r, taint_key); }, wh::ReviewObjects::pods);
}

// Mutates the review's pod and returns the patched pod (checked to be a marooned pod).
json mutated_pod(const json& review, std::string_view taint_key = "maroonedpods.io") {
  auto response = mutate(review, taint_key);
  BOOST_TEST(response["allowed"] == true);
  return kubectl_patch(review["request"]["object"], decoded_patch(response));
}

std::string check_marooned(const json& pod, std::string_view taint_key = "maroonedpods.io") {
  auto id = pod["metadata"]["annotations"]["maroonedpods.io/pod-uid"].get<std::string>();
  BOOST_TEST(std::regex_match(id, uuid_v4), id);
  BOOST_TEST(pod["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] == id);
  BOOST_TEST(pod["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] == id);
  const auto key = std::string(taint_key) + "/dedicated";
  for (const auto* effect : {"NoSchedule", "NoExecute"}) {
    const json toleration = {{"key", key}, {"operator", "Equal"}, {"value", id}, {"effect", effect}};
    BOOST_TEST(std::ranges::count(pod["spec"]["tolerations"], toleration) == 1);
  }
  // No other toleration of the dedicated taint survives (a client's, for another id).
  BOOST_TEST(
      std::ranges::count_if(pod["spec"]["tolerations"], [&](const json& t) { return t.value("key", "") == key; }) == 2);
  BOOST_TEST(std::ranges::count(pod["spec"]["schedulingGates"], json{{"name", "maroonedpods.io/gate"}}) == 1);
  return id;
}

json with_object(json review, const json& object) {
  review["request"]["object"] = object;
  return review;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_mutate)

BOOST_AUTO_TEST_CASE(marooned_ids_are_distinct_uuid_v4s_across_random_pool_refills) {
  // The ids come from a per-thread pool of CSPRNG bytes, 256 at a time: 600 cross two refills.
  std::set<std::string> ids;
  for (int i = 0; i < 600; ++i) {
    const auto id = wh::new_marooned_id();
    BOOST_TEST(std::regex_match(id, uuid_v4), id);
    ids.insert(id);
  }
  BOOST_TEST(ids.size() == 600u);
}

BOOST_AUTO_TEST_CASE(kubectl_named_pod_keeps_defaulted_tolerations_and_slash_keys) {
  const auto review = review_fixture("pod_create_named.json");
  BOOST_REQUIRE(review["request"]["object"]["spec"]["tolerations"].size() == 2u);  // DefaultTolerationSeconds
  const auto pod = mutated_pod(review);
  check_marooned(pod);
  BOOST_TEST(pod["spec"]["tolerations"].size() == 4u);
  BOOST_TEST(pod["spec"]["tolerations"][0]["key"] == "node.kubernetes.io/not-ready");
  BOOST_TEST(pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] == "kwok-node-0");
  BOOST_TEST(pod["spec"]["nodeSelector"]["topology.kubernetes.io/zone"] == "z1");
  BOOST_TEST(pod["spec"]["nodeSelector"].size() == 4u);
  BOOST_TEST(pod["metadata"]["managedFields"] == review["request"]["object"]["metadata"]["managedFields"]);
  BOOST_TEST(pod["metadata"]["name"] == "named-pod");
}

BOOST_AUTO_TEST_CASE(replicaset_pod_with_only_generate_name) {
  const auto review = review_fixture("pod_create_generate_name.json");
  const auto& object = review["request"]["object"];
  BOOST_REQUIRE(!review["request"].contains("name"));
  BOOST_REQUIRE(!object["metadata"].contains("name"));
  BOOST_REQUIRE(!object["metadata"].contains("uid"));
  const auto pod = mutated_pod(review);
  const auto id = check_marooned(pod);
  BOOST_TEST(pod["metadata"]["generateName"] == "rs1-");
  // Two CREATEs of the same template get different ids (nothing derives from a name).
  BOOST_TEST(check_marooned(mutated_pod(review)) != id);
}

BOOST_AUTO_TEST_CASE(pod_without_tolerations_annotations_or_selector_keys) {
  auto object = review_fixture("pod_create_generate_name.json")["request"]["object"];
  object["spec"].erase("tolerations");
  object["metadata"].erase("annotations");
  const auto pod = mutated_pod(with_object(review_fixture("pod_create_generate_name.json"), object));
  check_marooned(pod);
  BOOST_TEST(pod["spec"]["tolerations"].size() == 2u);
  // null lists and maps, as some clients send them, are created too.
  object["spec"]["tolerations"] = nullptr;
  object["spec"]["nodeSelector"] = nullptr;
  object["spec"]["schedulingGates"] = nullptr;
  check_marooned(mutated_pod(with_object(review_fixture("pod_create_generate_name.json"), object)));
}

BOOST_AUTO_TEST_CASE(existing_gates_and_annotations_are_appended_to_not_replaced) {
  auto object = review_fixture("pod_create_named.json")["request"]["object"];
  object["spec"]["schedulingGates"] = json::array({{{"name", "example.com/quota"}}});
  object["metadata"]["annotations"] = {{"team", "a/b~c"}};
  const auto pod = mutated_pod(with_object(review_fixture("pod_create_named.json"), object));
  check_marooned(pod);
  BOOST_TEST(pod["spec"]["schedulingGates"].size() == 2u);
  BOOST_TEST(pod["spec"]["schedulingGates"][0]["name"] == "example.com/quota");
  BOOST_TEST(pod["metadata"]["annotations"]["team"] == "a/b~c");
}

BOOST_AUTO_TEST_CASE(a_client_supplied_id_is_replaced_never_trusted) {
  // A tenant copies a victim's id into the annotation, the selector and a toleration (and
  // adds a blanket toleration of the dedicated key): the pod gets a fresh id all the same.
  const std::string victim = "0b7c1e3a-1111-4222-8333-444455556666";
  const auto review = review_fixture("pod_create_named.json");
  auto object = review["request"]["object"];
  object["metadata"]["annotations"] = {{"maroonedpods.io/pod-uid", victim}};
  object["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] = victim;
  object["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] = victim;
  object["spec"]["tolerations"].push_back(
      {{"key", "maroonedpods.io/dedicated"}, {"operator", "Equal"}, {"value", victim}, {"effect", "NoSchedule"}});
  object["spec"]["tolerations"].push_back({{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}});
  object["spec"]["tolerations"].push_back(
      {{"key", "example.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}});
  const auto pod = mutated_pod(with_object(review, object));
  const auto id = check_marooned(pod);
  BOOST_TEST(id != victim);
  BOOST_TEST(pod.dump().find(victim) == std::string::npos, pod.dump());
  // Tolerations of other keys are kept as they were, tolerationSeconds included.
  BOOST_TEST(pod["spec"]["tolerations"][0] == object["spec"]["tolerations"][0]);
  BOOST_TEST(pod["spec"]["tolerations"][2] == object["spec"]["tolerations"][4]);
  // Called again (reinvocation, or a replayed mutated pod) it mints yet another id.
  BOOST_TEST(check_marooned(mutated_pod(with_object(review, pod))) != id);
}

BOOST_AUTO_TEST_CASE(only_exactly_true_maroons_and_only_at_create) {
  auto review = review_fixture("pod_create_named.json");
  for (const auto* value : {"True", "1", "yes", ""}) {
    review["request"]["object"]["metadata"]["labels"]["maroonedpods.io/maroon"] = value;
    auto response = mutate(review);
    BOOST_TEST(response["allowed"] == true);
    BOOST_TEST(!response.contains("patch"), value);
  }
  auto update = review_fixture("pod_update_labels.json");
  auto response = mutate(update);
  BOOST_TEST(response["allowed"] == true);
  BOOST_TEST(!response.contains("patch"));
}

BOOST_AUTO_TEST_CASE(taint_key_comes_from_the_configuration) {
  check_marooned(mutated_pod(review_fixture("pod_create_named.json"), "isolation.example.com"),
                 "isolation.example.com");
}

BOOST_AUTO_TEST_CASE(a_pod_of_the_wrong_shape_is_an_in_band_error) {
  auto review = review_fixture("pod_create_named.json");
  review["request"]["object"]["spec"]["tolerations"] = "not a list";
  auto response = mutate(review);
  BOOST_TEST(response["allowed"] == false);
  BOOST_TEST(response["status"]["code"] == 400);
}

BOOST_AUTO_TEST_SUITE_END()
