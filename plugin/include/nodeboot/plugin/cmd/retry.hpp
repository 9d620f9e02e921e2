#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot retry NODE... | -l SELECTOR
cxxopts::Options retry_flags();
Result<int> retry(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
