#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot version [--client] [-o json|yaml]
cli::Flags version_flags();
Result<int> version(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
