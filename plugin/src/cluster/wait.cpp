#include "nodeboot/plugin/cluster/wait.hpp"

namespace nodeboot::plugin::cluster {

Result<std::filesystem::path> wait_for_cluster(const WaitOptions&) {
  return fail(ErrorKind::internal, "cluster wait needs the watch client (issue #3), not merged yet");
}

}  // namespace nodeboot::plugin::cluster
