#pragma once

// machine-config-daemon from an image (seed 003: the DaemonSet "extracts the
// machine-config-daemon from the release image"). RHCOS ships no machine-config-daemon on
// the host; it lives in the release's machine-config-operator image. The host's own
// podman pulls that image by digest with the kubelet's pull secret, and the binary is
// copied out to a private path on the host, from where firstboot runs it.
//
// Every command runs on the host through a prefix (nsenter into PID 1's namespaces from
// the privileged hostPID pod), so the host's registries.conf (mirrors of a disconnected
// install), certs.d and container storage apply; the image stays in that storage, where
// the node's CRI-O finds it again for the machine-config-daemon pod after the reboot.
// The pull secret is passed to podman as a path, never as content.

#include <chrono>
#include <expected>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/bootstrap/url.hpp"

namespace nodeboot::agent {

// What went wrong, each with a stable reason word for nodeboot.io/reason.
enum class McdFailure {
  podman_unavailable,  // McdPodmanUnavailable: the prefix or podman cannot be started on the host
  pull_unauthorized,   // McdPullUnauthorized: the registry refused the pull secret (or wants one)
  pull_failed,         // McdPullFailed: no such image or digest, registry unreachable, TLS, timeout
  podman_failed,       // McdPodmanFailed: podman could not create, copy from or remove the container
  not_in_image,        // McdNotInImage: the image has no file at the MCD's path
  not_executable,      // McdNotExecutable: what the image holds there is not an executable file
  write_failed,        // McdWriteFailed: the private path on the host cannot be prepared
};
std::string_view reason(McdFailure failure);

struct McdError {
  McdFailure failure = McdFailure::pull_failed;
  std::string message;  // names the image, the step and podman's own words; never a credential
};

// Paths named "host path" are as seen on the host (/var/lib/...). This process reaches them
// under host_root; commands run through host_prefix reach them under command_root.
struct McdOptions {
  bootstrap::DigestRef image;  // the Secret's mcd-image
  // The agent's pod is privileged with hostPID: nsenter reaches the host's namespaces.
  std::vector<std::string> host_prefix{"nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"};
  std::filesystem::path host_root = "/host";  // the host's / as mounted in the pod
  // The host's / for commands after host_prefix: "/" once nsenter entered the host's mount
  // namespace; equal to host_root when commands run beside this process (no prefix).
  std::filesystem::path command_root = "/";
  // Host path of the kubelet's pull secret on RHCOS; pulled without one when it is absent.
  std::filesystem::path authfile = "/var/lib/kubelet/config.json";
  std::filesystem::path destination = "/var/lib/nodeboot/bin/machine-config-daemon";  // host path, mode 0700
  std::filesystem::path path_in_image = "/usr/bin/machine-config-daemon";             // where the MCO image has it
  std::string container_name = "nodeboot-mcd-extract";  // fixed: a rerun removes what a crash left behind
  // Podman's global options before the subcommand (tests: --root, --runroot, --storage-driver).
  std::vector<std::string> podman_global_args;
  std::optional<std::filesystem::path> cert_dir;  // host path for podman pull --cert-dir (a registry's CA)
  // The machine-config-operator image is about 1 GB: a slow link needs minutes, not hours.
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(20)};
  // create, cp and rm are local; a copy of the ~100 MB binary takes seconds.
  std::chrono::milliseconds command_timeout{std::chrono::minutes(2)};
};

// The podman commands in the order they run, each a full argv (prefix included): built
// without I/O so they can be checked exactly.
struct McdCommands {
  std::vector<std::string> pull;
  std::vector<std::string> remove;  // also run first, for a container a crashed run left
  std::vector<std::string> create;
  std::vector<std::string> copy;  // to the destination's temporary sibling
};
// `use_authfile`: whether --authfile is passed (the pull secret exists on the host).
McdCommands mcd_commands(const McdOptions& options, bool use_authfile);

// The temporary sibling the binary is copied to before it is checked and renamed (host path).
std::filesystem::path mcd_staging_path(const McdOptions& options);

// Pulls options.image on the host, copies machine-config-daemon out of it to
// options.destination (written aside, checked to be an executable file, mode 0700,
// renamed into place) and removes the container whatever happens. Returns the
// destination as commands run through host_prefix reach it (command_root/destination):
// the program firstboot runs. Each step is logged to `log`.
std::expected<std::filesystem::path, McdError> extract_mcd(const McdOptions& options, std::ostream& log);

}  // namespace nodeboot::agent
