#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/abort.hpp"
#include "nodeboot/plugin/cmd/finish.hpp"
#include "nodeboot/plugin/cmd/retry.hpp"
#include "nodeboot/plugin/cmd/start.hpp"
#include "nodeboot/plugin/cmd/status.hpp"
#include "nodeboot/plugin/cmd/version.hpp"
#include "nodeboot/plugin/cmd/watch.hpp"

namespace nodeboot::plugin {

std::span<const CommandSpec> commands() {
  static const CommandSpec table[] = {
      {"version", "Print the client and server versions", cmd::version},
      {"start", "In-place bootstrap: record, cordon, drain, Secret, schedule label (optionally rolling)", cmd::start},
      {"status", "Table of in-place bootstraps: state, progress, reason, attempt", cmd::status},
      {"watch", "Follow in-place bootstraps and put nodes back in service when they return", cmd::watch},
      {"abort", "Undo an in-place bootstrap: restore labels, taints and cordon as recorded", cmd::abort},
      {"retry", "Start a new attempt on a failed node with the same Secret", cmd::retry},
      {"finish", "Do the completion steps of an in-place bootstrap by hand", cmd::finish},
  };
  return table;
}

}  // namespace nodeboot::plugin
