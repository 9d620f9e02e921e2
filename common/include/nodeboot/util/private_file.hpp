#pragma once

#include <filesystem>
#include <string_view>

#include "nodeboot/util/result.hpp"

namespace nodeboot {

// Writes `content` (a token, a key) to `path` readable by the owner only (0600, also when
// the file existed with another mode), never following a symlink planted at `path`.
Result<void> write_private_file(const std::filesystem::path& path, std::string_view content);

}  // namespace nodeboot
