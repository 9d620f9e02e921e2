#pragma once

#include "nodeboot/cli/command.hpp"

namespace nodeboot::agent {

// `nodeboot-agent bootstrap`: the IPB DaemonSet's command. Reads its node's bootstrap
// Secret, runs the engine (ipb.hpp) and reports through the node's annotations.
cli::Flags bootstrap_flags();
Result<int> bootstrap_command(const cli::Parsed& parsed, cli::Io& io);

}  // namespace nodeboot::agent
