#pragma once

// A host path (absolute, as the host sees it) under the directory where this process finds
// the host's / (/host in the DaemonSet pod, / on the host, a temporary directory in tests).

#include <filesystem>

namespace nodeboot::agent {

inline std::filesystem::path under_root(const std::filesystem::path& root, const std::filesystem::path& absolute) {
  return root / absolute.relative_path();
}

}  // namespace nodeboot::agent
