#pragma once

// Progress as the node's nodeboot.io/* annotations (DESIGN.md): a merge patch of those keys
// only, so nothing else on the Node is touched and there is no resourceVersion race with
// the kubelet's status writes. The DaemonSet pod writes them with its ServiceAccount; the
// host unit with the kubelet's credentials.

#include <iosfwd>
#include <string>

#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/kube/client.hpp"

namespace nodeboot::agent {

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
