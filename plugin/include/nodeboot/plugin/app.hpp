#pragma once

#include <span>
#include <string>
#include <vector>

#include "nodeboot/cli/command.hpp"

namespace nodeboot::plugin {

// Exit codes, documented in `kubectl nodeboot --help`.
using cli::exit_error;
using cli::exit_ok;
using cli::exit_some_failed;
using cli::exit_usage;
using cli::Io;

// The command table (commands.cpp): drives dispatch, `--help` and shell completion.
std::span<const cli::Command> commands();

// Entry point shared by the executable and the black-box tests.
int main(std::vector<std::string> argv, Io& io);

}  // namespace nodeboot::plugin
