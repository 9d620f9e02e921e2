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

#include "nodeboot/agent/mcd.hpp"
#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::agent {

// nodeboot.io/state values (DESIGN.md).
enum class State { pending, validating, downloading, applying, rebooting, joining, done, failed };
std::string_view to_string(State state);

// One report: what the node is doing now. `reason` is a stable CamelCase word a script can
// branch on (empty while things go well), `message` a sentence a person can act on.
struct Step {
  State state = State::pending;
  int progress = 0;  // 0-100
  std::string reason;
  std::string message;
  std::string boot_id{};  // the host's boot when known (host steps): nodeboot.io/boot-id
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

// The CA the report-url is verified against: the Secret's ca.crt (none for RHEL without one:
// the system store).
std::string report_ca_pem(const bootstrap::BootstrapSpec& spec);

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
  // The host's commands (/bin/sh -c), run on the host: by the host unit, or, in-process,
  // behind host_exec.
  std::string firstboot_command = "machine-config-daemon firstboot-complete-machineconfig";
  std::string entrypoint_command = "/bin/bash /var/lib/nodeboot/payload/entrypoint.sh";
  std::string reboot_command = "systemctl reboot";
  // Prefix that puts a command into the host's namespaces (hostPID lets nsenter reach PID 1);
  // "" runs it as is.
  std::string host_exec;
  // The transient systemd unit the steps that may reboot are handed to (its name gets
  // "-<attempt>"); "" runs them in this process (tests; a host without systemd), resumable
  // all the same from the progress file.
  std::string host_unit;
  // The kubelet's kubeconfig, a host path (the host unit reports as the kubelet); `bootstrap`
  // finds it (find_kubelet_kubeconfig) unless --host-kubeconfig names it.
  std::string host_kubeconfig = "/var/lib/kubelet/kubeconfig";
  // The agent binary copied to the host for the host unit. The image ships a portable build
  // (glibc >= 2.34, nothing else shared) at /usr/lib/nodeboot/host/nodeboot-agent, which the
  // DaemonSet names; "" = this very binary (/proc/self/exe: tests, a host like the image).
  std::filesystem::path host_agent;
  std::filesystem::path host_root_on_host = "/";  // where the host unit finds the host's / (tests: a fake root)
  std::string boot_id_file = "/proc/sys/kernel/random/boot_id";
  std::string node, attempt;  // recorded in the progress file for the host unit
  // RHCOS with mcd-image: how machine-config-daemon is pulled and copied out (mcd.hpp); its
  // image, host_root, host prefix and command root are filled from the Secret and the above.
  McdOptions mcd;
  std::chrono::milliseconds http_timeout{std::chrono::seconds(30)};
  // The OS automation runs yum updates and ansible: an hour is generous, not infinite.
  std::chrono::milliseconds command_timeout{std::chrono::hours(1)};
  int attempts = 4;                                            // tries per transient network step
  std::chrono::milliseconds backoff{std::chrono::seconds(2)};  // doubled after each try
  std::uint64_t max_ignition_bytes = 64ull << 20;              // rendered configs are a few MiB
  std::uint64_t max_payload_bytes = 8ull << 30;                // an ansible payload with RPMs fits
};

struct Outcome {
  // On success: applying (handed to the host unit), rebooting (the reboot is under way) or
  // joining (back on a new boot).
  State state = State::failed;
  std::string reason;
  std::string message;
};

// Runs the bootstrap: preflight, download and staging here, then, after
// `remove_schedule_label`, the steps that may reboot (host_steps.hpp): handed to the host
// unit, or run in this process when options.host_unit is "". Once the label is gone the
// DaemonSet deletes the pod and its pod-bound token stops working, so every report from then
// on goes to `after_label` (the node's kubelet identity) when given.
Outcome run_bootstrap(const bootstrap::BootstrapSpec& spec, const BootstrapOptions& options, Reporter& reporter,
                      const std::function<Result<void>()>& remove_schedule_label, std::ostream& log,
                      Reporter* after_label = nullptr);

}  // namespace nodeboot::agent
