#include "nodeboot/plugin/cmd/retry.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {
namespace {

struct Options : ipbcli::PerNodeOptions {
  Result<int> run(Io& io) const {
    return PerNodeOptions::run(io,
                               [](ipb::Context& ctx, const std::string& node) { return ipb::retry_node(ctx, node); });
  }
};

}  // namespace

cli::Flags retry_flags() {
  cli::Flags options("kubectl nodeboot retry",
                     "Start a new attempt on a node whose bootstrap failed, with the same Secret: attempt + 1, "
                     "state Pending, the schedule label back on.");
  ipbcli::add_per_node_flags(options);
  return options;
}

Result<int> retry(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
