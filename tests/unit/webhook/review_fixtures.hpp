#pragma once

// AdmissionReviews captured from the real kube-apiserver 1.33 of tests/cluster/ (compact
// JSON, as sent): kubectl-run pod with nodeSelector keys containing '/', a ReplicaSet pod
// with only generateName, a label UPDATE, a bootstrap Secret CREATE, a Node label UPDATE.
// Helpers to run them through a handler and apply the answer's patch with kubectl.

#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/server.hpp"

namespace nodeboot::test {

inline nlohmann::json review_fixture(const std::string& name) {
  return nlohmann::json::parse(read_file(source_dir() / "tests/unit/webhook/fixtures" / name));
}

// Runs `review` through the transport's decoding and `handler`; returns the response. The
// pod routes decode with ReviewObjects::pods, the others with raw slices.
template <typename Handler>
nlohmann::json admit(const nlohmann::json& review, Handler&& handler,
                     webhook::ReviewObjects objects = webhook::ReviewObjects::raw) {
  const auto answer = webhook::serve_admission(review.dump(), handler, {}, objects);
  auto doc = nlohmann::json::parse(answer);
  BOOST_TEST(doc["apiVersion"] == "admission.k8s.io/v1");
  BOOST_TEST(doc["kind"] == "AdmissionReview");
  BOOST_TEST(doc["response"]["uid"] == review["request"]["uid"]);
  return doc["response"];
}

inline std::string decoded_patch(const nlohmann::json& response) {
  BOOST_REQUIRE(response.contains("patch"));
  BOOST_TEST(response["patchType"] == "JSONPatch");
  auto patch = base64_decode(response["patch"].get<std::string>());
  BOOST_REQUIRE(patch.has_value());
  return *patch;
}

// Applies a JSON patch the way the API server does (kubectl uses the same library).
inline nlohmann::json kubectl_patch(const nlohmann::json& object, const std::string& patch) {
  TempDir dir;
  const auto file = dir.write("obj.json", object.dump());
  auto r = run({"kubectl", "patch", "--local", "--type=json", "-f", file.string(), "-p", patch, "-o", "json",
                "--show-managed-fields"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "kubectl patch failed: " + r.err + "\npatch: " + patch);
  return nlohmann::json::parse(r.out);
}

}  // namespace nodeboot::test
