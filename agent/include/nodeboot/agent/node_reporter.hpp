#pragma once

// Progress as the node's nodeboot.io/* annotations (DESIGN.md): a merge patch of those keys
// only, so nothing else on the Node is touched and there is no resourceVersion race with
// the kubelet's status writes. The DaemonSet pod writes them with its pod-bound
// ServiceAccount token until it removes the schedule label; after that (the pod is being
// deleted) the pod and the host unit write them with the kubelet's credentials.

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <string_view>

#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::agent {

// The node's own API identity (system:node:<node>): the kubelet's kubeconfig `kubeconfig`
// (a host path) read with the host's / at `host_root`; the certificate and key files it
// names are host paths too. The error names the file and the fix.
Result<kube::RestConfig> kubelet_config(const std::filesystem::path& host_root, const std::string& kubeconfig);

// Where distributions keep the kubelet's kubeconfig, in the order tried: OpenShift (RHCOS
// and RHEL workers), kubeadm, RKE2, k3s.
inline constexpr std::string_view kubelet_kubeconfig_paths[] = {
    "/var/lib/kubelet/kubeconfig", "/etc/kubernetes/kubelet.conf", "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
    "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"};

// The first of kubelet_kubeconfig_paths that is a file under `host_root` (a host path); an
// error naming them all and --host-kubeconfig when none is.
Result<std::string> find_kubelet_kubeconfig(const std::filesystem::path& host_root);

inline constexpr std::chrono::seconds joining_patience{300};

class NodeAnnotator final : public Reporter {
 public:
  // `keep_done`: never overwrite Done (the host side: the completion controller may have
  // finished the node on its new boot before the host says Joining). Each report is then a
  // read and a write conditional on the version read, and Joining, the report sent right
  // after a boot that the completion waits for, is retried for up to `joining_patience`
  // while the API server is unreachable, failing or throttling.
  NodeAnnotator(kube::Client& client, std::string node, std::string attempt, std::ostream& log, bool keep_done = false);
  void report(const Step& step) override;

 private:
  kube::Client& client_;
  std::string node_, attempt_;
  std::ostream& log_;
  bool keep_done_;
};

}  // namespace nodeboot::agent
