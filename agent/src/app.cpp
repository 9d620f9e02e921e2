#include "nodeboot/agent/app.hpp"

#include <ostream>

#include "nodeboot/agent/bootstrap_cmd.hpp"
#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/join.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::agent {
namespace {

void print_help(std::ostream& out) {
  out << "nodeboot-agent runs on a node: it carries out an in-place bootstrap from the node's\n"
         "bootstrap Secret, or joins a dedicated node for a marooned pod.\n\n"
         "Usage:\n  nodeboot-agent COMMAND [flags]\n\n"
         "Commands:\n"
         "  bootstrap   Validate, download, apply and reboot into the requested OS (the IPB DaemonSet's command)\n"
         "  resume      Run or resume, on the host, the bootstrap steps that may reboot (the host unit's command)\n"
         "  join        Join this VM as the dedicated node of a marooned pod\n\n"
         "Flags:\n  -h, --help     Show this help\n      --version  Print the version\n";
}

}  // namespace

int main(std::vector<std::string> argv, std::ostream& out, std::ostream& err) {
  if (argv.size() < 2 || argv[1] == "-h" || argv[1] == "--help") {
    print_help(out);
    return argv.size() < 2 ? 2 : 0;
  }
  if (argv[1] == "--version" || argv[1] == "version") {
    out << "nodeboot-agent " << version() << '\n';
    return 0;
  }
  if (argv[1] == "bootstrap")
    return bootstrap_command(std::vector<std::string>(argv.begin() + 2, argv.end()), out, err);
  if (argv[1] == "resume") return resume_command({argv.begin() + 2, argv.end()}, out, err);
  if (argv[1] == "join") return join_main({argv.begin() + 2, argv.end()}, out, err);
  err << "error: unknown command \"" << argv[1] << "\"; run 'nodeboot-agent --help'\n";
  return 2;
}

}  // namespace nodeboot::agent
