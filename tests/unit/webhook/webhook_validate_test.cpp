#include <set>

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/util/pki.hpp"
#include "nodeboot/webhook/nodes.hpp"
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
  auto response = admit(
      review, [](const wh::AdmissionRequest& r) { return wh::mutate_pod(r, "maroonedpods.io"); },
      wh::ReviewObjects::pods);
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

// The unit layer's stand-in for the API server (a fake, by necessity here): the e2e
// layer runs /validate/nodes and /validate/pods against the real one.
class FakeCluster final : public wh::ClusterView {
 public:
  nodeboot::Result<bool> secret = false;
  std::set<std::string, std::less<>> dedicated{"dedicated-1"};
  std::string taint_key() const override { return "maroonedpods.io"; }
  bool node_agent_namespace(std::string_view ns) const override { return ns == "kube-system"; }
  bool dedicated_node(std::string_view name) const override { return dedicated.contains(name); }
  nodeboot::Result<bool> bootstrap_secret_exists(std::string_view /*node*/) override { return secret; }
  bool synced() const override { return true; }
};

json validate_pod(const json& review) {
  static FakeCluster cluster;
  return admit(
      review,
      [](const wh::AdmissionRequest& r) {
        return wh::validate_pod(r, wh::PodPolicy{"maroonedpods.io", controller, &cluster});
      },
      wh::ReviewObjects::pods);
}

// A CREATE review of `pod` in `ns`.
json pod_create(const json& pod, const std::string& ns = "tenant") {
  auto review = review_fixture("pod_create_named.json");
  review["request"]["object"] = pod;
  review["request"]["namespace"] = ns;
  return review;
}

// An ordinary (not marooned) pod from the captured CREATE.
json ordinary_pod() {
  auto pod = review_fixture("pod_create_named.json")["request"]["object"];
  pod["metadata"]["labels"].erase("maroonedpods.io/maroon");
  pod["spec"]["nodeSelector"].erase("kubernetes.io/hostname");
  return pod;
}

std::string denial(const json& response) {
  BOOST_TEST(response["allowed"] == false);
  return response["status"].value("message", "");
}

json validate_node(const json& review, FakeCluster& cluster) {
  return admit(
      review, [&](const wh::AdmissionRequest& r) { return wh::validate_node(r, "nodeboot.io/ipb-schedule", cluster); });
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
  changed([](json& p) { p["metadata"]["annotations"]["maroonedpods.io/pod-uid"] = "other"; },
          "annotation maroonedpods.io/pod-uid");
  changed([](json& p) { p["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] = "other"; },
          "nodeSelector maroonedpods.io/pod-uid");
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
  auto ca = nodeboot::issue_certificate({"ca", {}, {}, true, now - std::chrono::hours(1), now + std::chrono::hours(1)},
                                        nullptr);
  BOOST_REQUIRE(ca.has_value());
  nodeboot::bootstrap::SecretData data;
  data.emplace("os", nodeboot::Secret("rhcos"));
  data.emplace("ignition-url", nodeboot::Secret("https://api.example.com:22623/config/worker"));
  data.emplace("ignition-token", nodeboot::Secret("t0ken"));
  data.emplace("ca.crt", nodeboot::Secret(ca->cert_pem));
  auto review = review_fixture("secret_create.json");
  review["request"]["object"] = nodeboot::bootstrap::make_secret("kwok-node-0", data);
  const auto check = [](const json& rv) {
    return admit(rv, [](const wh::AdmissionRequest& r) { return wh::validate_secret(r); });
  };
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
  BOOST_TEST(r["status"]["message"].get<std::string>().find("could not be checked (connection refused)") !=
             std::string::npos);

  // The label was already there: nothing is being started.
  review["request"]["oldObject"]["metadata"]["labels"]["nodeboot.io/ipb-schedule"] = "true";
  BOOST_TEST(validate_node(review, cluster)["allowed"] == true);
}

BOOST_AUTO_TEST_CASE(a_mutated_marooned_pod_is_admitted_and_an_altered_one_is_not) {
  BOOST_TEST(validate_pod(pod_create(marooned_pod()))["allowed"] == true);
  const auto refused = [](auto&& edit, const std::string& expect) {
    auto pod = marooned_pod();
    edit(pod);
    const auto message = denial(validate_pod(pod_create(pod)));
    BOOST_TEST(message.find(expect) != std::string::npos, message);
    BOOST_TEST(message.find("mutate.pods.maroonedpods.io") != std::string::npos, message);
  };
  // A later webhook (or a bypass) changed what ours set.
  refused(
      [](json& p) { p["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] = "0b7c1e3a-1111-4222-8333-444455556666"; },
      "nodeSelector does not pin");
  refused([](json& p) { p["spec"]["nodeSelector"].erase("node-restriction.kubernetes.io/maroonedpods.io-pod-uid"); },
          "nodeSelector does not pin");
  refused(
      [](json& p) {
        p["spec"]["tolerations"].push_back({{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}});
      },
      "tolerations are not exactly those for its own id");
  refused([](json& p) { p["spec"].erase("schedulingGates"); }, "lacks the scheduling gate");
  refused([](json& p) { p["spec"]["nodeName"] = "dedicated-1"; }, "spec.nodeName dedicated-1");
  refused([](json& p) { p["metadata"]["annotations"].erase("maroonedpods.io/pod-uid"); }, "is not a marooned id");
}

BOOST_AUTO_TEST_CASE(nobody_maroons_an_existing_pod) {
  const auto before = ordinary_pod();
  auto after = before;
  after["metadata"]["labels"]["maroonedpods.io/maroon"] = "true";
  for (const auto user : {std::string_view("token-user"), controller}) {
    const auto message = denial(validate_pod(pod_update(before, after, user)));
    BOOST_TEST(message.find("add the label maroonedpods.io/maroon=true to an existing pod") != std::string::npos,
               message);
  }
}

BOOST_AUTO_TEST_CASE(the_controller_may_add_the_vouched_selector_for_the_pods_own_id_only) {
  auto before = marooned_pod();
  before["spec"]["nodeSelector"].erase(
      "node-restriction.kubernetes.io/maroonedpods.io-pod-uid");  // created before it existed
  auto after = before;
  after["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] =
      before["metadata"]["annotations"]["maroonedpods.io/pod-uid"];
  BOOST_TEST(validate_pod(pod_update(before, after, controller))["allowed"] == true);
  BOOST_TEST(denial(validate_pod(pod_update(before, after, "token-user"))).find("nodeSelector node-restriction") !=
             std::string::npos);
  // Anyone else pointing it at another id is refused as well.
  after["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] =
      "0b7c1e3a-1111-4222-8333-444455556666";
  BOOST_TEST(denial(validate_pod(pod_update(before, after, "token-user"))).find("nodeSelector node-restriction") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(ordinary_pods_cannot_reach_a_dedicated_node) {
  BOOST_TEST(validate_pod(pod_create(ordinary_pod()))["allowed"] == true);
  const auto refused = [](auto&& edit, const std::string& expect) {
    auto pod = ordinary_pod();
    edit(pod);
    const auto message = denial(validate_pod(pod_create(pod)));
    BOOST_TEST(message.find(expect) != std::string::npos, message);
  };
  const std::string victim = "0b7c1e3a-1111-4222-8333-444455556666";
  refused([&](json& p) { p["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] = victim; },
          "nodeSelector selects maroonedpods.io/pod-uid");
  refused(
      [&](json& p) { p["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] = victim; },
      "nodeSelector selects node-restriction.kubernetes.io/maroonedpods.io-pod-uid");
  refused(
      [&](json& p) {
        p["spec"]["tolerations"].push_back(
            {{"key", "maroonedpods.io/dedicated"}, {"operator", "Equal"}, {"value", victim}});
      },
      "tolerates maroonedpods.io/dedicated");
  refused(
      [&](json& p) {
        p["spec"]["tolerations"].push_back({{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}});
      },
      "tolerates maroonedpods.io/dedicated");
  refused([](json& p) { p["spec"]["nodeName"] = "dedicated-1"; }, "spec.nodeName names dedicated-1");
  refused([](json& p) { p["spec"]["nodeSelector"]["kubernetes.io/hostname"] = "dedicated-1"; },
          "kubernetes.io/hostname names dedicated-1");
  refused(
      [](json& p) {
        p["spec"]["affinity"] = {{"nodeAffinity",
                                  {{"requiredDuringSchedulingIgnoredDuringExecution",
                                    {{"nodeSelectorTerms",
                                      {{{"matchFields",
                                         {{{"key", "metadata.name"},
                                           {"operator", "In"},
                                           {"values", {"ordinary-1", "dedicated-1"}}}}}}}}}}}}};
      },
      "node affinity names dedicated-1");
  refused(
      [&](json& p) {
        p["spec"]["affinity"] = {
            {"nodeAffinity",
             {{"requiredDuringSchedulingIgnoredDuringExecution",
               {{"nodeSelectorTerms",
                 {{{"matchExpressions", {{{"key", "maroonedpods.io/pod-uid"}, {"operator", "Exists"}}}}}}}}}}}};
      },
      "node affinity selects maroonedpods.io/pod-uid");
  refused([](json& p) { p["spec"]["tolerations"].push_back({{"operator", "Exists"}}); }, "tolerates every taint");
  // An ordinary nodeName is fine; so is a blanket toleration confined to ordinary nodes.
  auto named = ordinary_pod();
  named["spec"]["nodeName"] = "ordinary-1";
  named["spec"]["tolerations"].push_back({{"operator", "Exists"}});
  BOOST_TEST(validate_pod(pod_create(named))["allowed"] == true);
  auto daemon = ordinary_pod();  // what the DaemonSet controller creates for node ordinary-1
  daemon["spec"]["tolerations"].push_back({{"operator", "Exists"}});
  daemon["spec"]["affinity"] = {
      {"nodeAffinity",
       {{"requiredDuringSchedulingIgnoredDuringExecution",
         {{"nodeSelectorTerms",
           {{{"matchFields", {{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"ordinary-1"}}}}}}}}}}}}};
  BOOST_TEST(validate_pod(pod_create(daemon))["allowed"] == true);
  auto excluded = ordinary_pod();
  excluded["spec"]["tolerations"].push_back({{"operator", "Exists"}});
  excluded["spec"]["affinity"] = {{"nodeAffinity",
                                   {{"requiredDuringSchedulingIgnoredDuringExecution",
                                     {{"nodeSelectorTerms",
                                       {{{"matchExpressions",
                                          {{{"key", "node-restriction.kubernetes.io/maroonedpods.io-pod-uid"},
                                            {"operator", "DoesNotExist"}}}}}}}}}}}};
  BOOST_TEST(validate_pod(pod_create(excluded))["allowed"] == true);
  // The node-agent namespaces may run anything there.
  auto agent = ordinary_pod();
  agent["spec"]["tolerations"].push_back({{"operator", "Exists"}});
  agent["spec"]["nodeName"] = "dedicated-1";
  BOOST_TEST(validate_pod(pod_create(agent, "kube-system"))["allowed"] == true);
  BOOST_TEST(denial(validate_pod(pod_create(agent, "tenant"))).find("spec.nodeName names dedicated-1") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_update_is_refused_only_for_what_it_adds) {
  // Adding the dedicated toleration to a gated pod (tolerations can be added to any pod).
  auto before = ordinary_pod();
  auto after = before;
  after["spec"]["tolerations"].push_back({{"key", "maroonedpods.io/dedicated"}, {"operator", "Exists"}});
  BOOST_TEST(
      denial(validate_pod(pod_update(before, after, "token-user"))).find("tolerates maroonedpods.io/dedicated") !=
      std::string::npos);
  // Adding the marooned nodeSelector while gated (allowed by the API server for gated pods).
  after = before;
  after["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] = "x";
  BOOST_TEST(denial(validate_pod(pod_update(before, after, "token-user"))).find("nodeSelector selects") !=
             std::string::npos);
  // A pod that already had a blanket toleration (admitted before the webhook) may still be labelled.
  before["spec"]["tolerations"].push_back({{"operator", "Exists"}});
  after = before;
  after["metadata"]["labels"]["team"] = "a";
  BOOST_TEST(validate_pod(pod_update(before, after, "token-user"))["allowed"] == true);
}

BOOST_AUTO_TEST_SUITE_END()
