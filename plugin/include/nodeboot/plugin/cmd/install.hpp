#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

int install(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
