#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/webhook/nodes.hpp"
#include "nodeboot/webhook/pki.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "nodeboot/webhook/secrets.hpp"
#include "review_fixtures.hpp"

using nlohmann::json;
using nodeboot::test::admit;
using nodeboot::test::decoded_patch;
using nodeboot::test::kubectl_patch;
using nodeboot::test::review_fixture;
namespace wh = nodeboot::webhook;

namespace {

constexpr std::string_view controller = "system:serviceaccount:nodeboot-system:nodeboot-webhook";

// A marooned pod as the API server stores it: the named capture after our mutation.
json marooned_pod() {
  const auto review = review_fixture("pod_create_named.json");
  auto response = admit(review, [](const wh::AdmissionRequest& r) { return wh::mutate_pod(r, "maroonedpods.io"); });
  return kubectl_patch(review["request"]["object"], decoded_patch(response));
}

// The captured UPDATE review with oldObject/object replaced and the user set.
json pod_update(const json& before, const json& after, std::string_view user) {
  auto review = review_fixture("pod_update_labels.json");
  review["request"]["oldObject"] = before;
  review["request"]["object"] = after;
  review["request"]["userInfo"]["username"] = user;
  return review;
}

json validate_pod(const json& review) {
  return admit(review, [](const wh::AdmissionRequest& r) { return wh::validate_pod(r, "maroonedpods.io", controller); });
}

// The unit layer's stand-in for the API server (a fake, by necessity here): the e2e
// layer runs /validate/nodes against the real one.
class FakeCluster final : public wh::ClusterView {
 public:
  nodeboot::Result<bool> secret = false;
  std::string taint_key() const override { return "maroonedpods.io"; }
  nodeboot::Result<bool> bootstrap_secret_exists(std::string_view) override { return secret; }
  bool synced() const override { return true; }
};

json validate_node(const json& review, FakeCluster& cluster) {
  return admit(review, [&](const wh::AdmissionRequest& r) { return wh::validate_node(r, "nodeboot.io/ipb-schedule", cluster); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_validate)

BOOST_AUTO_TEST_CASE(only_the_controller_removes_the_gate) {
  const auto before = marooned_pod();
  auto after = before;
  after["spec"].erase("schedulingGates");
  auto denied = validate_pod(pod_update(before, after, "token-user"));
  BOOST_TEST(denied["allowed"] == false);
  BOOST_TEST(denied["status"]["code"] == 403);
  const auto message = denied["status"]["message"].get<std::string>();
  BOOST_TEST(message.find("remove the scheduling gate maroonedpods.io/gate") != std::string::npos, message);
  BOOST_TEST(validate_pod(pod_update(before, after, controller))["allowed"] == true);
}

BOOST_AUTO_TEST_CASE(marooned_fields_and_label_are_guarded) {
  const auto before = marooned_pod();
  const auto changed = [&](auto&& edit, const std::string& expect) {
    auto after = before;
    edit(after);
    auto r = validate_pod(pod_update(before, after, "nodeboot-e2e-admin"));
    BOOST_TEST(r["allowed"] == false, expect);
    BOOST_TEST(r["status"]["message"].get<std::string>().find(expect) != std::string::npos, r["status"]["message"]);
  };
  changed([](json& p) { p["metadata"]["annotations"]["maroonedpods.io/pod-uid"] = "other"; }, "annotation maroonedpods.io/pod-uid");
  changed([](json& p) { p["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] = "other"; }, "nodeSelector maroonedpods.io/pod-uid");
  changed([](json& p) { p["spec"]["tolerations"][2]["value"] = "other"; }, "toleration maroonedpods.io/dedicated");
  changed([](json& p) { p["metadata"]["labels"].erase("maroonedpods.io/maroon"); }, "label maroonedpods.io/maroon");
  // Unrelated changes pass, for anyone.
  auto after = before;
  after["metadata"]["labels"]["extra"] = "1";
  after["spec"]["tolerations"].push_back({{"key", "other"}, {"operator", "Exists"}});
  BOOST_TEST(validate_pod(pod_update(before, after, "token-user"))["allowed"] == true);
  // The captured label UPDATE of a pod that was never mutated passes too.
  BOOST_TEST(validate_pod(review_fixture("pod_update_labels.json"))["allowed"] == true);
}

BOOST_AUTO_TEST_CASE(captured_incomplete_secret_is_refused_with_every_problem_and_no_value) {
  const auto review = review_fixture("secret_create.json");
  auto r = admit(review, [](const wh::AdmissionRequest& req) { return wh::validate_secret(req); });
  BOOST_TEST(r["allowed"] == false);
  const auto message = r["status"]["message"].get<std::string>();
  BOOST_TEST(message.find("nodeboot-system/nodeboot-kwok-node-0") != std::string::npos, message);
  BOOST_TEST(message.find("ignition-url: is missing") != std::string::npos, message);
  BOOST_TEST(message.find("ca.crt: is missing") != std::string::npos, message);
  BOOST_TEST(message.find("metadata.labels: needs label nodeboot.io/node") != std::string::npos, message);
  BOOST_TEST(message.find("abc") == std::string::npos);  // the captured token's value
}

BOOST_AUTO_TEST_CASE(valid_secret_and_other_types_pass) {
  const auto now = std::chrono::system_clock::now();
  auto ca = wh::issue_certificate({"ca", {}, {}, true, now - std::chrono::hours(1), now + std::chrono::hours(1)}, nullptr);
  BOOST_REQUIRE(ca.has_value());
  nodeboot::bootstrap::SecretData data;
  data.emplace("os", nodeboot::Secret("rhcos"));
  data.emplace("ignition-url", nodeboot::Secret("https://api.example.com:22623/config/worker"));
  data.emplace("ignition-token", nodeboot::Secret("t0ken"));
  data.emplace("ca.crt", nodeboot::Secret(ca->cert_pem));
  auto review = review_fixture("secret_create.json");
  review["request"]["object"] = nodeboot::bootstrap::make_secret("kwok-node-0", data);
  const auto check = [](const json& rv) { return admit(rv, [](const wh::AdmissionRequest& r) { return wh::validate_secret(r); }); };
  BOOST_TEST(check(review)["allowed"] == true);
  review["request"]["object"]["type"] = "Opaque";
  review["request"]["object"]["data"] = {{"anything", "eA=="}};
  BOOST_TEST(check(review)["allowed"] == true);
  review["request"]["operation"] = "DELETE";
  BOOST_TEST(check(review)["allowed"] == true);
}

BOOST_AUTO_TEST_CASE(schedule_label_needs_cordon_and_secret) {
  auto review = review_fixture("node_update_schedule_label.json");
  FakeCluster cluster;
  auto r = validate_node(review, cluster);
  BOOST_TEST(r["allowed"] == false);
  auto message = r["status"]["message"].get<std::string>();
  BOOST_TEST(message.find("kubectl cordon kwok-node-0") != std::string::npos, message);
  BOOST_TEST(message.find("nodeboot-system/nodeboot-kwok-node-0") != std::string::npos, message);

  review["request"]["object"]["spec"]["unschedulable"] = true;
  cluster.secret = true;
  BOOST_TEST(validate_node(review, cluster)["allowed"] == true);

  cluster.secret = nodeboot::fail(nodeboot::ErrorKind::transport, "connection refused");
  r = validate_node(review, cluster);
  BOOST_TEST(r["allowed"] == false);
  BOOST_TEST(r["status"]["message"].get<std::string>().find("could not be checked (connection refused)") != std::string::npos);

  // The label was already there: nothing is being started.
  review["request"]["oldObject"]["metadata"]["labels"]["nodeboot.io/ipb-schedule"] = "true";
  BOOST_TEST(validate_node(review, cluster)["allowed"] == true);
}

BOOST_AUTO_TEST_SUITE_END()
