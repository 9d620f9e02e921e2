#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

int retry(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
