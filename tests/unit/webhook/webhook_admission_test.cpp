#include <stdexcept>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/admission.hpp"
#include "review_fixtures.hpp"

using nlohmann::json;
namespace wh = nodeboot::webhook;

namespace {

json answer(
    const std::string& body, const std::function<wh::AdmissionResponse(const wh::AdmissionRequest&)>& handler =
                                 [](const wh::AdmissionRequest&) { return wh::AdmissionResponse::allow(); }) {
  return json::parse(wh::serve_admission(body, handler))["response"];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_admission)

BOOST_AUTO_TEST_CASE(decodes_the_captured_request_fields) {
  const auto review = nodeboot::test::review_fixture("pod_update_labels.json");
  const auto body = review.dump();
  wh::PaddedBody padded;
  padded.assign(body);
  auto req = wh::decode_review(padded);
  BOOST_REQUIRE(req.has_value());
  BOOST_TEST(req->uid == review["request"]["uid"]);
  BOOST_TEST(req->kind == "Pod");
  BOOST_TEST(req->operation == "UPDATE");
  BOOST_TEST(req->namespace_ == "default");
  BOOST_TEST(req->name == "named-pod");
  BOOST_TEST(req->username == "nodeboot-e2e-admin");
  BOOST_TEST(!req->dry_run);
  BOOST_TEST((json::parse(req->object) == review["request"]["object"]));
  BOOST_TEST((json::parse(req->old_object) == review["request"]["oldObject"]));
}

BOOST_AUTO_TEST_CASE(field_order_does_not_matter) {
  const std::string body =
      R"({"request":{"object":{"a":1},"userInfo":{"groups":["x"],"username":"u"},"operation":"CREATE","uid":"u-1","kind":{"kind":"Pod"}},)"
      R"("apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})";
  wh::PaddedBody padded;
  padded.assign(body);
  auto req = wh::decode_review(padded);
  BOOST_REQUIRE(req.has_value());
  BOOST_TEST(req->uid == "u-1");
  BOOST_TEST(req->username == "u");
  BOOST_TEST(req->object == R"({"a":1})");
  BOOST_TEST(req->old_object.empty());
}

BOOST_AUTO_TEST_CASE(undecodable_reviews_are_in_band_errors_echoing_the_uid) {
  auto r = answer(R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u-2"}})");
  BOOST_TEST(r["uid"] == "u-2");
  BOOST_TEST(r["allowed"] == false);
  BOOST_TEST(r["status"]["code"] == 400);
  BOOST_TEST(r["status"]["message"].get<std::string>().find("admissionReviewVersions") != std::string::npos);
  for (const auto* body : {"", "null", "[]", "{", R"({"kind":"AdmissionReview"})", "\xff\xfe",
                           R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}})",
                           R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}})"}) {
    auto e = answer(body);
    BOOST_TEST(e["allowed"] == false, body);
    BOOST_TEST(e["status"]["code"] == 400, body);
  }
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_becomes_an_in_band_500) {
  const auto body = nodeboot::test::review_fixture("pod_create_named.json").dump();
  auto r = answer(body, [](const wh::AdmissionRequest&) -> wh::AdmissionResponse { throw std::runtime_error("boom"); });
  BOOST_TEST(r["allowed"] == false);
  BOOST_TEST(r["status"]["code"] == 500);
  BOOST_TEST(r["uid"] == nodeboot::test::review_fixture("pod_create_named.json")["request"]["uid"]);
}

BOOST_AUTO_TEST_CASE(encoding_escapes_and_omits_what_is_empty) {
  auto allowed = json::parse(wh::encode_review("u\"1", wh::AdmissionResponse::allow()));
  BOOST_TEST(allowed["response"] == (json{{"uid", "u\"1"}, {"allowed", true}}));
  auto denied = wh::AdmissionResponse::deny("line 1\nline \"2\"\t\x01");
  denied.warnings = {"w\\1"};
  auto d = json::parse(wh::encode_review("u", denied));
  BOOST_TEST(d["response"]["status"]["message"] == "line 1\nline \"2\"\t\x01");
  BOOST_TEST(d["response"]["status"]["reason"] == "Forbidden");
  BOOST_TEST(d["response"]["warnings"][0] == "w\\1");
  BOOST_TEST(wh::pointer_token("maroonedpods.io/pod-uid~x") == "maroonedpods.io~1pod-uid~0x");
}

BOOST_AUTO_TEST_SUITE_END()
