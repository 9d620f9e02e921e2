#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace nodeboot::agent {

// `nodeboot-agent bootstrap`: the IPB DaemonSet's command. Reads its node's bootstrap
// Secret, runs the engine (ipb.hpp) and reports through the node's annotations.
int bootstrap_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace nodeboot::agent
