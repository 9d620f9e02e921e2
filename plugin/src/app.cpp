#include "nodeboot/plugin/app.hpp"

#include <exception>
#include <ostream>

#include "nodeboot/version.hpp"

namespace nodeboot::plugin {
namespace {

void print_help(std::ostream& out) {
  out << "kubectl nodeboot bootstraps Kubernetes nodes: in-place OS (re)bootstrap, node readiness\n"
         "checks for iSCSI and Intel QuickSync, and dedicated nodes for marooned pods.\n\n"
         "Usage:\n  kubectl nodeboot COMMAND [flags]\n\nCommands:\n";
  for (const auto& c : commands()) {
    if (c.name.starts_with("__")) continue;  // hidden (e.g. shell completion)
    out << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.summary << '\n';
  }
  out << "\nRun `kubectl nodeboot COMMAND --help` for a command's flags.\n"
         "Exit codes: 0 ok, 1 error, 2 usage, 3 some nodes failed.\n";
}

}  // namespace

int main(std::vector<std::string> argv, Io& io) {
  std::vector<std::string> args(argv.size() > 1 ? argv.begin() + 1 : argv.end(), argv.end());
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_help(io.out);
    return args.empty() ? exit_usage : exit_ok;
  }
  if (args[0] == "--version") {
    io.out << "kubectl-nodeboot " << version() << '\n';
    return exit_ok;
  }
  for (const auto& c : commands()) {
    if (c.name != args[0]) continue;
    try {
      return c.run(std::vector<std::string>(args.begin() + 1, args.end()), io);
    } catch (const std::exception& e) {  // the application edge: library code returns Results
      io.err << "error: " << e.what() << '\n';
      return exit_error;
    }
  }
  io.err << "error: unknown command \"" << args[0] << "\" for \"kubectl nodeboot\"\n"
         << "Run 'kubectl nodeboot --help' for usage.\n";
  return exit_usage;
}

}  // namespace nodeboot::plugin
