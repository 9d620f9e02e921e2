#pragma once

// The flags façade's names only (flags.hpp), for headers that declare flag builders and
// readers without calling them.
namespace nodeboot::cli {
class Flags;
class Parsed;
}  // namespace nodeboot::cli
