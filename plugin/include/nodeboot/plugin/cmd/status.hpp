#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot status [NODE...]
cli::Flags status_flags();
Result<int> status(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
