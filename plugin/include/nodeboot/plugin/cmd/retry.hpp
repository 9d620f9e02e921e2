#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot retry NODE... | -l SELECTOR
cli::Flags retry_flags();
Result<int> retry(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
