#include "nodeboot/webhook/nodes.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::webhook {
namespace {

std::string label_of(const nlohmann::json& node, std::string_view key) {
  const auto md = node.find("metadata");
  if (md == node.end() || !md->is_object()) return {};
  const auto labels = md->find("labels");
  if (labels == md->end() || !labels->is_object()) return {};
  const auto v = labels->find(key);
  return v != labels->end() && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

AdmissionResponse validate_node(const AdmissionRequest& request, std::string_view schedule_label,
                                ClusterView& cluster) {
  if (request.operation != "UPDATE" || request.object.empty()) return AdmissionResponse::allow();
  const auto node = nlohmann::json::parse(request.object, nullptr, false);
  const auto old = nlohmann::json::parse(request.old_object.empty() ? "{}" : request.old_object, nullptr, false);
  if (!node.is_object() || !old.is_object()) return AdmissionResponse::errored(400, "the Node is not a JSON object");
  if (label_of(node, schedule_label) != "true" || label_of(old, schedule_label) == "true")
    return AdmissionResponse::allow();

  const std::string name = node.contains("metadata") ? node["metadata"].value("name", request.name) : request.name;
  const std::string label = std::string(schedule_label) + "=true";
  std::vector<std::string> missing;
  const auto spec = node.find("spec");
  const bool cordoned = spec != node.end() && spec->is_object() && spec->value("unschedulable", false);
  if (!cordoned) missing.push_back("cordon it first (kubectl cordon " + name + ")");
  const auto secret = std::string(names::system_namespace) + "/" + bootstrap::secret_name(name);
  auto exists = cluster.bootstrap_secret_exists(name);
  if (!exists)
    missing.push_back("its bootstrap Secret " + secret + " could not be checked (" + exists.error().message + ")");
  else if (!*exists)
    missing.push_back("create its bootstrap Secret " + secret + " of type " +
                      std::string(names::bootstrap_secret_type) + " first");
  if (missing.empty()) return AdmissionResponse::allow();
  std::string message = "node " + name + ": adding the label " + label + " starts an in-place bootstrap; ";
  for (std::size_t i = 0; i < missing.size(); ++i) message += (i ? "; " : "") + missing[i];
  message += " (kubectl nodeboot start does these steps in order)";
  return AdmissionResponse::deny(std::move(message));
}

}  // namespace nodeboot::webhook
