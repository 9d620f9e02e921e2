#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// `kubectl nodeboot cluster init|generate|serve|wait|validate|teardown`: a bare-metal cluster.
std::span<const cli::Command> cluster_commands();
void cluster_help(std::ostream& out);

}  // namespace nodeboot::plugin::cmd
