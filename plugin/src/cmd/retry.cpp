#include "nodeboot/plugin/cmd/retry.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {

int retry(std::vector<std::string> args, Io& io) {
  cxxopts::Options options("kubectl nodeboot retry",
                           "Start a new attempt on a node whose bootstrap failed, with the same Secret: attempt + 1, "
                           "state Pending, the schedule label back on.");
  return ipbcli::run_per_node(std::move(args), io, options,
                              [](ipb::Context& ctx, const std::string& node, const cxxopts::ParseResult&) {
                                return ipb::retry_node(ctx, node);
                              });
}

}  // namespace nodeboot::plugin::cmd
