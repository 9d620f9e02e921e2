#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot start NODE... | -l SELECTOR --os rhcos|rhel ...
cxxopts::Options start_flags();
Result<int> start(const cxxopts::ParseResult& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
