#pragma once

// kubectl's connection flags for every nodeboot binary and subcommand, on cxxopts.

#include <cxxopts.hpp>

#include "nodeboot/kube/config.hpp"

namespace nodeboot::kube {

void add_connection_flags(cxxopts::Options& options);
ConnectionFlags connection_flags(const cxxopts::ParseResult& parsed);

}  // namespace nodeboot::kube
