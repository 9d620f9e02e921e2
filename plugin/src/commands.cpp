#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/abort.hpp"
#include "nodeboot/plugin/cmd/cluster.hpp"
#include "nodeboot/plugin/cmd/complete.hpp"
#include "nodeboot/plugin/cmd/finish.hpp"
#include "nodeboot/plugin/cmd/install.hpp"
#include "nodeboot/plugin/cmd/marooned.hpp"
#include "nodeboot/plugin/cmd/retry.hpp"
#include "nodeboot/plugin/cmd/start.hpp"
#include "nodeboot/plugin/cmd/status.hpp"
#include "nodeboot/plugin/cmd/verify.hpp"
#include "nodeboot/plugin/cmd/version.hpp"
#include "nodeboot/plugin/cmd/watch.hpp"

namespace nodeboot::plugin {

// The order here is the order of `kubectl nodeboot --help`: the in-place bootstrap
// workflow first, then node checks, bare-metal clusters, and the version.
std::span<const CommandSpec> commands() {
  static const CommandSpec table[] = {
      {"start", "In-place bootstrap: record, cordon, drain, Secret, schedule label (optionally rolling)", cmd::start},
      {"status", "Table of in-place bootstraps: state, progress, reason, attempt", cmd::status},
      {"watch", "Follow in-place bootstraps and put nodes back in service when they return", cmd::watch},
      {"abort", "Undo an in-place bootstrap: restore labels, taints and cordon as recorded", cmd::abort},
      {"retry", "Start a new attempt on a failed node with the same Secret", cmd::retry},
      {"finish", "Do the completion steps of an in-place bootstrap by hand", cmd::finish},
      {"verify", "Check nodes' OS, iSCSI and Intel QuickSync bootstrap (seeds 000/001)", cmd::verify},
      {"cluster", "Bootstrap a bare-metal Flatcar cluster from cluster.yaml (PXE, Matchbox, dnsmasq)", cmd::cluster},
      {"marooned", "Marooned pods: list, join-info, vmi", cmd::marooned},
      {"install", "Install or print the cluster side (webhook, agent, CRD) of this exact version", cmd::install},
      {"version", "Print the client and server versions", cmd::version},
      {"__complete", "Shell completion for kubectl_complete-nodeboot (hidden)", cmd::complete},
  };
  return table;
}

}  // namespace nodeboot::plugin
