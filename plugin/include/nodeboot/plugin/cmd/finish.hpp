#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot finish NODE... | -l SELECTOR
cli::Flags finish_flags();
Result<int> finish(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
