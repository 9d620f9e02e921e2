#pragma once

// `cluster wait`: the API server first, then a watch on Nodes until enough are Ready,
// then the kubeconfig used, flattened (certificates inline), saved as DIR/kubeconfig.

#include <chrono>
#include <filesystem>
#include <iosfwd>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::cluster {

struct WaitOptions {
  kube::ConnectionFlags connection;
  int nodes = 1;
  std::string selector;  // label selector; "" = every Node
  std::chrono::seconds timeout{3600};
  std::filesystem::path output_dir;  // the kubeconfig is saved here as "kubeconfig"
  std::ostream* progress = nullptr;  // one line per change, or nothing
  std::string kubeconfig_hint;       // how the operator gets the kubeconfig, if it is not there yet
  // The kubeconfig is the uploaded DIR/admin.conf: once DIR/kubeconfig is saved, it and the
  // upload token are deleted (the token is revoked even if the endpoint missed it).
  bool consume_upload = false;
};

// Returns the path of the saved kubeconfig.
Result<std::filesystem::path> wait_for_cluster(const WaitOptions& options);

}  // namespace nodeboot::plugin::cluster
