#include <stdexcept>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "review_fixtures.hpp"

using nlohmann::json;
namespace wh = nodeboot::webhook;

namespace {

json answer(
    const std::string& body, const std::function<wh::AdmissionResponse(const wh::AdmissionRequest&)>& handler =
                                 [](const wh::AdmissionRequest&) { return wh::AdmissionResponse::allow(); }) {
  return json::parse(wh::serve_admission(body, handler))["response"];
}

// Decodes `body` into `padded`, which the request's slices point into.
std::expected<wh::AdmissionRequest, wh::DecodeError> decode(wh::PaddedBody& padded, const std::string& body,
                                                            wh::ReviewObjects objects) {
  padded.assign(body);
  return wh::decode_review(padded, objects);
}

// The pod decode_review read in its own pass (ReviewObjects::pods), which must be there and valid.
const wh::PodView& read_pod(const std::optional<nodeboot::Result<wh::PodView>>& pod) {
  BOOST_REQUIRE(pod.has_value());
  BOOST_REQUIRE_MESSAGE(pod->has_value(), (*pod ? std::string() : pod->error().message));
  return **pod;
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

BOOST_AUTO_TEST_CASE(pods_read_in_the_reviews_pass_equal_pods_decoded_from_the_slices) {
  for (const auto* name : {"pod_create_named.json", "pod_create_generate_name.json", "pod_update_labels.json"}) {
    const auto body = nodeboot::test::review_fixture(name).dump();
    wh::PaddedBody raw_body, pods_body;
    const auto raw = decode(raw_body, body, wh::ReviewObjects::raw);
    const auto pods = decode(pods_body, body, wh::ReviewObjects::pods);
    BOOST_REQUIRE(raw.has_value());
    BOOST_REQUIRE(pods.has_value());
    BOOST_TEST(pods->uid == raw->uid, name);
    BOOST_TEST(pods->operation == raw->operation, name);
    BOOST_TEST(pods->username == raw->username, name);
    BOOST_TEST((pods->object.empty() && pods->old_object.empty()), name);  // no slices kept
    BOOST_TEST((read_pod(pods->pod) == *wh::decode_pod(raw->object)), name);
    BOOST_TEST(pods->old_pod.has_value() == !raw->old_object.empty(), name);
    if (!raw->old_object.empty()) BOOST_TEST((read_pod(pods->old_pod) == *wh::decode_pod(raw->old_object)), name);
  }
}

BOOST_AUTO_TEST_CASE(pods_read_in_the_reviews_pass_whatever_the_order_escapes_or_absence) {
  // object before kind and apiVersion (and before the request's uid), a key written with
  // escapes, oldObject null: the pod is read, the fields after it are too.
  const std::string body = R"({"request":{"object":{"metadata":{"labels":{"maroonedpods.io\/maroon":"true"},)"
                           R"("annotations":{"\u006daroonedpods.io/pod-uid":"x"}},"spec":{"nodeName":"n\"1"}},)"
                           R"("oldObject":null,"operation":"CREATE","uid":"u-3"},)"
                           R"("kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"})";
  wh::PaddedBody padded;
  auto req = decode(padded, body, wh::ReviewObjects::pods);
  BOOST_REQUIRE(req.has_value());
  BOOST_TEST(req->uid == "u-3");
  BOOST_TEST(req->operation == "CREATE");
  const auto& pod = read_pod(req->pod);
  BOOST_TEST(pod.marooned());
  BOOST_TEST(pod.annotations_present);
  BOOST_TEST(pod.pod_uid_annotation.value_or("") == "x");
  BOOST_TEST(pod.node_name == "n\"1");
  BOOST_TEST(!req->old_pod.has_value());
  // oldObject absent, object null: neither is set.
  req = decode(padded,
               R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":null}})",
               wh::ReviewObjects::pods);
  BOOST_REQUIRE(req.has_value());
  BOOST_TEST(!req->pod.has_value());
  BOOST_TEST(!req->old_pod.has_value());
}

BOOST_AUTO_TEST_CASE(a_pod_of_the_wrong_shape_is_the_handlers_error_and_a_non_object_the_reviews) {
  // A pod field of the wrong type: the review still decodes (the fields after the pod too),
  // the pod is an error the handler reports.
  const std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":)"
      R"({"spec":{"tolerations":"not a list","nodeName":"n"},"metadata":{"labels":{"a":"b"}}},)"
      R"("oldObject":{"metadata":{"labels":{"maroonedpods.io/maroon":"true"}}},"uid":"u-4","operation":"UPDATE"}})";
  wh::PaddedBody padded;
  const auto req = decode(padded, body, wh::ReviewObjects::pods);
  BOOST_REQUIRE(req.has_value());
  BOOST_TEST(req->uid == "u-4");
  BOOST_TEST(req->operation == "UPDATE");
  BOOST_REQUIRE(req->pod.has_value());
  BOOST_TEST(!req->pod->has_value());
  BOOST_TEST(read_pod(req->old_pod).marooned());
  const auto answer = json::parse(wh::serve_admission(
      body, [](const wh::AdmissionRequest& r) { return wh::mutate_pod(r, "maroonedpods.io"); }, {},
      wh::ReviewObjects::pods))["response"];
  BOOST_TEST(answer["allowed"] == true);  // mutate_pod answers only CREATE
  // object that is not an object (nor null) is the review's error, as with raw slices.
  for (const auto* object : {"5", R"("pod")", "[]", "true"}) {
    const auto review =
        R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":)" +
        std::string(object) + "}}";
    BOOST_TEST(!decode(padded, review, wh::ReviewObjects::pods).has_value(), object);
    BOOST_TEST(!decode(padded, review, wh::ReviewObjects::raw).has_value(), object);
  }
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
