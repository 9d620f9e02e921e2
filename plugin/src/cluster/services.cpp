#include "nodeboot/plugin/cluster/services.hpp"

#include "nodeboot/util/file.hpp"
#include "nodeboot/util/private_file.hpp"
#include "nodeboot/util/signals.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace nodeboot::plugin::cluster {
namespace fs = std::filesystem;
namespace {

using namespace std::chrono_literals;

bool alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// Reaps the child if it is ours (serve's own process), so a crashed service is not a zombie.
bool still_running(int pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  return alive(pid);
}

std::string cmdline_of(int pid) { return read_file("/proc/" + std::to_string(pid) + "/cmdline").value_or(""); }

Result<int> spawn_detached(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // Its own session: the service outlives this command and the terminal's signals.
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  reset_signals_for_child(attr);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ::posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(ErrorKind::io, "cannot start " + argv[0] + ": " + std::strerror(rc));
  return static_cast<int>(pid);
}

bool tcp_answers(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";  // listening everywhere: ask loopback
  int port = std::atoi(address.c_str() + colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

// The last two lines: dnsmasq says why on the line before "FAILED to start up".
std::string log_tail(const fs::path& log) {
  std::ifstream in(log);
  std::string line, prev, last;
  while (std::getline(in, line))
    if (!line.empty()) prev = std::exchange(last, line);
  if (last.empty()) return "";
  return " (log: " + (prev.empty() ? "" : prev + " / ") + last + ")";
}

// This process's PID namespace, as /proc names it ("pid:[4026531836]").
std::string pid_namespace() {
  std::error_code ec;
  auto target = fs::read_symlink("/proc/self/ns/pid", ec);
  return ec ? std::string() : target.string();
}

// A file of one line this program wrote (a PID, a PID namespace); "" when unreadable.
std::string read_line(const fs::path& p) { return std::string(trim_space(read_file(p).value_or(""))); }

// What each service's command line holds, checked before a pid is signalled (pids are reused).
struct Service {
  const char* name;
  const char* marker;
};
constexpr Service services[] = {{"dnsmasq", "dnsmasq"}, {"upload", "upload-server"}, {"matchbox", "matchbox"}};

void stop_pid(int pid) {
  ::kill(pid, SIGTERM);
  for (auto waited = 0ms; waited < 5s && still_running(pid); waited += 50ms) std::this_thread::sleep_for(50ms);
  if (still_running(pid)) ::kill(pid, SIGKILL);
}

}  // namespace

fs::path find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? fs::path(name) : fs::path();
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    auto candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

Result<std::vector<Started>> serve(const ServeOptions& options) {
  const fs::path dir = fs::absolute(options.dir);
  if (!fs::exists(dir / "groups") || !fs::exists(dir / "profiles") || !fs::exists(dir / "ignition"))
    return fail(
        ErrorKind::invalid_input,
        dir.string() +
            " has no generated configs (groups/, profiles/, ignition/); run `kubectl nodeboot cluster generate` first");
  if (options.with_dnsmasq && !fs::exists(dir / "dnsmasq.conf"))
    return fail(ErrorKind::invalid_input,
                dir.string() + "/dnsmasq.conf is missing; run `kubectl nodeboot cluster generate` first");

  // Both programs must exist before either starts: nothing half-started.
  auto matchbox = find_program(options.matchbox_program);
  auto dnsmasq = options.with_dnsmasq ? find_program(options.dnsmasq_program) : fs::path("-");
  std::string missing;
  if (matchbox.empty())
    missing += "matchbox (\"" + options.matchbox_program +
               "\") is not installed or not on PATH: use the nodeboot bootstrap image, or build it with "
               "tests/cluster/build-tools.sh; ";
  if (dnsmasq.empty())
    missing +=
        "dnsmasq (\"" + options.dnsmasq_program + "\") is not installed or not on PATH: apt-get install dnsmasq-base; ";
  if (!missing.empty()) return fail(ErrorKind::invalid_input, missing.substr(0, missing.size() - 2));

  for (const auto& svc : services)
    if (auto pidfile = dir / "run" / (std::string(svc.name) + ".pid"); fs::exists(pidfile)) {
      const int pid = std::atoi(read_line(pidfile).c_str());
      const std::string name = svc.name;
      if (alive(pid))
        return fail(ErrorKind::conflict, std::string(name) + " already runs for " + dir.string() + " (pid " +
                                             std::to_string(pid) + "); run `kubectl nodeboot cluster teardown` first");
    }

  std::error_code ec;
  fs::create_directories(dir / "run", ec);
  fs::remove(dir / "run" / "stop-request", ec);
  fs::create_directories(dir / "logs", ec);
  fs::create_directories(dir / "assets", ec);  // Matchbox serves /assets from here (optional local kernels)
  if (ec) return fail(ErrorKind::io, "cannot create " + (dir / "run").string() + ": " + ec.message());

  {
    std::ofstream ns(dir / "run" / "pidns", std::ios::trunc);
    ns << pid_namespace() << '\n';
  }
  std::vector<Started> started;
  auto record = [&](const std::string& name, int pid, const fs::path& log) -> Result<void> {
    std::ofstream out(dir / "run" / (name + ".pid"), std::ios::trunc);
    out << pid << '\n';
    if (!out) return fail(ErrorKind::io, "cannot write " + (dir / "run" / (name + ".pid")).string());
    started.push_back({name, pid, log});
    return {};
  };
  auto undo = [&] {
    for (const auto& s : started) {
      stop_pid(s.pid);
      fs::remove(dir / "run" / (s.name + ".pid"), ec);
    }
  };

  // Started and recorded, or nothing of this serve left running.
  auto start = [&](const std::string& name, const std::vector<std::string>& argv) -> Result<int> {
    auto log = dir / "logs" / (name + ".log");
    auto pid = spawn_detached(argv, log);
    if (!pid) {
      undo();
      return pid;
    }
    if (auto r = record(name, *pid, log); !r) {
      ::kill(*pid, SIGKILL);
      undo();
      return std::unexpected(r.error());
    }
    return pid;
  };

  auto mlog = dir / "logs" / "matchbox.log";
  auto mpid = start("matchbox", {matchbox.string(), "-address", options.matchbox_address, "-data-path", dir.string(),
                                 "-assets-path", (dir / "assets").string(), "-log-level", "info"});
  if (!mpid) return std::unexpected(mpid.error());
  // Matchbox reads the data directory per request; listening means ready. 10 s covers a
  // cold start on a loaded machine; it usually takes a few milliseconds.
  bool up = false;
  for (auto waited = 0ms; waited < 10s && !up; waited += 50ms) {
    if (!still_running(*mpid)) break;
    up = tcp_answers(options.matchbox_address);
    if (!up) std::this_thread::sleep_for(50ms);
  }
  if (!up) {
    undo();
    return fail(ErrorKind::io, "matchbox did not start listening on " + options.matchbox_address + log_tail(mlog) +
                                   "; see " + mlog.string());
  }

  if (options.with_upload) {
    std::error_code self_ec;
    const auto self = fs::read_symlink("/proc/self/exe", self_ec);
    auto ulog = dir / "logs" / "upload.log";
    auto upid = start(
        "upload", {self.string(), "cluster", "upload-server", "-o", dir.string(), "--address", options.upload_address});
    if (!upid) return std::unexpected(upid.error());
    bool listening = false;
    for (auto waited = 0ms; waited < 10s && !listening && still_running(*upid); waited += 50ms) {
      listening = tcp_answers(options.upload_address);
      if (!listening) std::this_thread::sleep_for(50ms);
    }
    if (!listening) {
      undo();
      return fail(ErrorKind::io, "the kubeconfig upload endpoint did not start listening on " + options.upload_address +
                                     log_tail(ulog) + "; see " + ulog.string());
    }
  }

  if (options.with_dnsmasq) {
    auto dlog = dir / "logs" / "dnsmasq.log";
    auto dpid = start("dnsmasq", {dnsmasq.string(), "--keep-in-foreground",
                                  "--conf-file=" + (dir / "dnsmasq.conf").string(), "--log-facility=-"});
    if (!dpid) return std::unexpected(dpid.error());
    // dnsmasq exits at once on a bad config or a port it cannot bind (67 and 69 need
    // root or CAP_NET_BIND_SERVICE); one second is ample for that to show.
    for (auto waited = 0ms; waited < 1s && still_running(*dpid); waited += 50ms) std::this_thread::sleep_for(50ms);
    if (!still_running(*dpid)) {
      undo();
      return fail(ErrorKind::io, "dnsmasq exited at start" + log_tail(dlog) + "; see " + dlog.string() +
                                     " (it needs root or NET_ADMIN + NET_BIND_SERVICE for ports 67 and 69)");
    }
  }
  return started;
}

bool stop_requested(const fs::path& dir) { return fs::exists(fs::absolute(dir) / "run" / "stop-request"); }

Result<std::vector<std::string>> teardown(const fs::path& dir_in) {
  const fs::path dir = fs::absolute(dir_in);
  const fs::path run = dir / "run";
  std::vector<std::string> stopped;
  std::error_code ec;
  const auto recorded = read_line(run / "pidns");
  auto running = [&] {
    std::vector<std::string> names;
    for (const auto& s : services)
      if (fs::exists(run / (std::string(s.name) + ".pid"))) names.emplace_back(s.name);
    return names;
  };
  if (!recorded.empty() && recorded != pid_namespace() && !running().empty()) {
    // Another container's services: ask its supervisor, which removes the pid files as it stops them.
    const auto before = running();
    if (auto w = replace_private_file(run / "stop-request", "teardown\n"); !w) return std::unexpected(w.error());
    // The supervisor polls every 200 ms and gives each service 5 s before SIGKILL.
    for (auto waited = 0ms; waited < 20s && !running().empty(); waited += 100ms) std::this_thread::sleep_for(100ms);
    if (!running().empty()) {
      fs::remove(run / "stop-request", ec);
      return fail(ErrorKind::io, "the services in " + dir.string() + " run in another container (PID namespace " +
                                     recorded +
                                     ") and nothing there took the stop request: stop that container (docker stop), "
                                     "or run `serve` there with --foreground so teardown can reach it");
    }
    fs::remove(run / "stop-request", ec);
    return before;
  }
  for (const auto& s : services) {
    auto pidfile = run / (std::string(s.name) + ".pid");
    if (!fs::exists(pidfile)) continue;
    int pid = std::atoi(read_line(pidfile).c_str());
    // Only a process still running our program: the pid may have been reused since.
    if (alive(pid) && cmdline_of(pid).find(s.marker) != std::string::npos) {
      stop_pid(pid);
      if (alive(pid))
        return fail(ErrorKind::io, std::string("cannot stop ") + s.name + " (pid " + std::to_string(pid) + ")");
      stopped.emplace_back(s.name);
    }
    fs::remove(pidfile, ec);
  }
  fs::remove(run / "stop-request", ec);
  return stopped;
}

}  // namespace nodeboot::plugin::cluster
