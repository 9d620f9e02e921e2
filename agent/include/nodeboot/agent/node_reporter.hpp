#pragma once

// Progress as the node's nodeboot.io/* annotations (DESIGN.md): a merge patch of those keys
// only, so nothing else on the Node is touched and there is no resourceVersion race with
// the kubelet's status writes. The DaemonSet pod writes them with its pod-bound
// ServiceAccount token until it removes the schedule label; after that (the pod is being
// deleted) the pod and the host unit write them with the kubelet's credentials.

#include <filesystem>
#include <iosfwd>
#include <string>

#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::agent {

// The node's own API identity (system:node:<node>): the kubelet's kubeconfig `kubeconfig`
// (a host path) read with the host's / at `host_root`; the certificate and key files it
// names are host paths too. The error names the file and the fix.
Result<kube::RestConfig> kubelet_config(const std::filesystem::path& host_root, const std::string& kubeconfig);

class NodeAnnotator final : public Reporter {
 public:
  // `keep_done`: never overwrite Done (the host side: the completion controller may have
  // finished the node on its new boot before the host says Joining). Each report is then a
  // read and a write conditional on the version read.
  NodeAnnotator(kube::Client& client, std::string node, std::string attempt, std::ostream& log, bool keep_done = false);
  void report(const Step& step) override;

 private:
  kube::Client& client_;
  std::string node_, attempt_;
  std::ostream& log_;
  bool keep_done_;
};

}  // namespace nodeboot::agent
