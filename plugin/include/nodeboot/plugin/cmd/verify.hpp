#pragma once

#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::cmd {

// kubectl nodeboot verify [NODE...] [-l SELECTOR] [--checks os,iscsi,quicksync] [-o table|wide|json|yaml]
//   [--deep [--deep-timeout 2m] [--deep-namespace kube-system] [--deep-image IMAGE]]
cli::Flags verify_flags();
Result<int> verify(const cli::Parsed& parsed, Io& io);

}  // namespace nodeboot::plugin::cmd
