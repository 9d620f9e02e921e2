#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// `kubectl nodeboot marooned list|join-info|vmi`.
std::span<const cli::Command> marooned_commands();
void marooned_help(std::ostream& out);

}  // namespace nodeboot::plugin::cmd
