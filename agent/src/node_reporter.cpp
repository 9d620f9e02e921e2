#include "nodeboot/agent/node_reporter.hpp"

#include <algorithm>
#include <chrono>
#include <ostream>
#include <thread>

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

Result<std::string> find_kubelet_kubeconfig(const std::filesystem::path& host_root) {
  std::string tried;
  for (const auto path : kubelet_kubeconfig_paths) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(under_root(host_root, path), ec)) return std::string(path);
    tried.append(tried.empty() ? "" : ", ").append(path);
  }
  return fail(ErrorKind::config, "no kubelet kubeconfig under " + host_root.string() + " (tried " + tried +
                                     "): mount the host's / at --host-root, or pass --host-kubeconfig with the "
                                     "kubelet's kubeconfig path on the host");
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
  // Joining is the report the completion controller waits for, sent right after a boot, when
  // the network or the API server may not answer yet: an unreachable or failing API server is
  // retried for a while. The kubelet's status writes move the version too: a few tries.
  // Wider than kube::Client's own retries (429, 502, 503, 504, a few times within one call)
  // on purpose: right after a boot any 5xx says the server side is not ready yet, not that
  // the report is wrong, so every 5xx counts, over minutes. Each try reads the node again
  // and writes the same annotations under the resourceVersion it read: repeating a write
  // that did land changes only the report's timestamp.
  const auto patient_until =
      std::chrono::steady_clock::now() + (step.state == State::joining ? joining_patience : std::chrono::seconds(0));
  std::chrono::seconds pause{1};
  auto try_again = [&](const Error& e) {
    const bool unreachable = e.kind == ErrorKind::transport || e.code() >= 500 || kube::is_too_many_requests(e);
    if (!unreachable || std::chrono::steady_clock::now() + pause > patient_until) return false;
    log_ << "nodeboot-agent: the API server did not take the " << to_string(step.state) << " report (" << e.message
         << "); trying again in " << pause.count() << "s" << std::endl;
    std::this_thread::sleep_for(pause);  // the resume unit's process: a signal ends it as a whole
    pause = std::min(pause * 2, std::chrono::seconds(30));
    return true;
  };
  for (int conflicts = 0; conflicts < 5;) {
    auto current = client_.get(kube::resources::nodes, "", node_);
    if (!current) {
      if (try_again(current.error())) continue;
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
    if (kube::is_conflict(r.error())) {
      ++conflicts;
      continue;
    }
    if (try_again(r.error())) continue;
    log_ << "nodeboot-agent: cannot annotate node " << node_ << ": " << r.error().message << std::endl;
    return;
  }
  log_ << "nodeboot-agent: node " << node_ << " kept changing; progress not reported" << std::endl;
}

}  // namespace nodeboot::agent
