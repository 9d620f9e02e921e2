#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nodeboot::plugin {

// Exit codes, documented in `kubectl nodeboot --help`.
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_some_failed = 3;

// Where a command writes. Tests pass string streams.
struct Io {
  std::ostream& out;
  std::ostream& err;
};

// A subcommand: its argv after the subcommand name, and where to write.
// Commands return an exit code; library errors are turned into `error: ...` by them or by main.
using CommandFn = int (*)(std::vector<std::string> args, Io& io);

struct CommandSpec {
  std::string_view name;
  std::string_view summary;
  CommandFn run;
};

// The dispatch table (commands.cpp): drives both dispatch and `--help`.
std::span<const CommandSpec> commands();

// Entry point shared by the executable and the black-box tests.
int main(std::vector<std::string> argv, Io& io);

}  // namespace nodeboot::plugin
