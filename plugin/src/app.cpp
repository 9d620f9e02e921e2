#include "nodeboot/plugin/app.hpp"

#include <ostream>

#include "nodeboot/plugin/cmd/complete.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::plugin {
namespace {

void print_help(std::ostream& out) {
  out << "kubectl nodeboot bootstraps Kubernetes nodes: in-place OS (re)bootstrap, node readiness\n"
         "checks for iSCSI and Intel QuickSync, and dedicated nodes for marooned pods.\n\n"
         "Usage:\n  kubectl nodeboot COMMAND [flags]\n\nCommands:\n";
  cli::list_commands(out, commands());
  out << "\nRun `kubectl nodeboot COMMAND --help` for a command's flags.\n"
         "Exit codes: 0 ok, 1 error, 2 usage, 3 some nodes failed.\n";
}

}  // namespace

int main(std::vector<std::string> argv, Io& io) {
  const std::vector<std::string> args(argv.size() > 1 ? argv.begin() + 1 : argv.end(), argv.end());
  if (!args.empty() && args[0] == "--version") {
    io.out << "kubectl-nodeboot " << version() << '\n';
    return exit_ok;
  }
  if (!args.empty() && args[0] == "__complete")  // hidden: what kubectl_complete-nodeboot runs
    return cmd::complete({args.begin() + 1, args.end()}, io);
  static const cli::Command root{.name = "kubectl nodeboot", .summary = "", .commands = commands, .help = print_help};
  return cli::dispatch(root, "kubectl nodeboot", args, io);
}

}  // namespace nodeboot::plugin
