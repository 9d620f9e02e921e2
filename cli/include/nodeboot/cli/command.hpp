#pragma once

// The command-line edge of every nodeboot binary, in kubectl's shape: a table of commands,
// each with its flag builder and its runner; one dispatcher parses, answers --help and
// turns an Error into `error: ...` and an exit code (kubectl's cmdutil.CheckErr). A runner
// is usually run_options<O>: O's complete (fill from the flags, arguments, environment),
// validate (pure checks, errors name the flag) and run (the work).

#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/cli/flags.hpp"
#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::cli {

// Exit codes, the same in every binary (`kubectl nodeboot --help` documents them).
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;
inline constexpr int exit_usage = 2;  // an invalid_input Error: a flag, an argument or a value
inline constexpr int exit_some_failed = 3;

// Where a command writes. Tests pass string streams.
struct Io {
  std::ostream& out;
  std::ostream& err;
};

struct Command {
  std::string_view name;
  std::string_view summary;
  // A leaf: its flags (and --help text), and what runs with them parsed.
  Flags (*flags)() = nullptr;
  Result<int> (*run)(const Parsed& parsed, Io& io) = nullptr;
  // A group: its commands, one level down, and its --help.
  std::span<const Command> (*commands)() = nullptr;
  void (*help)(std::ostream& out) = nullptr;
};

// Runs `command` on `args` (what follows its name); `path` is how it was called
// ("kubectl nodeboot cluster"). The one place that prints an Error: invalid_input is a
// usage error (exit 2, with the --help hint), any other kind exits 1.
int dispatch(const Command& command, std::string path, std::span<const std::string> args, Io& io);

// kubectl's one-line help of a group's commands: "  NAME  SUMMARY", hidden `__` names skipped.
void list_commands(std::ostream& out, std::span<const Command> commands);

// complete, validate, run: what most runners are.
template <typename O>
Result<int> run_options(const Parsed& parsed, Io& io) {
  O o;
  if (auto done = o.complete(parsed); !done) return fail(done.error());
  if (auto ok = o.validate(); !ok) return fail(ok.error());
  return o.run(io);
}

// kubectl's connection flags: --kubeconfig --context --cluster --user -n/--namespace
// -s/--server --tls-server-name --insecure-skip-tls-verify --certificate-authority
// --client-certificate --client-key --token --username --password --as --as-group --as-uid
// --request-timeout --disable-compression.
void add_connection_flags(Flags& options);
// Fails on a malformed --request-timeout (invalid_input, naming the flag).
Result<kube::ConnectionFlags> connection_flags(const Parsed& parsed);

// -o/--output: one of `allowed`; "" (not given: the command's own default) always passes.
// The error reads `--output must be json or yaml, not "x"`.
Result<void> check_output(std::string_view output, std::initializer_list<std::string_view> allowed);

// A string flag's value, "" when absent.
std::string value(const Parsed& parsed, const std::string& name);

}  // namespace nodeboot::cli
