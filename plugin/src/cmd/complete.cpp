#include "nodeboot/plugin/cmd/complete.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/completion/completion.hpp"

namespace nodeboot::plugin::cmd {
namespace {

// The cluster's node names, reached with the connection flags among `args`. Any failure
// (no kubeconfig, unreachable, forbidden) yields nothing: the shell shows no candidates
// rather than an error in the middle of the command line.
std::vector<std::string> list_nodes(const std::vector<std::string>& args) {
  cli::Flags options("kubectl nodeboot __complete");
  options.allow_unrecognised_options();  // the subcommand's own flags are not ours to check
  cli::add_connection_flags(options);
  std::vector<std::string> names;
  try {
    auto given = options.parse(args);
    if (!given) return names;
    auto parsed = cli::connection_flags(*given);
    if (!parsed) return names;
    auto& flags = *parsed;
    // Someone is waiting at the prompt: an unresponsive API server must not hang the shell
    // (kubectl's own completion has no limit; 5 s is well past a healthy LIST of nodes).
    if (flags.request_timeout.count() == 0) flags.request_timeout = std::chrono::seconds(5);
    auto client = kube::Client::connect(flags);
    if (!client) return names;
    auto listed = (*client)->list(kube::resources::nodes, "");
    if (!listed) return names;
    for (const auto& n : listed->value("items", nlohmann::json::array()))
      names.push_back(n["metadata"].value("name", ""));
  } catch (const std::exception&) {
    names.clear();
  }
  return names;
}

}  // namespace

int complete(std::vector<std::string> args, Io& io) {
  if (args.empty()) args.emplace_back();  // kubectl always passes the word, even when empty
  completion::write(io.out, completion::complete(args, list_nodes));
  return exit_ok;
}

}  // namespace nodeboot::plugin::cmd
