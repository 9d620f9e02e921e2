#include "nodeboot/webhook/secrets.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::webhook {

AdmissionResponse validate_secret(const AdmissionRequest& request, std::chrono::system_clock::time_point now) {
  if ((request.operation != "CREATE" && request.operation != "UPDATE") || request.object.empty())
    return AdmissionResponse::allow();
  // Not the hot path (bootstrap Secrets are written a few times per node), so a DOM is fine.
  const auto secret = nlohmann::json::parse(request.object, nullptr, false);
  if (!secret.is_object()) return AdmissionResponse::errored(400, "the Secret is not a JSON object");
  if (secret.value("type", "") != names::bootstrap_secret_type) return AdmissionResponse::allow();
  auto spec = bootstrap::parse_secret(secret, now);
  if (spec) return AdmissionResponse::allow();
  std::string who = request.namespace_ + "/" + (request.name.empty() ? "(generated name)" : request.name);
  return AdmissionResponse::deny("bootstrap Secret " + who + " is invalid (" + std::to_string(spec.error().size()) +
                                 " problem" + (spec.error().size() == 1 ? "" : "s") + "):\n" +
                                 bootstrap::describe(spec.error()));
}

}  // namespace nodeboot::webhook
