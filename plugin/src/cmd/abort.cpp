#include "nodeboot/plugin/cmd/abort.hpp"

#include "ipb_cli.hpp"

namespace nodeboot::plugin::cmd {
namespace {

struct Options : ipbcli::PerNodeOptions {
  bool delete_secret = false;
  Result<void> complete(const cli::Parsed& parsed) {
    delete_secret = parsed.count("delete-secret") > 0;
    return PerNodeOptions::complete(parsed);
  }
  Result<int> run(Io& io) const {
    return PerNodeOptions::run(
        io, [this](ipb::Context& ctx, const std::string& node) { return ipb::abort_node(ctx, node, delete_secret); });
  }
};

}  // namespace

cli::Flags abort_flags() {
  cli::Flags options("kubectl nodeboot abort",
                     "Undo an in-place bootstrap: remove the schedule label and restore exactly the recorded "
                     "labels, taints and cordon. The bootstrap Secret is kept for inspection.");
  options.add_options()("delete-secret", "Also delete the node's bootstrap Secret");
  ipbcli::add_per_node_flags(options);
  return options;
}

Result<int> abort(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
