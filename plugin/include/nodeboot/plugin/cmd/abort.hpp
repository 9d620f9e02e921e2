#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot abort NODE... | -l SELECTOR
cli::Flags abort_flags();
Result<int> abort(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
