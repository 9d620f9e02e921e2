#include "nodeboot/plugin/cmd/abort.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {

int abort(std::vector<std::string> args, Io& io) {
  cxxopts::Options options("kubectl nodeboot abort",
                           "Undo an in-place bootstrap: remove the schedule label and restore exactly the recorded "
                           "labels, taints and cordon. The bootstrap Secret is kept for inspection.");
  options.add_options()("delete-secret", "Also delete the node's bootstrap Secret");
  return ipbcli::run_per_node(std::move(args), io, options,
                              [](ipb::Context& ctx, const std::string& node, const cxxopts::ParseResult& p) {
                                return ipb::abort_node(ctx, node, p.count("delete-secret") > 0);
                              });
}

}  // namespace nodeboot::plugin::cmd
