#include "nodeboot/plugin/ipb/drain.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

namespace nodeboot::plugin::ipb {
namespace {

using nlohmann::json;

// kubectl's messages, word for word, so operators recognise them.
constexpr const char* daemonset_error = "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)";
constexpr const char* daemonset_warning = "ignoring DaemonSet-managed Pods";
constexpr const char* local_storage_error =
    "cannot delete Pods with local storage (use --delete-emptydir-data to override)";
constexpr const char* local_storage_warning = "deleting Pods with local storage";
constexpr const char* unreplicated_error = "cannot delete Pods that declare no controller (use --force to override)";
constexpr const char* unreplicated_warning = "deleting Pods that declare no controller";

std::optional<json> controller_of(const json& pod) {
  for (const auto& ref : pod.value("/metadata/ownerReferences"_json_pointer, json::array()))
    if (ref.value("controller", false)) return ref;
  return std::nullopt;
}

bool finished(const json& pod) {
  const auto phase = pod.value("/status/phase"_json_pointer, std::string());
  return phase == "Succeeded" || phase == "Failed";
}

bool has_emptydir(const json& pod) {
  const auto volumes = pod.value("/spec/volumes"_json_pointer, json::array());
  return std::ranges::any_of(volumes, [](const json& v) { return v.contains("emptyDir"); });
}

}  // namespace

std::string pod_ref(const json& pod) {
  return pod.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
         pod.value("/metadata/name"_json_pointer, std::string());
}

DrainPlan plan_drain(const std::vector<json>& pods, const DrainOptions& o) {
  DrainPlan plan;
  std::map<std::string, std::vector<std::string>> errors, warnings;  // message → pods, as kubectl groups them
  for (const auto& pod : pods) {
    // Mirror pods belong to the kubelet's static manifests: the API cannot remove them.
    if (pod.value("/metadata/annotations"_json_pointer, json::object()).contains("kubernetes.io/config.mirror"))
      continue;
    const auto controller = controller_of(pod);
    if (controller && controller->value("kind", "") == "DaemonSet") {
      // The DaemonSet controller would recreate it at once (and tolerates the cordon).
      (o.ignore_daemonsets ? warnings[daemonset_warning] : errors[daemonset_error]).push_back(pod_ref(pod));
      continue;
    }
    if (!finished(pod)) {
      if (has_emptydir(pod))
        (o.delete_emptydir_data ? warnings[local_storage_warning] : errors[local_storage_error])
            .push_back(pod_ref(pod));
      if (!controller) (o.force ? warnings[unreplicated_warning] : errors[unreplicated_error]).push_back(pod_ref(pod));
    }
    plan.remove.push_back(pod);
  }
  auto flatten = [](const auto& grouped, std::vector<std::string>& out) {
    for (const auto& [message, refs] : grouped) {
      std::string line = message + ": ";
      for (std::size_t i = 0; i < refs.size(); ++i) line += (i ? ", " : "") + refs[i];
      out.push_back(line);
    }
  };
  flatten(errors, plan.errors);
  flatten(warnings, plan.warnings);
  if (!plan.errors.empty()) plan.remove.clear();  // nothing half-done: a blocked drain evicts nobody
  return plan;
}

}  // namespace nodeboot::plugin::ipb
