#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot abort NODE... | -l SELECTOR
cxxopts::Options abort_flags();
Result<int> abort(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
