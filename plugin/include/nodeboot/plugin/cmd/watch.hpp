#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot watch [NODE...]
cxxopts::Options watch_flags();
Result<int> watch(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
