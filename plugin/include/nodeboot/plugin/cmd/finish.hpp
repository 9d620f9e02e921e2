#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot finish NODE... | -l SELECTOR
cxxopts::Options finish_flags();
Result<int> finish(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
