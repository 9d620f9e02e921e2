#pragma once

// Shell completion for `kubectl nodeboot`, the way kubectl 1.26+ completes plugins: kubectl
// runs `kubectl_complete-nodeboot ARGS... WORD`, which runs `kubectl-nodeboot __complete
// ARGS... WORD`; the answer is cobra's protocol (one candidate per line, an optional TAB and
// description, then `:<directive>`). What a command accepts is read from its own --help, so
// a new flag or subcommand completes without an edit here.

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace nodeboot::plugin::completion {

// cobra's ShellCompDirective bits, which kubectl passes through to the shell unchanged.
inline constexpr int directive_default = 0;  // the shell may fall back to file names
inline constexpr int directive_no_space = 2;
inline constexpr int directive_no_file = 4;

struct Candidate {
  std::string value;
  std::string description;  // one line; may be empty
};

struct Completion {
  std::vector<Candidate> candidates;
  int directive = directive_no_file;
};

struct Flag {
  std::string name;  // without the dashes
  char shorthand = 0;
  bool takes_value = false;  // `--name arg`: the next word is its value
  std::string description;
};

// What one command's --help (cxxopts' layout, or the table layout of a command with
// subcommands) says about it.
struct CommandHelp {
  std::vector<Flag> flags;
  std::vector<Candidate> subcommands;  // its "Commands:" section
  std::string positional;              // the usage line after [OPTION...], e.g. "NODE... | -l SELECTOR"
  bool takes_nodes() const { return positional.find("NODE") != std::string::npos; }
};
CommandHelp parse_help(std::string_view help);

// Node names for the command line `args` (which may carry --kubeconfig, --context, ...).
// Returns none on any error: completion never prints one.
using NodeLister = std::function<std::vector<std::string>(const std::vector<std::string>& args)>;

// `args`: the words after `kubectl nodeboot`; the last is the word being completed ("" for
// a fresh one).
Completion complete(const std::vector<std::string>& args, const NodeLister& list_nodes);

// cobra's wire format.
void write(std::ostream& out, const Completion& completion);

}  // namespace nodeboot::plugin::completion
