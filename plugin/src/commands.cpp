#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/abort.hpp"
#include "nodeboot/plugin/cmd/cluster.hpp"
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
std::span<const cli::Command> commands() {
  static const cli::Command table[] = {
      {"start", "In-place bootstrap: record, cordon, drain, Secret, schedule label (optionally rolling)",
       cmd::start_flags, cmd::start},
      {"status", "Table of in-place bootstraps: state, progress, reason, attempt", cmd::status_flags, cmd::status},
      {"watch", "Follow in-place bootstraps and put nodes back in service when they return", cmd::watch_flags,
       cmd::watch},
      {"abort", "Undo an in-place bootstrap: restore labels, taints and cordon as recorded", cmd::abort_flags,
       cmd::abort},
      {"retry", "Start a new attempt on a failed node with the same Secret", cmd::retry_flags, cmd::retry},
      {"finish", "Do the completion steps of an in-place bootstrap by hand", cmd::finish_flags, cmd::finish},
      {"verify", "Check nodes' OS, iSCSI and Intel QuickSync bootstrap", cmd::verify_flags, cmd::verify},
      {"cluster", "Bootstrap a bare-metal Flatcar cluster from cluster.yaml (PXE, Matchbox, dnsmasq)", nullptr, nullptr,
       cmd::cluster_commands, cmd::cluster_help},
      {"marooned", "Marooned pods: list, join-info, vmi", nullptr, nullptr, cmd::marooned_commands, cmd::marooned_help},
      {"install", "Install or print the cluster side (webhook, agent, CRD) of this exact version", cmd::install_flags,
       cmd::install},
      {"version", "Print the client and server versions", cmd::version_flags, cmd::version},
  };
  return table;
}

}  // namespace nodeboot::plugin
