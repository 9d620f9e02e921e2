#include "nodeboot/marooned/objects.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "nodeboot/names.hpp"

namespace nodeboot::marooned {
namespace {

// A JSON pointer to `key` under `base`, escaped as RFC 6901 requires ("/" in label keys).
std::string pointer(const char* base, std::string_view key) {
  return (nlohmann::json::json_pointer(base) / std::string(key)).to_string();
}

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

bool is_marooned_id(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

std::string pod_id(const nlohmann::json& pod) {
  auto id = string_at(pod, "annotations", names::maroon_pod_uid);
  const auto spec = pod.find("spec");
  if (id.empty() || spec == pod.end() || !spec->is_object()) return "";
  const auto selector = spec->find("nodeSelector");
  if (selector == spec->end() || !selector->is_object()) return "";
  const auto pinned = selector->find(std::string(names::maroon_pod_uid));
  if (pinned == selector->end() || *pinned != id) return "";
  // Pods created before the vouched label existed lack this entry; where it exists it agrees.
  const auto vouched = selector->find(std::string(names::maroon_vouched_label));
  if (vouched != selector->end() && *vouched != id) return "";
  return id;
}

bool gated(const nlohmann::json& pod) {
  const auto* gates = spec_list(pod, "schedulingGates");
  if (!gates) return false;
  return std::ranges::any_of(
      *gates, [](const nlohmann::json& g) { return g.is_object() && g.value("name", "") == names::maroon_gate; });
}

bool finished(const nlohmann::json& pod) {
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return false;
  const auto phase = status->value("phase", "");
  return phase == "Succeeded" || phase == "Failed";
}

std::string node_id(const nlohmann::json& node) { return string_at(node, "labels", names::maroon_pod_uid); }
std::string vouched_id(const nlohmann::json& node) { return string_at(node, "labels", names::maroon_vouched_label); }
std::string owner_uid(const nlohmann::json& node) {
  return string_at(node, "annotations", names::maroon_owner_pod_uid);
}

std::string dedicated_taint_key(std::string_view taint_key) { return std::string(taint_key) + "/dedicated"; }

std::optional<std::string> node_not_eligible(const nlohmann::json& node, std::string_view id, std::string_view pod_uid,
                                             std::string_view taint_key) {
  if (id.empty() || vouched_id(node) != id)
    return "it is not vouched for this pod (label " + std::string(names::maroon_vouched_label) + "=" + std::string(id) +
           "): it has not presented the pod's join credential";
  if (pod_uid.empty() || owner_uid(node) != pod_uid)
    return "it is vouched for another pod (" + std::string(names::maroon_owner_pod_uid) + " is not " +
           std::string(pod_uid) + ")";
  bool ready = false;
  if (const auto status = node.find("status"); status != node.end() && status->is_object())
    for (const auto& c : status->value("conditions", nlohmann::json::array()))
      if (c.is_object() && c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  if (!ready) return std::string("it is not Ready");
  if (const auto spec = node.find("spec");
      spec != node.end() && spec->is_object() && spec->value("unschedulable", false))
    return std::string("it is cordoned");
  const auto key = dedicated_taint_key(taint_key);
  bool ours = false;
  std::optional<std::string> foreign;
  if (const auto* taints = spec_list(node, "taints"))
    for (const auto& t : *taints) {
      if (!t.is_object() || t.value("effect", "") != "NoSchedule") continue;
      if (t.value("key", "") == key && t.value("value", "") == id)
        ours = true;
      else if (!foreign)
        foreign = t.value("key", "");
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
    if ((*gates)[i].is_object() && (*gates)[i].value("name", "") == names::maroon_gate) {
      auto patch = nlohmann::json::array({{{"op", "test"}, {"path", "/spec/schedulingGates"}, {"value", *gates}}});
      // A marooned pod always has a nodeSelector (the webhook pins it); its id is "" only
      // for a pod the webhook never saw, which gets no selector from here.
      const auto id = pod_id(pod);
      const auto& selector = pod["spec"].value("nodeSelector", nlohmann::json::object());
      if (!id.empty() && !selector.contains(std::string(names::maroon_vouched_label)))
        patch.push_back(
            {{"op", "add"}, {"path", pointer("/spec/nodeSelector", names::maroon_vouched_label)}, {"value", id}});
      patch.push_back({{"op", "remove"}, {"path", "/spec/schedulingGates/" + std::to_string(i)}});
      return patch;
    }
  return std::nullopt;
}

nlohmann::json vouch_patch(const nlohmann::json& node, std::string_view id, const nlohmann::json& pod) {
  const auto& meta = pod["metadata"];
  const std::string owner = meta.value("namespace", "") + "/" + meta.value("name", "");
  auto patch = nlohmann::json::array();
  const auto& node_meta = node["metadata"];
  // The node must still claim this id when it is vouched (a `test` fails the whole patch).
  patch.push_back(
      {{"op", "test"}, {"path", pointer("/metadata/labels", names::maroon_pod_uid)}, {"value", std::string(id)}});
  patch.push_back(
      {{"op", "add"}, {"path", pointer("/metadata/labels", names::maroon_vouched_label)}, {"value", std::string(id)}});
  if (!node_meta.contains("annotations") || !node_meta["annotations"].is_object())
    patch.push_back({{"op", "add"}, {"path", "/metadata/annotations"}, {"value", nlohmann::json::object()}});
  patch.push_back({{"op", "add"},
                   {"path", pointer("/metadata/annotations", names::maroon_owner_pod_uid)},
                   {"value", meta.value("uid", "")}});
  patch.push_back(
      {{"op", "add"}, {"path", pointer("/metadata/annotations", names::maroon_owner_pod)}, {"value", owner}});
  if (node_meta.value("annotations", nlohmann::json::object()).contains(std::string(names::maroon_join_proof)))
    patch.push_back({{"op", "remove"}, {"path", pointer("/metadata/annotations", names::maroon_join_proof)}});
  return patch;
}

}  // namespace nodeboot::marooned
