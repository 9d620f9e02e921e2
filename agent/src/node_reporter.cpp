#include "nodeboot/agent/node_reporter.hpp"

#include <ostream>

#include <nlohmann/json.hpp>

#include "nodeboot/agent/host_path.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/kube/mounted_kubeconfig.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"

namespace nodeboot::agent {

Result<kube::RestConfig> kubelet_config(const std::filesystem::path& host_root, const std::string& kubeconfig) {
  const auto file = under_root(host_root, kubeconfig);
  const std::string fix =
      "; the agent acts as the node (system:node:<node>) with the kubelet's credentials: mount the "
      "host's / at --host-root and pass --host-kubeconfig with the kubelet's kubeconfig path on "
      "the host";
  const auto text = read_file(file);
  if (!text) return fail(ErrorKind::config, "the kubelet's kubeconfig: " + text.error().message + fix);
  auto config = kube::parse_kubeconfig_under(*text, std::filesystem::path("/") / kubeconfig, host_root);
  if (!config)
    return fail(ErrorKind::config, "the kubelet's kubeconfig " + file.string() + ": " + config.error().message + fix);
  return config;
}

NodeAnnotator::NodeAnnotator(kube::Client& client, std::string node, std::string attempt, std::ostream& log,
                             bool keep_done)
    : client_(client), node_(std::move(node)), attempt_(std::move(attempt)), log_(log), keep_done_(keep_done) {}

void NodeAnnotator::report(const Step& step) {
  nlohmann::json ann = {{std::string(names::ann_state), to_string(step.state)},
                        {std::string(names::ann_progress), std::to_string(step.progress)},
                        {std::string(names::ann_reason), step.reason},
                        {std::string(names::ann_message), step.message},
                        {std::string(names::ann_updated), rfc3339_now()},
                        {std::string(names::ann_attempt), attempt_}};
  if (!step.boot_id.empty()) ann[std::string(names::ann_boot_id)] = step.boot_id;
  nlohmann::json patch = {{"metadata", {{"annotations", ann}}}};
  const kube::PatchOptions options{.field_manager = std::string(names::agent_field_manager)};
  if (!keep_done_) {
    auto r = client_.patch(kube::resources::nodes, "", node_, kube::PatchType::merge, patch, options);
    if (!r) log_ << "nodeboot-agent: cannot annotate node " << node_ << ": " << r.error().message << std::endl;
    return;
  }
  // The kubelet's status writes move the version too: a few tries.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto current = client_.get(kube::resources::nodes, "", node_);
    if (!current) {
      log_ << "nodeboot-agent: cannot read node " << node_ << ": " << current.error().message << std::endl;
      return;
    }
    const auto& meta = (*current)["metadata"];
    const auto annotations = meta.value("annotations", nlohmann::json::object());
    if (annotations.value(std::string(names::ann_state), "") == "Done" &&
        annotations.value(std::string(names::ann_attempt), "") == attempt_) {
      log_ << "nodeboot-agent: node " << node_ << " is already Done; not reporting " << to_string(step.state)
           << std::endl;
      return;
    }
    patch["metadata"]["resourceVersion"] = meta.value("resourceVersion", "");
    auto r = client_.patch(kube::resources::nodes, "", node_, kube::PatchType::merge, patch, options);
    if (r) return;
    if (!kube::is_conflict(r.error())) {
      log_ << "nodeboot-agent: cannot annotate node " << node_ << ": " << r.error().message << std::endl;
      return;
    }
  }
  log_ << "nodeboot-agent: node " << node_ << " kept changing; progress not reported" << std::endl;
}

}  // namespace nodeboot::agent
