#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// `kubectl nodeboot cluster init|generate|serve|wait|validate|teardown` (seed 002).
int cluster(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
