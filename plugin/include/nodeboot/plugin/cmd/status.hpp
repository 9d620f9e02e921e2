#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot status [NODE...]
cxxopts::Options status_flags();
Result<int> status(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
