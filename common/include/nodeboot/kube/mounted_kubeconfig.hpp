#pragma once

// Another machine's kubeconfig seen through a mount: a node's kubelet kubeconfig, read by a
// pod that has the host's / at `files_root`. `origin` is the path on that machine, and every
// file it names (certificate-authority, client-certificate, client-key, tokenFile), absolute
// or relative to `origin`, is read under `files_root`, its links followed there. An exec credential plugin is refused:
// it would run here, not there.

#include <filesystem>
#include <string>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {

// `absolute`, a path on the other machine, below `files_root`, with each symbolic link on
// the way followed as that machine would: an absolute target starts again at `files_root`,
// never at this machine's / (at most 40 links; a path that does not exist stays as it is).
std::filesystem::path path_under(const std::filesystem::path& files_root, const std::filesystem::path& absolute);

Result<RestConfig> parse_kubeconfig_under(const std::string& yaml_text, const std::filesystem::path& origin,
                                          const std::filesystem::path& files_root);

}  // namespace nodeboot::kube
