#pragma once

// Shared by the unit, integration and e2e layers.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "nodeboot/util/process.hpp"

namespace nodeboot::test {

// A directory removed (recursively) when it goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

std::filesystem::path source_dir();
std::filesystem::path bin_dir();  // kubectl-nodeboot, nodeboot-webhook, nodeboot-agent

// PATH with bin_dir() first, so `kubectl nodeboot` dispatches to the binary under test.
std::string path_with_bin_dir();

std::string read_file(const std::filesystem::path& p);

// Runs a command, failing the test (BOOST_REQUIRE) if it cannot be started.
ProcessResult run(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The e2e cluster started by tests/cluster/up.sh (the ctest fixture).
struct Cluster {
  std::filesystem::path state_dir;
  std::filesystem::path kubeconfig;  // cluster-admin, for kubectl and for nodeboot
  // kubectl (or `kubectl nodeboot ...`) with KUBECONFIG and PATH set for the test cluster; throws a test failure if
  // kubectl cannot start.
  ProcessResult kubectl(const std::vector<std::string>& args, const std::string& stdin_data = {}) const;
  // Same, but the test fails unless kubectl exits 0; returns stdout.
  std::string kubectl_ok(const std::vector<std::string>& args, const std::string& stdin_data = {}) const;
  // A kubeconfig (JSON text) for this cluster as a ServiceAccount: a fresh token of it, the
  // cluster's server and CA (what a pod of that account would use).
  std::string service_account_kubeconfig(const std::string& ns, const std::string& account) const;
};
const Cluster& cluster();

// A name unique to this test process, for objects the test creates (DNS-1123).
std::string unique_name(const std::string& prefix);

// A child process with its output in a log file, stopped (SIGTERM, then SIGKILL) on scope
// exit, and killed by the kernel if this test process dies first (a crash, ctest's
// timeout): a server left behind would hold its port and state past the test. argv[0]
// is a path (execv, no PATH search).
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~Background();  // stop(SIGTERM)
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  // Sends `sig` and waits (SIGKILL after 20 s); returns the wait status.
  int stop(int sig);
  // Whether the process has ended (reaped here; stop() is then a no-op).
  bool exited();
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close), for a
// server the test starts by command line.
int free_loopback_port();

}  // namespace nodeboot::test

#include <chrono>
#include <functional>
#include <thread>

namespace nodeboot::test {

// Re-evaluates `done` every `interval` until it holds or `timeout` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                       std::chrono::milliseconds interval = std::chrono::milliseconds(200)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace nodeboot::test
