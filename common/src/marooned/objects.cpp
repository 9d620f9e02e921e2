#include "nodeboot/marooned/objects.hpp"

#include "nodeboot/names.hpp"

namespace nodeboot::marooned {
namespace {

std::string string_at(const nlohmann::json& object, const char* map, std::string_view key) {
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  const auto m = meta->find(map);
  if (m == meta->end() || !m->is_object()) return "";
  const auto v = m->find(std::string(key));
  return v != m->end() && v->is_string() ? v->get<std::string>() : "";
}

const nlohmann::json* spec_list(const nlohmann::json& object, const char* field) {
  const auto spec = object.find("spec");
  if (spec == object.end() || !spec->is_object()) return nullptr;
  const auto list = spec->find(field);
  return list != spec->end() && list->is_array() ? &*list : nullptr;
}

}  // namespace

std::string pod_id(const nlohmann::json& pod) { return string_at(pod, "annotations", names::maroon_pod_uid); }

bool gated(const nlohmann::json& pod) {
  const auto* gates = spec_list(pod, "schedulingGates");
  if (!gates) return false;
  for (const auto& g : *gates)
    if (g.is_object() && g.value("name", "") == names::maroon_gate) return true;
  return false;
}

bool finished(const nlohmann::json& pod) {
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return false;
  const auto phase = status->value("phase", "");
  return phase == "Succeeded" || phase == "Failed";
}

std::string node_id(const nlohmann::json& node) { return string_at(node, "labels", names::maroon_pod_uid); }

std::string dedicated_taint_key(std::string_view taint_key) { return std::string(taint_key) + "/dedicated"; }

std::optional<std::string> node_not_eligible(const nlohmann::json& node, std::string_view id,
                                             std::string_view taint_key) {
  if (id.empty() || node_id(node) != id) return "it is not labelled " + std::string(names::maroon_pod_uid) + "=" + std::string(id);
  bool ready = false;
  if (const auto status = node.find("status"); status != node.end() && status->is_object())
    for (const auto& c : status->value("conditions", nlohmann::json::array()))
      if (c.is_object() && c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  if (!ready) return std::string("it is not Ready");
  if (const auto spec = node.find("spec"); spec != node.end() && spec->is_object() && spec->value("unschedulable", false))
    return std::string("it is cordoned");
  const auto key = dedicated_taint_key(taint_key);
  bool ours = false;
  std::optional<std::string> foreign;
  if (const auto* taints = spec_list(node, "taints"))
    for (const auto& t : *taints) {
      if (!t.is_object() || t.value("effect", "") != "NoSchedule") continue;
      if (t.value("key", "") == key && t.value("value", "") == id) ours = true;
      else if (!foreign) foreign = t.value("key", "");
    }
  if (!ours) return "it lacks the taint " + key + "=" + std::string(id) + ":NoSchedule";
  // The pod tolerates only its own NoSchedule taint. Released while another one is still
  // there (typically node.kubernetes.io/not-ready, which the node lifecycle controller
  // removes a moment after Ready), the scheduler would turn it away and retry only after
  // its backoff: tens of seconds. The taint's removal is a node event, so waiting costs
  // nothing.
  if (foreign) return "it still carries the taint " + *foreign + ":NoSchedule";
  return std::nullopt;
}

std::optional<nlohmann::json> gate_removal_patch(const nlohmann::json& pod) {
  const auto* gates = spec_list(pod, "schedulingGates");
  if (!gates) return std::nullopt;
  for (std::size_t i = 0; i < gates->size(); ++i)
    if ((*gates)[i].is_object() && (*gates)[i].value("name", "") == names::maroon_gate)
      return nlohmann::json::array(
          {{{"op", "test"}, {"path", "/spec/schedulingGates"}, {"value", *gates}},
           {{"op", "remove"}, {"path", "/spec/schedulingGates/" + std::to_string(i)}}});
  return std::nullopt;
}

}  // namespace nodeboot::marooned
