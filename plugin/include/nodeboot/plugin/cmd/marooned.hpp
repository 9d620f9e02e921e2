#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot marooned list|join-info|vmi
int marooned(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
