#include "nodeboot/plugin/cmd/finish.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {

int finish(std::vector<std::string> args, Io& io) {
  cxxopts::Options options("kubectl nodeboot finish",
                           "Do the completion steps by hand: restore the recorded labels and taints, uncordon unless "
                           "the node was cordoned before, mark it Done and delete the bootstrap Secret.");
  options.add_options()("keep-secret", "Keep the node's bootstrap Secret");
  return ipbcli::run_per_node(std::move(args), io, options,
                              [](ipb::Context& ctx, const std::string& node, const cxxopts::ParseResult& p) {
                                return ipb::finish_node(ctx, node, p.count("keep-secret") > 0);
                              });
}

}  // namespace nodeboot::plugin::cmd
