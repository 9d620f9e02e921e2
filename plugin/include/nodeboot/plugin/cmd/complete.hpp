#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// Hidden `__complete ARGS... WORD`: what kubectl_complete-nodeboot runs (see completion.hpp).
int complete(std::vector<std::string> args, Io& io);

}  // namespace nodeboot::plugin::cmd
