#pragma once

// Matchbox and dnsmasq as background services on a generated directory: started detached
// (their own session, logs under DIR/logs, pids under DIR/run), stopped by pid file.

#include <filesystem>
#include <string>
#include <vector>

#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::cluster {

struct ServeOptions {
  std::filesystem::path dir;  // what `generate` wrote
  std::string matchbox_address = "0.0.0.0:8080";
  std::string matchbox_program = "matchbox";  // name on PATH or a path
  std::string dnsmasq_program = "dnsmasq";
  bool with_dnsmasq = true;
  // The kubeconfig upload endpoint (upload.hpp), run as `kubectl-nodeboot cluster
  // upload-server` from this very binary.
  std::string upload_address = "0.0.0.0:8443";
  bool with_upload = true;
};

struct Started {
  std::string name;
  int pid = 0;
  std::filesystem::path log;
};

// Finds a program on PATH (and in /usr/sbin and /sbin, where Debian puts dnsmasq).
std::filesystem::path find_program(const std::string& name);

// Checks both programs exist before starting either; waits until Matchbox answers HTTP
// and dnsmasq is still running after reading its configuration.
Result<std::vector<Started>> serve(const ServeOptions& options);

// Stops what serve started in `dir` (SIGTERM, then SIGKILL after a grace period).
// Returns the names stopped; a missing pid file is not an error. When serve ran in another
// PID namespace (another container on the same output volume), its pids mean nothing
// here: teardown leaves a stop request in DIR/run and waits for the supervisor there
// (`serve --foreground` or `init`, which poll stop_requested) to stop them.
Result<std::vector<std::string>> teardown(const std::filesystem::path& dir);

// Whether a teardown from another PID namespace asked this one to stop.
bool stop_requested(const std::filesystem::path& dir);

}  // namespace nodeboot::plugin::cluster
