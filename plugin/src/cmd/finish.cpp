#include "nodeboot/plugin/cmd/finish.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {
namespace {

struct Options : ipbcli::PerNodeOptions {
  bool keep_secret = false;
  Result<void> complete(const cli::Parsed& parsed) {
    keep_secret = parsed.count("keep-secret") > 0;
    return PerNodeOptions::complete(parsed);
  }
  Result<int> run(Io& io) const {
    return PerNodeOptions::run(
        io, [this](ipb::Context& ctx, const std::string& node) { return ipb::finish_node(ctx, node, keep_secret); });
  }
};

}  // namespace

cli::Flags finish_flags() {
  cli::Flags options("kubectl nodeboot finish",
                     "Do the completion steps by hand: restore the recorded labels and taints, uncordon unless "
                     "the node was cordoned before, mark it Done and delete the bootstrap Secret.");
  options.add_options()("keep-secret", "Keep the node's bootstrap Secret");
  ipbcli::add_per_node_flags(options);
  return options;
}

Result<int> finish(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
