#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot install
cli::Flags install_flags();
Result<int> install(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
