#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot install
cxxopts::Options install_flags();
Result<int> install(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
