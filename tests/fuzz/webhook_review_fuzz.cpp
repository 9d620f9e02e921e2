// libFuzzer target: AdmissionReview decoding and every admission handler, as the HTTPS
// transport runs them (serve_admission). The first input byte picks the handler, the rest
// is the request body. Every answer must be a JSON AdmissionReview; sanitizers catch the
// rest. Built and run by tests/fuzz/run-webhook.sh (clang, ASan + UBSan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/nodes.hpp"
#include "nodeboot/webhook/pods.hpp"
#include "nodeboot/webhook/secrets.hpp"

namespace wh = nodeboot::webhook;

namespace {

// Node checks need the API; this stand-in answers from the input's parity, so both the
// "exists" and the "missing" paths run.
class InputCluster final : public wh::ClusterView {
 public:
  bool exists = false;
  std::string taint_key() const override { return "maroonedpods.io"; }
  nodeboot::Result<bool> bootstrap_secret_exists(std::string_view) override { return exists; }
  bool synced() const override { return true; }
};

std::string fixed_id() { return "00000000-0000-4000-8000-000000000000"; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto selector = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  InputCluster cluster;
  cluster.exists = (selector & 0x10) != 0;
  const auto answer = wh::serve_admission(body, [&](const wh::AdmissionRequest& r) {
    switch (selector % 4) {
      case 0: return wh::mutate_pod(r, "maroonedpods.io", &fixed_id);
      case 1: return wh::validate_pod(r, "maroonedpods.io", "system:serviceaccount:nodeboot-system:nodeboot-webhook");
      case 2: return wh::validate_secret(r);
      default: return wh::validate_node(r, "nodeboot.io/ipb-schedule", cluster);
    }
  });
  const auto doc = nlohmann::json::parse(answer, nullptr, false);
  if (!doc.is_object() || doc.value("kind", "") != "AdmissionReview" || !doc.contains("response")) std::abort();
  return 0;
}
