#pragma once

#include <string_view>

namespace nodeboot {

// The product version: CMake's project version plus `git describe` (cmake/version.cmake).
std::string_view version() noexcept;

}  // namespace nodeboot
