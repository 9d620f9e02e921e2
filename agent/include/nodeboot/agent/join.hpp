#pragma once

// `nodeboot-agent join` (seed 004): on a marooned pod's dedicated VM, read
// /etc/marooned/join-info.yaml, write the k3s agent configuration that registers the node
// with the pod's label and taints, start k3s-agent, wait until the node is registered,
// present the join proof (nodeboot/marooned/join.hpp) on the Node with the kubelet's own
// credentials, and wait until the gate-release controller has vouched for the node.

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::agent {

struct JoinInfo {
  std::string server_url;
  Secret token;
  std::string pod_uid;
  std::string taint_key;
  Secret credential;  // the pod's single-use join credential (64 hex digits)
};

// Parses join-info.yaml (a flat map of strings, as `kubectl nodeboot marooned join-info`
// writes it); every problem is reported at once, each naming the field and the fix.
Result<JoinInfo> parse_join_info(const std::string& text);

// The k3s agent's /etc/rancher/k3s/config.yaml for `info` (holds the token): the pod's
// label and its dedicated taint twice, NoSchedule (keeps others off) and NoExecute (evicts
// whatever got there anyway).
Secret k3s_config(const JoinInfo& info, const std::string& node_name);

struct JoinOptions {
  std::filesystem::path host_root = "/";                             // tests run in a temporary directory
  std::filesystem::path join_info = "/etc/marooned/join-info.yaml";  // under host_root
  // The service manager command, given `start --no-block k3s-agent.service`. --no-block:
  // this runs as a oneshot unit, and waiting for a job of a unit ordered after ours would
  // deadlock boot.
  std::vector<std::string> service_manager{"systemctl"};
  std::string node_name;              // "" = the host name (k3s's default)
  std::chrono::seconds timeout{300};  // a VM's first k3s start pulls nothing but still takes ~30 s

  Result<void> complete(const cli::Parsed& parsed);
  Result<void> validate() const;
  Result<int> run(cli::Io& io) const;
};

// `nodeboot-agent join`.
cli::Flags join_flags();
Result<int> join_main(const cli::Parsed& parsed, cli::Io& io);

}  // namespace nodeboot::agent
