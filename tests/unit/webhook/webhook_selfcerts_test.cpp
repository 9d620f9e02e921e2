#include <boost/test/unit_test.hpp>

#include "nodeboot/bootstrap/ca.hpp"
#include "nodeboot/webhook/selfcerts.hpp"

namespace wh = nodeboot::webhook;
using namespace std::chrono_literals;

namespace {
const wh::CertPolicy policy{{"nodeboot-webhook.nodeboot-system.svc", "127.0.0.1"}, std::chrono::hours(24 * 90)};
const auto t0 = std::chrono::system_clock::now();
}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_selfcerts)

BOOST_AUTO_TEST_CASE(first_run_issues_a_ca_and_a_serving_certificate) {
  auto plan = wh::plan_certificates(std::nullopt, policy, t0);
  BOOST_REQUIRE(plan.has_value());
  BOOST_TEST(plan->changed);
  BOOST_TEST(nodeboot::bootstrap::check_ca_bundle(plan->material.ca_bundle, t0).empty());
  BOOST_TEST(plan->material.ca_bundle == plan->material.ca.cert_pem);
  // Renewal comes with a third of the serving validity left.
  const auto due = wh::renewal_due(plan->material, policy);
  BOOST_TEST(std::chrono::abs(due - (t0 + 60 * 24h)) < 1h);
}

BOOST_AUTO_TEST_CASE(stable_until_due_then_renews_the_serving_certificate_only) {
  auto first = wh::plan_certificates(std::nullopt, policy, t0);
  BOOST_REQUIRE(first.has_value());
  auto later = wh::plan_certificates(first->material, policy, t0 + 30 * 24h);
  BOOST_REQUIRE(later.has_value());
  BOOST_TEST(!later->changed);
  BOOST_TEST(later->material.serving.cert_pem == first->material.serving.cert_pem);
  auto due = wh::plan_certificates(first->material, policy, t0 + 61 * 24h);
  BOOST_REQUIRE(due.has_value());
  BOOST_TEST(due->changed);
  BOOST_TEST(due->material.serving.cert_pem != first->material.serving.cert_pem);
  BOOST_TEST(due->material.ca.cert_pem == first->material.ca.cert_pem);  // same CA: no caBundle change
  BOOST_TEST(due->material.ca_bundle == first->material.ca_bundle);
}

BOOST_AUTO_TEST_CASE(a_new_ca_keeps_the_old_one_in_the_bundle) {
  auto first = wh::plan_certificates(std::nullopt, policy, t0);
  BOOST_REQUIRE(first.has_value());
  // The CA lives 10 x 90 days and is renewed with a third left: at day 601.
  const auto when = t0 + 601 * 24h;
  auto rotated = wh::plan_certificates(first->material, policy, when);
  BOOST_REQUIRE(rotated.has_value());
  BOOST_TEST(rotated->changed);
  BOOST_TEST(rotated->material.ca.cert_pem != first->material.ca.cert_pem);
  BOOST_TEST(rotated->material.ca_bundle == rotated->material.ca.cert_pem + first->material.ca.cert_pem);
  // Once the old CA has expired it leaves the bundle.
  auto pruned = wh::plan_certificates(rotated->material, policy, t0 + 901 * 24h);
  BOOST_REQUIRE(pruned.has_value());
  BOOST_TEST(pruned->material.ca_bundle.find(first->material.ca.cert_pem) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(changed_hosts_get_a_new_serving_certificate) {
  auto first = wh::plan_certificates(std::nullopt, policy, t0);
  BOOST_REQUIRE(first.has_value());
  auto more = policy;
  more.hosts.push_back("10.0.0.7");
  auto r = wh::plan_certificates(first->material, more, t0 + 1h);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->changed);
  BOOST_TEST(r->material.ca.cert_pem == first->material.ca.cert_pem);
}

BOOST_AUTO_TEST_SUITE_END()
