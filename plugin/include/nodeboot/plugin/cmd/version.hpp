#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot version [--client] [-o json|yaml]
cxxopts::Options version_flags();
Result<int> version(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
