#pragma once

// The part of an in-place bootstrap that may reboot the node (seed 003: RHCOS firstboot
// persists the config and reboots; a RHEL payload may reboot mid-way and go on), run on
// the host and resumed across reboots instead of started over.
//
// Progress lives on the host in /var/lib/nodeboot/progress.json (root only, written aside
// and renamed) as well as in the node's annotations. Each step is recorded as running,
// with the boot it started in, before its command runs. Finding a step running under an
// earlier boot means the step rebooted the node: a step that is expected to (firstboot,
// the reboot) is then done; a payload entrypoint runs again (NODEBOOT_ENTRYPOINT_RUN=n,
// at most max_entrypoint_runs), so a payload picks up where its own markers say. The
// final reboot's step, found under an earlier boot, ends the run: state Joining, and the
// completion controller in nodeboot-webhook takes it from there.
//
// In a cluster the DaemonSet pod hands these steps to a transient systemd unit on the host
// (`systemd-run` through nsenter into PID 1's namespaces), so deleting the pod, which the
// DaemonSet controller does once the schedule label is gone, cannot kill them; a unit
// enabled for boot (nodeboot-ipb-resume.service) runs `nodeboot-agent resume` after each
// reboot. The host side reports with the kubelet's own credentials (NodeRestriction lets
// a node annotate itself): a pod's token dies with the pod.

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/cli/command.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {
class Client;
}

namespace nodeboot::agent {

struct HostStep {
  std::string name;                // "firstboot", "entrypoint", "reboot"
  std::string command;             // /bin/sh -c on the host
  std::string status = "pending";  // pending | running | done
  std::string boot_id;             // the boot it last started in
  int runs = 0;
  bool done_by_reboot = false;  // ended by a reboot (the reboot step after it is then moot)
};

// Everything the host side needs, written by the pod before it hands over.
// The Secret's report-url for the host side, which keeps reporting after the hand-over. The
// token lives in progress.json (root only) while steps remain, and is dropped from it once
// they end.
struct HostReport {
  bootstrap::Report target;
  std::string ca_pem;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // BootstrapOptions::http_timeout
};

struct HostPlan {
  std::string node;
  std::string attempt;
  std::string os;  // rhcos | rhel
  std::vector<HostStep> steps;
  std::map<std::string, std::string> env;  // the entrypoint's WORKER_ID, CLUSTER_ID, REGION, …
  std::string kubeconfig;                  // on the host: the kubelet's
  std::string boot_id_file = "/proc/sys/kernel/random/boot_id";
  std::chrono::seconds command_timeout{std::chrono::hours(1)};  // BootstrapOptions::command_timeout, per step
  std::optional<HostReport> report;
  bool handed_over = false;  // a host unit owns the steps: a restarted pod does nothing
  bool finished = false;
};

inline constexpr std::string_view progress_path = "/var/lib/nodeboot/progress.json";
inline constexpr std::string_view host_binary_path = "/var/lib/nodeboot/bin/nodeboot-agent";
inline constexpr std::string_view resume_unit = "nodeboot-ipb-resume.service";
inline constexpr int max_entrypoint_runs = 5;

nlohmann::json to_json(const HostPlan& plan);
Result<HostPlan> host_plan_from_json(const nlohmann::json& doc);

// The plan under `host_root`, if there is one.
Result<std::optional<HostPlan>> load_plan(const std::filesystem::path& host_root);
Result<void> save_plan(const std::filesystem::path& host_root, const HostPlan& plan);

// Writes `contents` beside `path` and renames it over `path` (a reboot mid-write leaves the
// old file or the new one), with `perms`.
Result<void> write_atomically(const std::filesystem::path& path, std::string_view contents,
                              std::filesystem::perms perms);

// Runs the pending steps of `plan` (saving it after each change) until one reboots the
// node (the process usually dies with it; if the reboot command returns, Rebooting is
// the outcome) or all are done (Joining). Failures are reported and returned.
Outcome run_host_steps(const std::filesystem::path& host_root, HostPlan& plan, Reporter& reporter, std::ostream& log);

// Who hears the host steps, wherever they run (the host unit, or the pod resuming steps cut
// short in it): the node's annotations as its kubelet (when `kubelet` is given) and the
// plan's report-url (when the Secret had one).
class HostReporters final : public Reporter {
 public:
  HostReporters(kube::Client* kubelet, const HostPlan& plan, std::ostream& log);
  ~HostReporters() override;
  HostReporters(const HostReporters&) = delete;
  HostReporters& operator=(const HostReporters&) = delete;
  void report(const Step& step) override { fan_.report(step); }

 private:
  std::unique_ptr<Reporter> annotator_, poster_;
  FanOut fan_;
};

// `nodeboot-agent resume`: what the host unit runs.
cli::Flags resume_flags();
Result<int> resume_command(const cli::Parsed& parsed, cli::Io& io);

}  // namespace nodeboot::agent
