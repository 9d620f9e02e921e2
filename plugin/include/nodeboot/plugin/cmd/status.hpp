#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

int status(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
