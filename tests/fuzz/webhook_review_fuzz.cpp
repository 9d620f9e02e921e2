// Fuzz target: AdmissionReview decoding and every admission handler, as the HTTPS transport
// runs them (serve_admission). Each input is a request body and goes through all four
// handlers (the pod handlers both with pods read in the review's pass, as the server runs
// them, and from raw slices; the node check both with and without a bootstrap Secret), so
// one corpus of real-shaped reviews (tests/unit/webhook/fixtures, tests/fuzz/corpus/webhook)
// reaches them all. Beyond "no crash, no sanitizer report", every answer must be an AdmissionReview v1
// that echoes a uid, a patch must be a base64 JSON Patch on an allowed response, and no
// bootstrap Secret value may appear in a message or a warning.
//
// Built by the plain g++ driver (fuzz_driver.cpp, ctest fuzz/webhook_review) or with
// clang's libFuzzer by tests/fuzz/run-webhook.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/util/base64.hpp"
#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/nodes.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "nodeboot/webhook/secrets.hpp"

namespace wh = nodeboot::webhook;
using nlohmann::json;

namespace {

// Node checks need the API; this stand-in answers "exists" or "missing" as told, so both
// paths run. A fake by necessity: a fuzz run cannot reach an API server per execution.
class FixedCluster final : public wh::ClusterView {
 public:
  explicit FixedCluster(bool exists) : exists_(exists) {}
  std::string taint_key() const override { return "maroonedpods.io"; }
  bool node_agent_namespace(std::string_view ns) const override { return ns == "kube-system"; }
  bool dedicated_node(std::string_view name) const override { return exists_ && name == "dedicated"; }
  nodeboot::Result<bool> bootstrap_secret_exists(std::string_view) override { return exists_; }
  bool synced() const override { return true; }

 private:
  bool exists_;
};

std::string fixed_id() { return "00000000-0000-4000-8000-000000000000"; }

[[noreturn]] void violated(const char* what, std::string_view answer) {
  std::fprintf(stderr, "webhook fuzz: %s\nanswer: %.*s\n", what, static_cast<int>(answer.size()), answer.data());
  std::abort();
}

// Values of a bootstrap Secret in the request, decoded, long enough that finding one in a
// message cannot be a coincidence of wording (8 bytes).
std::vector<std::string> secret_values(std::string_view body) {
  std::vector<std::string> values;
  const auto review = json::parse(body, nullptr, false);
  if (!review.is_object()) return values;
  const auto request = review.find("request");
  if (request == review.end() || !request->is_object()) return values;
  for (const char* which : {"object", "oldObject"}) {
    const auto object = request->find(which);
    if (object == request->end() || !object->is_object()) continue;
    const auto data = object->find("data");
    if (data == object->end() || !data->is_object()) continue;
    for (const auto& [key, value] : data->items()) {
      if (!value.is_string()) continue;
      const auto& encoded = value.get_ref<const std::string&>();
      if (auto decoded = nodeboot::base64_decode(encoded); decoded && decoded->size() >= 8) values.push_back(*decoded);
    }
  }
  return values;
}

void check_answer(std::string_view answer, const std::vector<std::string>& secrets) {
  const auto doc = json::parse(answer, nullptr, false);
  if (!doc.is_object() || doc.value("kind", "") != "AdmissionReview" ||
      doc.value("apiVersion", "") != wh::review_api_version)
    violated("the answer is not an AdmissionReview v1", answer);
  const auto response = doc.find("response");
  if (response == doc.end() || !response->is_object() || !response->contains("uid") ||
      !(*response)["uid"].is_string() || !(*response)["allowed"].is_boolean())
    violated("the response lacks uid or allowed", answer);
  if (response->contains("patch")) {
    if (!(*response)["allowed"].get<bool>()) violated("a patch on a denied response", answer);
    if (response->value("patchType", "") != "JSONPatch") violated("a patch without patchType JSONPatch", answer);
    const auto patch_text = nodeboot::base64_decode((*response)["patch"].get<std::string>());
    if (!patch_text) violated("the patch is not base64", answer);
    const auto patch = json::parse(*patch_text, nullptr, false);
    if (!patch.is_array() || patch.empty()) violated("the patch is not a non-empty JSON array", answer);
    for (const auto& op : patch)
      if (!op.is_object() || !op.contains("value") || op.value("op", "") != "add" ||
          !op.value("path", "").starts_with("/"))
        violated("a patch operation is not an add with a path and value", answer);
  }
  if (secrets.empty()) return;
  std::string said;
  if (auto status = response->find("status"); status != response->end() && status->is_object())
    said += status->value("message", "");
  if (auto warnings = response->find("warnings"); warnings != response->end())
    for (const auto& w : *warnings) said += w.is_string() ? w.get<std::string>() : std::string();
  for (const auto& value : secrets)
    if (said.find(value) != std::string::npos) violated("a Secret value appears in the answer", answer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto secrets = secret_values(body);
  FixedCluster with_secret(true);
  FixedCluster without_secret(false);
  using Handler = std::function<wh::AdmissionResponse(const wh::AdmissionRequest&)>;
  const Handler mutate = [](const wh::AdmissionRequest& r) { return wh::mutate_pod(r, "maroonedpods.io", &fixed_id); };
  const Handler validate = [&](const wh::AdmissionRequest& r) {
    return wh::validate_pod(
        r, wh::PodPolicy{"maroonedpods.io", "system:serviceaccount:nodeboot-system:nodeboot-webhook", &with_secret});
  };
  // The pod handlers as the server runs them (pods read in the review's pass) and on raw
  // slices (their own decoding).
  const std::vector<std::pair<Handler, wh::ReviewObjects>> handlers = {
      {mutate, wh::ReviewObjects::pods},
      {mutate, wh::ReviewObjects::raw},
      {validate, wh::ReviewObjects::pods},
      {validate, wh::ReviewObjects::raw},
      {[](const wh::AdmissionRequest& r) { return wh::validate_secret(r); }, wh::ReviewObjects::raw},
      {[&](const wh::AdmissionRequest& r) { return wh::validate_node(r, "nodeboot.io/ipb-schedule", with_secret); },
       wh::ReviewObjects::raw},
      {[&](const wh::AdmissionRequest& r) { return wh::validate_node(r, "nodeboot.io/ipb-schedule", without_secret); },
       wh::ReviewObjects::raw},
  };
  for (const auto& [handler, objects] : handlers)
    check_answer(wh::serve_admission(body, handler, {}, objects), secrets);
  return 0;
}

// JSON and AdmissionReview tokens for fuzz_driver.cpp's mutations (libFuzzer ignores it).
std::vector<std::string> fuzz_dictionary();
std::vector<std::string> fuzz_dictionary() {
  return {"{",
          "}",
          "[",
          "]",
          ",",
          ":",
          "\"",
          "\\",
          "\\u0000",
          "\\ud800",
          "\\\"",
          "null",
          "true",
          "false",
          "0",
          "-1",
          "1e999",
          "123456789012345678901234567890",
          "\"\"",
          "{}",
          "[]",
          "\xff",
          "\xc3\x28",
          "\"kind\":",
          "\"apiVersion\":",
          "\"AdmissionReview\"",
          "\"admission.k8s.io/v1\"",
          "\"request\":",
          "\"uid\":",
          "\"operation\":",
          "\"CREATE\"",
          "\"UPDATE\"",
          "\"object\":",
          "\"oldObject\":",
          "\"dryRun\":",
          "\"userInfo\":",
          "{\"username\":\"system:serviceaccount:nodeboot-system:nodeboot-webhook\"}",
          "\"metadata\":",
          "\"labels\":",
          "\"annotations\":",
          "\"spec\":",
          "\"nodeSelector\":",
          "\"tolerations\":",
          "\"schedulingGates\":",
          "\"maroonedpods.io/maroon\":\"true\"",
          "\"maroonedpods.io/pod-uid\":",
          "{\"name\":\"maroonedpods.io/gate\"}",
          "{\"key\":\"maroonedpods.io/dedicated\",\"operator\":\"Equal\",\"value\":\"x\",\"effect\":\"NoSchedule\"}",
          "\"nodeboot.io/ipb-schedule\":\"true\"",
          "\"unschedulable\":true",
          "\"type\":\"nodeboot.io/bootstrap\"",
          "\"data\":",
          "\"os\":\"cmhlbA==\"",
          "\"os\":\"cmhjb3M=\"",
          "\"ca.crt\":",
          "\"ignition-url\":",
          "\"aHR0cHM6Ly9leGFtcGxlLmNvbS8=\"",
          "\"payload-token\":\"c2VjcmV0LXZhbHVlLTE=\"",
          "===="};
}
