#include "nodeboot/plugin/ipb/node_state.hpp"

#include <algorithm>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::plugin::ipb {
namespace {

using nlohmann::json;

// The taint the API server's cordon adds (kubectl cordon sets spec.unschedulable; the
// node lifecycle controller mirrors it as this taint).
constexpr std::string_view unschedulable_taint = "node.kubernetes.io/unschedulable";

bool is_lifecycle_taint(const json& taint) { return taint.value("key", "").starts_with("node.kubernetes.io/"); }

}  // namespace

NodeProgress read_progress(const json& node, std::string_view schedule_label) {
  NodeProgress p;
  const json& meta = node.value("metadata", json::object());
  p.name = meta.value("name", "");
  const json ann = meta.value("annotations", json::object());
  auto get = [&](std::string_view key) { return ann.value(std::string(key), std::string()); };
  p.state = get(names::ann_state);
  p.reason = get(names::ann_reason);
  p.message = get(names::ann_message);
  p.updated = get(names::ann_updated);
  p.attempt = get(names::ann_attempt);
  p.reported_boot_id = get(names::ann_boot_id);
  try {
    p.progress = std::clamp(std::stoi(get(names::ann_progress)), 0, 100);
  } catch (const std::exception&) {
    p.progress = 0;  // absent or not a number: nothing reported yet
  }
  p.boot_id = node.value("/status/nodeInfo/bootID"_json_pointer, std::string());
  for (const auto& c : node.value("/status/conditions"_json_pointer, json::array()))
    if (c.value("type", "") == "Ready") p.ready = c.value("status", "") == "True";
  p.unschedulable = node.value("/spec/unschedulable"_json_pointer, false);
  p.scheduled = meta.value("labels", json::object()).contains(std::string(schedule_label));
  return p;
}

PriorState record_prior_state(const json& node, std::string now_rfc3339) {
  PriorState s;
  s.unschedulable = node.value("/spec/unschedulable"_json_pointer, false);
  const json labels = node.value("/metadata/labels"_json_pointer, json::object());
  for (const auto& [k, v] : labels.items())
    if (v.is_string()) s.labels[k] = v.get<std::string>();
  for (const auto& t : node.value("/spec/taints"_json_pointer, json::array()))
    if (t.value("key", "") != unschedulable_taint) s.taints.push_back(t);
  s.boot_id = node.value("/status/nodeInfo/bootID"_json_pointer, std::string());
  s.uid = node.value("/metadata/uid"_json_pointer, std::string());
  s.recorded = std::move(now_rfc3339);
  return s;
}

json to_json(const PriorState& p) {
  return {{"unschedulable", p.unschedulable},
          {"labels", p.labels},
          {"taints", p.taints},
          {"bootID", p.boot_id},
          {"uid", p.uid},
          {"recorded", p.recorded},
          {"keepSecret", p.keep_secret}};
}

std::optional<PriorState> prior_state_from_json(const json& doc) {
  if (!doc.is_object() || !doc.contains("labels") || !doc["labels"].is_object()) return std::nullopt;
  PriorState p;
  p.unschedulable = doc.value("unschedulable", false);
  for (const auto& [k, v] : doc["labels"].items())
    if (v.is_string()) p.labels[k] = v.get<std::string>();
  p.taints = doc.value("taints", json::array());
  p.boot_id = doc.value("bootID", "");
  p.uid = doc.value("uid", "");
  p.recorded = doc.value("recorded", "");
  p.keep_secret = doc.value("keepSecret", false);
  return p;
}

std::string record_name(std::string_view node) {
  return std::string(names::bootstrap_secret_prefix) + std::string(node);
}

json prior_state_configmap(std::string_view node, const PriorState& prior) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", record_name(node)},
            {"namespace", names::system_namespace},
            {"labels", {{std::string(names::node_label), node}}}}},
          {"data", {{std::string(names::prior_state_key), to_json(prior).dump()}}}};
}

namespace {
json rbac_object(std::string_view kind, std::string_view node) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", kind},
          {"metadata",
           {{"name", bootstrap::secret_name(node)},
            {"namespace", names::system_namespace},
            {"labels", {{std::string(names::node_label), node}}}}}};
}
}  // namespace

json secret_reader_role(std::string_view node) {
  json role = rbac_object("Role", node);
  role["rules"] = json::array({{{"apiGroups", {""}},
                                {"resources", {"secrets"}},
                                {"resourceNames", {bootstrap::secret_name(node)}},
                                {"verbs", {"get"}}}});
  return role;
}

json secret_reader_binding(std::string_view node) {
  json binding = rbac_object("RoleBinding", node);
  binding["roleRef"] = {
      {"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", bootstrap::secret_name(node)}};
  binding["subjects"] = json::array({{{"apiGroup", "rbac.authorization.k8s.io"},
                                      {"kind", "User"},
                                      {"name", std::string(node_user_prefix) + std::string(node)}}});
  return binding;
}

bool same_grant(const json& existing, const json& desired) {
  return std::ranges::all_of(std::initializer_list<const char*>{"rules", "roleRef", "subjects"}, [&](const char* key) {
    return !desired.contains(key) || existing.value(key, json()) == desired[key];
  });
}

std::optional<PriorState> prior_state_of_configmap(const json& cm) {
  const auto text =
      cm.value("/data"_json_pointer, json::object()).value(std::string(names::prior_state_key), std::string());
  return prior_state_from_json(json::parse(text, nullptr, false));
}

bool restore(json& node, const PriorState& prior, std::string_view schedule_label) {
  const json before = node;
  json& labels = node["metadata"]["labels"];
  if (!labels.is_object()) labels = json::object();
  labels.erase(std::string(schedule_label));
  for (const auto& [k, v] : prior.labels)
    if (k != schedule_label) labels[k] = v;

  json taints = prior.taints;
  for (const auto& t : node.value("/spec/taints"_json_pointer, json::array())) {
    if (!is_lifecycle_taint(t) || t.value("key", "") == unschedulable_taint) continue;
    bool recorded = false;
    for (const auto& r : prior.taints)
      recorded |= r.value("key", "") == t.value("key", "") && r.value("effect", "") == t.value("effect", "");
    if (!recorded) taints.push_back(t);
  }
  if (taints.empty())
    node["spec"].erase("taints");
  else
    node["spec"]["taints"] = taints;
  if (prior.unschedulable)
    node["spec"]["unschedulable"] = true;
  else
    node["spec"].erase("unschedulable");
  // The API server adds the cordon taint itself when unschedulable is set and drops it
  // when cleared; keep the one that matches the restored flag so a PUT does not fight it.
  if (prior.unschedulable)
    for (const auto& t : before.value("/spec/taints"_json_pointer, json::array()))
      if (t.value("key", "") == unschedulable_taint) node["spec"]["taints"].push_back(t);
  return node != before;
}

bool rebooted(const NodeProgress& now, const PriorState& prior) {
  // Rebooting from a boot the agent named is over only on another boot (a payload that
  // rebooted mid-way leaves the node Ready on a boot that is neither the first nor the last).
  const bool left_reported =
      now.state != "Rebooting" || now.reported_boot_id.empty() || now.boot_id != now.reported_boot_id;
  return now.ready && !now.boot_id.empty() && now.boot_id != prior.boot_id && left_reported;
}

}  // namespace nodeboot::plugin::ipb
