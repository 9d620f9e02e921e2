#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/util/result.hpp"

namespace nodeboot {

struct ProcessOptions {
  std::string stdin_data;                            // written to the child's stdin, then closed
  std::map<std::string, std::string> env_set;        // added to / replacing the inherited environment
  std::vector<std::string> env_unset;                // removed from the inherited environment
  std::optional<std::chrono::milliseconds> timeout;  // SIGKILL after this long
  std::string working_dir;
  // The child leads a process group of its own, and the timeout's SIGKILL goes to the whole
  // group: a shell's children, nsenter's podman, a payload's tools. Off by default: such a
  // child no longer gets the terminal's Ctrl-C with us.
  bool own_process_group = false;
};

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N (shell convention)
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) without a shell, feeding stdin and capturing both
// output streams without deadlock. Fails only when the program cannot be started.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The last `max_chars` of a command's output on one line (newlines become spaces, a
// leading "…" when cut), for a message that quotes what the command said.
std::string output_tail(std::string_view output, std::size_t max_chars);

}  // namespace nodeboot
