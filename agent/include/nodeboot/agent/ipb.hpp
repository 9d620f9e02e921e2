#pragma once

// The in-place bootstrap engine (seed 003, node side): preflight → download → apply →
// remove the schedule label → reboot, every step reported. It knows nothing of argv or
// of the Kubernetes API: the caller hands it the parsed bootstrap Secret, a Reporter and
// the one cluster action it needs (removing the schedule label), so tests drive it
// against real HTTPS servers without a cluster.

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::agent {

// nodeboot.io/state values (DESIGN.md).
enum class State { pending, validating, downloading, applying, rebooting, joining, done, failed };
std::string_view to_string(State state);

// UTC now as RFC 3339 (nodeboot.io/updated).
std::string rfc3339_now();

// One report: what the node is doing now. `reason` is a stable CamelCase word a script can
// branch on (empty while things go well), `message` a sentence a person can act on.
struct Step {
  State state = State::pending;
  int progress = 0;  // 0-100
  std::string reason;
  std::string message;
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  // Reporting must not stop the bootstrap: implementations log their own failures.
  virtual void report(const Step& step) = 0;
};

// Sends every step to several reporters (the node's annotations, the report URL, the log).
class FanOut final : public Reporter {
 public:
  void add(Reporter& r) { targets_.push_back(&r); }
  void report(const Step& step) override;

 private:
  std::vector<Reporter*> targets_;
};

// POSTs each step as JSON to the Secret's report-url with its report-token (as IBM
// Satellite reports to its cloud API).
class UrlReporter final : public Reporter {
 public:
  UrlReporter(bootstrap::Report target, std::string ca_pem, std::string node, std::string attempt,
              std::chrono::milliseconds timeout, std::ostream& log);
  void report(const Step& step) override;

 private:
  bootstrap::Report target_;
  std::string ca_pem_, node_, attempt_;
  std::chrono::milliseconds timeout_;
  std::ostream& log_;
};

struct BootstrapOptions {
  std::filesystem::path host_root = "/host";  // the host's / as mounted in the pod
  bool dry_run = false;                       // probe and download, change nothing on the host
  // Commands run with /bin/sh -c; hostPID lets nsenter reach the host's namespaces.
  std::string firstboot_command = "nsenter -t 1 -m -u -i -n -p -- machine-config-daemon firstboot-complete-machineconfig";
  std::string entrypoint_command =
      "nsenter -t 1 -m -u -i -n -p -- /bin/bash /var/lib/nodeboot/payload/entrypoint.sh";
  std::string reboot_command = "nsenter -t 1 -m -u -i -n -p -- systemctl reboot";
  std::chrono::milliseconds http_timeout{std::chrono::seconds(30)};
  // The OS automation runs yum updates and ansible: an hour is generous, not infinite.
  std::chrono::milliseconds command_timeout{std::chrono::hours(1)};
  int attempts = 4;                                // tries per transient network step
  std::chrono::milliseconds backoff{std::chrono::seconds(2)};  // doubled after each try
  std::uint64_t max_ignition_bytes = 64ull << 20;  // rendered configs are a few MiB
  std::uint64_t max_payload_bytes = 8ull << 30;    // an ansible payload with RPMs fits
};

struct Outcome {
  State state = State::failed;  // rebooting on success (the reboot is under way)
  std::string reason;
  std::string message;
};

// Runs the whole bootstrap once. `remove_schedule_label` runs after apply, before reboot.
Outcome run_bootstrap(const bootstrap::BootstrapSpec& spec, const BootstrapOptions& options, Reporter& reporter,
                      const std::function<Result<void>()>& remove_schedule_label, std::ostream& log);

}  // namespace nodeboot::agent
