#pragma once

// `cluster wait`: the API server first, then a watch on Nodes until enough are Ready.

#include <chrono>
#include <filesystem>
#include <iosfwd>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::cluster {

struct WaitOptions {
  kube::ConnectionFlags connection;
  int nodes = 1;
  std::chrono::seconds timeout{3600};
  std::filesystem::path output_dir;  // the kubeconfig is saved here as "kubeconfig"
  std::ostream* progress = nullptr;  // one line per change, or nothing
};

// Returns the path of the saved kubeconfig.
Result<std::filesystem::path> wait_for_cluster(const WaitOptions& options);

}  // namespace nodeboot::plugin::cluster
