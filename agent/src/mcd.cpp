#include "nodeboot/agent/mcd.hpp"

#include <array>
#include <fstream>
#include <ostream>

#include "nodeboot/agent/host_path.hpp"
#include "nodeboot/util/process.hpp"

namespace nodeboot::agent {
namespace fs = std::filesystem;

std::string_view reason(McdFailure failure) {
  switch (failure) {
    case McdFailure::podman_unavailable:
      return "McdPodmanUnavailable";
    case McdFailure::pull_unauthorized:
      return "McdPullUnauthorized";
    case McdFailure::pull_failed:
      return "McdPullFailed";
    case McdFailure::podman_failed:
      return "McdPodmanFailed";
    case McdFailure::not_in_image:
      return "McdNotInImage";
    case McdFailure::not_executable:
      return "McdNotExecutable";
    case McdFailure::write_failed:
      return "McdWriteFailed";
  }
  return "McdFailed";
}

namespace {

std::vector<std::string> podman(const McdOptions& o, std::initializer_list<std::string> args) {
  std::vector<std::string> argv = o.host_prefix;
  argv.emplace_back("podman");
  argv.insert(argv.end(), o.podman_global_args.begin(), o.podman_global_args.end());
  argv.insert(argv.end(), args);
  return argv;
}

std::string quoted(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::unexpected<McdError> failure(McdFailure f, std::string message) {
  return std::unexpected(McdError{f, std::move(message)});
}

bool contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

// 126/127: the shell convention nsenter follows when it cannot execute the program.
constexpr int exit_cannot_execute = 126;
constexpr int exit_not_found = 127;
// Enough of podman's stderr to show its error line, short enough for an annotation.
constexpr std::size_t stderr_tail = 400;

// Runs one podman command; the classification of a non-zero exit is the caller's.
struct Ran {
  bool started = false;
  ProcessResult result;
  std::string error;  // why it did not start
};

Ran run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, std::ostream& log) {
  log << "nodeboot-agent: mcd: " << quoted(argv) << std::endl;
  ProcessOptions po;
  po.timeout = timeout;
  po.own_process_group = true;  // a timeout kills podman too, not only nsenter
  auto r = run_process(argv, po);
  if (!r) return Ran{false, {}, r.error().message};
  return Ran{true, std::move(*r), {}};
}

// The start of what an executable file holds: an ELF binary or a script's #! line.
bool looks_executable(const fs::path& file) {
  std::array<char, 4> head{};
  std::ifstream in(file, std::ios::binary);
  in.read(head.data(), head.size());
  const auto n = in.gcount();
  const std::string_view got(head.data(), static_cast<std::size_t>(n));
  return got == std::string_view(
                    "\x7f"
                    "ELF",
                    4) ||
         got.starts_with("#!");
}

// Removes the container on every path out of extract_mcd.
class ContainerGuard {
 public:
  ContainerGuard(const McdOptions& o, std::vector<std::string> remove, std::ostream& log)
      : o_(o), remove_(std::move(remove)), log_(log) {}
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;
  ~ContainerGuard() {
    const auto r = run(remove_, o_.command_timeout, log_);
    if (!r.started || r.result.exit_code != 0)
      log_ << "nodeboot-agent: mcd: could not remove container " << o_.container_name << ": "
           << (r.started ? output_tail(r.result.err, stderr_tail) : r.error) << std::endl;
  }

 private:
  const McdOptions& o_;
  std::vector<std::string> remove_;
  std::ostream& log_;
};

}  // namespace

fs::path mcd_staging_path(const McdOptions& options) {
  return options.destination.parent_path() / ("." + options.destination.filename().string() + ".nodeboot-tmp");
}

McdCommands mcd_commands(const McdOptions& o, bool use_authfile) {
  McdCommands c;
  c.pull = podman(o, {"pull", "--quiet"});
  if (use_authfile) c.pull.insert(c.pull.end(), {"--authfile", under_root(o.command_root, o.authfile).string()});
  if (o.cert_dir) c.pull.insert(c.pull.end(), {"--cert-dir", under_root(o.command_root, *o.cert_dir).string()});
  c.pull.push_back(o.image.text);
  c.remove = podman(o, {"rm", "--force", "--ignore", o.container_name});
  // Never started: the command only satisfies images without one; --pull=never uses what
  // the pull above verified against the digest.
  c.create = podman(o, {"create", "--pull=never", "--name", o.container_name, o.image.text, o.path_in_image.string()});
  c.copy = podman(o, {"cp", o.container_name + ":" + o.path_in_image.string(),
                      under_root(o.command_root, mcd_staging_path(o)).string()});
  return c;
}

std::expected<fs::path, McdError> extract_mcd(const McdOptions& o, std::ostream& log) {
  const std::string& image = o.image.text;
  std::error_code ec;
  const bool has_authfile = fs::is_regular_file(under_root(o.host_root, o.authfile), ec);
  if (!has_authfile)
    log << "nodeboot-agent: mcd: no pull secret at " << o.authfile.string() << " on the host; pulling without one"
        << std::endl;
  const auto commands = mcd_commands(o, has_authfile);

  const auto pulled = run(commands.pull, o.pull_timeout, log);
  const auto not_started = [&](const Ran& r) {
    return failure(McdFailure::podman_unavailable,
                   "cannot run podman on the host (" + quoted(o.host_prefix) + (o.host_prefix.empty() ? "" : " ") +
                       "podman): " + (r.started ? output_tail(r.result.err, stderr_tail) : r.error) +
                       "; the agent's pod must be privileged with hostPID, on a host with podman (RHCOS has it)");
  };
  // nsenter's own failures (not privileged, no hostPID) start with its name.
  if (!pulled.started || pulled.result.exit_code == exit_cannot_execute || pulled.result.exit_code == exit_not_found ||
      pulled.result.err.starts_with("nsenter: "))
    return not_started(pulled);
  if (pulled.result.timed_out)
    return failure(McdFailure::pull_failed, "podman pull " + image + " did not finish within " +
                                                std::to_string(o.pull_timeout.count() / 1000) + "s");
  if (pulled.result.exit_code != 0) {
    const auto& err = pulled.result.err;
    const std::string said = output_tail(err, stderr_tail);
    if (contains(err, "unauthorized") || contains(err, "authentication required"))
      return failure(McdFailure::pull_unauthorized,
                     "podman pull " + image + ": the registry refused " +
                         (has_authfile ? "the pull secret " + o.authfile.string()
                                       : "an anonymous pull (no pull secret at " + o.authfile.string() + ")") +
                         "; give the node's pull secret access to this repository: " + said);
    return failure(McdFailure::pull_failed, "podman pull " + image + ": " + said);
  }

  // Prepare the private directory before anything is copied: a failure here leaves no container.
  const fs::path dest = under_root(o.host_root, o.destination);
  const fs::path staging = under_root(o.host_root, mcd_staging_path(o));
  fs::create_directories(dest.parent_path(), ec);
  if (!ec) fs::permissions(dest.parent_path(), fs::perms::owner_all, ec);  // root only, like the binary
  if (!ec) fs::remove_all(staging, ec);  // a crashed run's copy would receive this one inside it
  if (ec)
    return failure(McdFailure::write_failed,
                   "cannot prepare " + o.destination.parent_path().string() + " on the host: " + ec.message());

  (void)run(commands.remove, o.command_timeout, log);  // a container left by a crashed run
  const auto created = run(commands.create, o.command_timeout, log);
  if (!created.started || created.result.exit_code != 0 || created.result.timed_out)
    return failure(McdFailure::podman_failed,
                   "podman create from " + image + ": " +
                       (created.started ? output_tail(created.result.err, stderr_tail) : created.error));
  const ContainerGuard guard(o, commands.remove, log);

  const auto copied = run(commands.copy, o.command_timeout, log);
  if (!copied.started || copied.result.exit_code != 0 || copied.result.timed_out) {
    fs::remove_all(staging, ec);
    const std::string said = copied.started ? output_tail(copied.result.err, stderr_tail) : copied.error;
    // podman cp: `"<path>" could not be found on container <name>: no such file or directory`
    if (copied.started &&
        (contains(copied.result.err, "could not be found") || contains(copied.result.err, "no such file or directory")))
      return failure(McdFailure::not_in_image, image + " has no " + o.path_in_image.string() +
                                                   ": mcd-image must be the release's machine-config-operator "
                                                   "image (`oc adm release info --image-for=machine-config-operator "
                                                   "RELEASE`), not the release image itself");
    return failure(McdFailure::podman_failed, "podman cp " + o.path_in_image.string() + " from " + image + ": " + said);
  }

  // Checked where it landed, without following a link: the image decides what this is.
  const auto status = fs::symlink_status(staging, ec);
  const bool regular = !ec && fs::is_regular_file(status);
  if (!regular || fs::file_size(staging, ec) == 0 || !looks_executable(staging)) {
    const std::string what = !regular ? (fs::is_symlink(status)     ? "a symbolic link"
                                         : fs::is_directory(status) ? "a directory"
                                                                    : "not a regular file")
                                      : "neither an ELF binary nor a #! script";
    fs::remove_all(staging, ec);
    return failure(McdFailure::not_executable,
                   o.path_in_image.string() + " in " + image + " is " + what + ", not an executable file");
  }
  fs::permissions(staging, fs::perms::owner_all, ec);
  if (!ec) fs::rename(staging, dest, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(staging, ignored);
    return failure(McdFailure::write_failed,
                   "cannot install " + o.destination.string() + " on the host: " + ec.message());
  }
  log << "nodeboot-agent: mcd: " << o.destination.string() << " extracted from " << image << std::endl;
  return under_root(o.command_root, o.destination);
}

}  // namespace nodeboot::agent
