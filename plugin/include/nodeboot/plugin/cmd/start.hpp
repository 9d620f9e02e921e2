#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot start NODE... | -l SELECTOR --os rhcos|rhel ...
cli::Flags start_flags();
Result<int> start(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
