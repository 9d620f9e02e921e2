#pragma once

#include <filesystem>
#include <string_view>

#include "nodeboot/util/result.hpp"

namespace nodeboot {

// Writes `content` (a token, a key) to `path` readable by the owner only (0600, also when
// the file existed with another mode), never following a symlink planted at `path`.
Result<void> write_private_file(const std::filesystem::path& path, std::string_view content);

// The same, atomically: written to `path`.tmp (created with its folder if need be), then
// renamed over `path`, so a reader sees the old file or the whole new one.
Result<void> replace_private_file(const std::filesystem::path& path, std::string_view content);

}  // namespace nodeboot
