#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot watch [NODE...]
cli::Flags watch_flags();
Result<int> watch(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
