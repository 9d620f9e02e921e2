#include "nodeboot/agent/app.hpp"

#include <ostream>

#include "nodeboot/agent/bootstrap_cmd.hpp"
#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/join.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::agent {
namespace {

std::span<const cli::Command> commands() {
  static const cli::Command table[] = {
      {"bootstrap", "Validate, download, apply and reboot into the requested OS (the IPB DaemonSet's command)",
       bootstrap_flags, bootstrap_command},
      {"resume", "Run or resume, on the host, the bootstrap steps that may reboot (the host unit's command)",
       resume_flags, resume_command},
      {"join", "Join this VM as the dedicated node of a marooned pod", join_flags, join_main},
  };
  return table;
}

void print_help(std::ostream& out) {
  out << "nodeboot-agent runs on a node: it carries out an in-place bootstrap from the node's\n"
         "bootstrap Secret, or joins a dedicated node for a marooned pod.\n\n"
         "Usage:\n  nodeboot-agent COMMAND [flags]\n\n"
         "Commands:\n";
  cli::list_commands(out, commands());
  out << "\nFlags:\n  -h, --help     Show this help\n      --version  Print the version\n";
}

}  // namespace

int main(std::vector<std::string> argv, std::ostream& out, std::ostream& err) {
  const std::vector<std::string> args(argv.size() > 1 ? argv.begin() + 1 : argv.end(), argv.end());
  cli::Io io{out, err};
  if (!args.empty() && (args[0] == "--version" || args[0] == "version")) {
    out << "nodeboot-agent " << version() << '\n';
    return cli::exit_ok;
  }
  static const cli::Command root{.name = "nodeboot-agent", .summary = "", .commands = commands, .help = print_help};
  return cli::dispatch(root, "nodeboot-agent", args, io);
}

}  // namespace nodeboot::agent
