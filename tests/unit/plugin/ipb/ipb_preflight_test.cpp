#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/plugin/ipb/preflight.hpp"

using namespace nodeboot::plugin::ipb;
using nlohmann::json;

namespace {

const std::string ours = "nodeboot.io/ipb-schedule";
const std::string ibm = "ibm-cloud.kubernetes.io/ipb-schedule";

// The fields of manifests/ipb/daemonset.yaml the check reads.
json daemonset(const json& node_selector,
               const json& args = json::array({"--schedule-label=nodeboot.io/ipb-schedule"})) {
  return {{"spec",
           {{"template",
             {{"spec",
               {{"nodeSelector", node_selector},
                {"containers",
                 {{{"name", "agent"},
                   {"command", {"nodeboot-agent", "bootstrap", "--host-root=/host", "--hold"}},
                   {"args", args}}}}}}}}}}};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_preflight)

BOOST_AUTO_TEST_CASE(daemonset_flag_is_namespace_slash_name_or_none) {
  auto d = parse_daemonset_flag(default_daemonset);
  BOOST_REQUIRE(d.has_value() && d->has_value());
  BOOST_TEST((*d)->ns == "nodeboot-system");
  BOOST_TEST((*d)->name == "nodeboot-ipb");
  auto none = parse_daemonset_flag("none");
  BOOST_REQUIRE(none.has_value());
  BOOST_TEST(!none->has_value());
  for (const char* bad : {"nodeboot-ipb", "/x", "x/", "a/b/c", ""}) {
    auto r = parse_daemonset_flag(bad);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(contains(r.error().message, "--daemonset"), bad);
    BOOST_TEST(contains(r.error().message, "NAMESPACE/NAME"), bad);
  }
}

BOOST_AUTO_TEST_CASE(the_shipped_label_matches) {
  BOOST_TEST(!schedule_label_problem(daemonset({{ours, "true"}}), "nodeboot-system/nodeboot-ipb", ours).has_value());
  // Other selector terms do not matter, and an agent without the flag uses the nodeSelector's label by default.
  BOOST_TEST(
      !schedule_label_problem(daemonset({{ours, "true"}, {"kubernetes.io/os", "linux"}}, json::array()), "ns/ds", ours)
           .has_value());
}

BOOST_AUTO_TEST_CASE(another_label_is_refused_naming_both_and_the_fix) {
  const auto p = schedule_label_problem(daemonset({{ours, "true"}}), "nodeboot-system/nodeboot-ipb", ibm);
  BOOST_REQUIRE(p.has_value());
  BOOST_TEST(contains(*p, "--schedule-label " + ibm), *p);
  BOOST_TEST(contains(*p, "DaemonSet nodeboot-system/nodeboot-ipb"), *p);
  BOOST_TEST(contains(*p, "nodeSelector is " + ours + "=true"), *p);
  BOOST_TEST(contains(*p, "pass --schedule-label " + ours), *p);
  BOOST_TEST(contains(*p, "manifests/ipb/components/ibm-schedule-label"), *p);
  // The other way round: the installation was switched, the flag was not.
  const auto q =
      schedule_label_problem(daemonset({{ibm, "true"}}, json::array({"--schedule-label=" + ibm})), "ns/ds", ours);
  BOOST_REQUIRE(q.has_value());
  BOOST_TEST(contains(*q, "pass --schedule-label " + ibm), *q);
}

BOOST_AUTO_TEST_CASE(a_value_other_than_true_and_a_disagreeing_agent_are_refused) {
  const auto value = schedule_label_problem(daemonset({{ours, "yes"}}), "ns/ds", ours);
  BOOST_REQUIRE(value.has_value());
  BOOST_TEST(contains(*value, ours + "=yes"), *value);
  BOOST_TEST(contains(*value, ours + "=true"), *value);
  for (const json& args : {json::array({"--schedule-label=" + ibm}), json::array({"--schedule-label", ibm})}) {
    const auto agent = schedule_label_problem(daemonset({{ours, "true"}}, args), "ns/ds", ours);
    BOOST_REQUIRE(agent.has_value());
    BOOST_TEST(contains(*agent, "--schedule-label=" + ibm), *agent);
    BOOST_TEST(contains(*agent, "container agent"), *agent);
  }
  const auto none = schedule_label_problem(json::object(), "ns/ds", ours);
  BOOST_REQUIRE(none.has_value());
  BOOST_TEST(contains(*none, "nodeSelector is (none)"), *none);
}

BOOST_AUTO_TEST_CASE(access_covers_every_write_and_its_undo) {
  std::vector<std::string> asked;
  for (const auto& a : start_access(false, false)) asked.push_back(a.str());
  for (const char* need :
       {"patch nodes", "create configmaps in nodeboot-system", "delete configmaps in nodeboot-system",
        "create secrets in nodeboot-system", "update secrets in nodeboot-system", "delete secrets in nodeboot-system",
        "get secrets in nodeboot-system",  // RBAC lets only a holder of the Secret grant reading it
        "create roles.rbac.authorization.k8s.io in nodeboot-system",
        "delete roles.rbac.authorization.k8s.io in nodeboot-system",
        "create rolebindings.rbac.authorization.k8s.io in nodeboot-system",
        "delete rolebindings.rbac.authorization.k8s.io in nodeboot-system"})
    BOOST_TEST((std::ranges::find(asked, need) != asked.end()), need);
  BOOST_TEST((std::ranges::find(asked, "create pods/eviction") == asked.end()));
  std::vector<std::string> draining;
  for (const auto& a : start_access(true, false)) draining.push_back(a.str());
  BOOST_TEST((std::ranges::find(draining, "create pods/eviction") != draining.end()));
  BOOST_TEST((std::ranges::find(draining, "list pods") != draining.end()));
  std::vector<std::string> deleting;
  for (const auto& a : start_access(true, true)) deleting.push_back(a.str());
  BOOST_TEST((std::ranges::find(deleting, "delete pods") != deleting.end()));
  BOOST_TEST((std::ranges::find(deleting, "create pods/eviction") == deleting.end()));
}

BOOST_AUTO_TEST_CASE(access_review_is_the_api_object) {
  const json r = access_review({"create", "pods", "eviction", "", "why"});
  BOOST_TEST(r == json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
      "spec":{"resourceAttributes":{"verb":"create","group":"","resource":"pods","subresource":"eviction"}}})"));
  const json s = access_review({"update", "secrets", "", "nodeboot-system", "why"});
  BOOST_TEST(s["spec"]["resourceAttributes"]["namespace"] == "nodeboot-system");
  BOOST_TEST(!s["spec"]["resourceAttributes"].contains("subresource"));
  const json role = access_review({"create", "roles", "", "nodeboot-system", "why", "rbac.authorization.k8s.io"});
  BOOST_TEST(role["spec"]["resourceAttributes"]["group"] == "rbac.authorization.k8s.io");
}

BOOST_AUTO_TEST_SUITE_END()
