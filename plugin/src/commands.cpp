#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/cluster.hpp"
#include "nodeboot/plugin/cmd/marooned.hpp"
#include "nodeboot/plugin/cmd/verify.hpp"
#include "nodeboot/plugin/cmd/version.hpp"

namespace nodeboot::plugin {

std::span<const CommandSpec> commands() {
  static const CommandSpec table[] = {
      {"verify", "Check nodes' OS, iSCSI and Intel QuickSync bootstrap (seeds 000/001)", cmd::verify},
      {"cluster", "Bootstrap a bare-metal Flatcar cluster from cluster.yaml (PXE, Matchbox, dnsmasq)", cmd::cluster},
      {"marooned", "Marooned pods: list, join-info, vmi", cmd::marooned},
      {"version", "Print the client and server versions", cmd::version},
  };
  return table;
}

}  // namespace nodeboot::plugin
