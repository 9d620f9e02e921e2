#include "nodeboot/test/support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

namespace nodeboot::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "nodeboot-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& content) const {
  fs::path p = path_ / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

fs::path source_dir() { return NODEBOOT_SOURCE_DIR; }
fs::path bin_dir() { return NODEBOOT_BIN_DIR; }

std::string path_with_bin_dir() {
  const char* path = std::getenv("PATH");
  return bin_dir().string() + ":" + (path ? path : "/usr/bin:/bin");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult run(const std::vector<std::string>& argv, const ProcessOptions& options) {
  auto r = run_process(argv, options);
  BOOST_REQUIRE_MESSAGE(r.has_value(), "cannot run " << argv.front() << ": " << (r ? "" : r.error().message));
  return *r;
}

ProcessResult Cluster::kubectl(const std::vector<std::string>& args, const std::string& stdin_data) const {
  // KUBECONFIG rather than --kubeconfig: kubectl refuses flags before a plugin's name.
  std::vector<std::string> argv{"kubectl"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions o;
  o.stdin_data = stdin_data;
  o.env_set["PATH"] = path_with_bin_dir();
  o.env_set["KUBECONFIG"] = kubeconfig.string();
  o.timeout = std::chrono::minutes(5);
  return run(argv, o);
}

std::string Cluster::kubectl_ok(const std::vector<std::string>& args, const std::string& stdin_data) const {
  auto r = kubectl(args, stdin_data);
  std::string joined;
  for (const auto& a : args) joined += " " + a;
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "kubectl" << joined << " exited " << r.exit_code << ": " << r.err);
  return r.out;
}

std::string Cluster::service_account_kubeconfig(const std::string& ns, const std::string& account) const {
  const std::string token = kubectl_ok({"create", "token", account, "-n", ns});
  const auto cfg = nlohmann::json::parse(kubectl_ok({"config", "view", "--raw", "--minify", "-o", "json"}));
  const auto& c = cfg["clusters"][0]["cluster"];
  const nlohmann::json kc = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters",
       {{{"name", "e2e"},
         {"cluster", {{"server", c["server"]}, {"certificate-authority-data", c["certificate-authority-data"]}}}}}},
      {"users", {{{"name", account}, {"user", {{"token", token.substr(0, token.find_last_not_of('\n') + 1)}}}}}},
      {"contexts", {{{"name", "e2e"}, {"context", {{"cluster", "e2e"}, {"user", account}}}}}},
      {"current-context", "e2e"}};
  return kc.dump();
}

const Cluster& cluster() {
  static const Cluster c = [] {
    const char* state = std::getenv("NODEBOOT_E2E_STATE");
    BOOST_REQUIRE_MESSAGE(state && *state, "NODEBOOT_E2E_STATE is not set: run e2e tests through ctest -L e2e");
    Cluster cl{state, fs::path(state) / "kubeconfig"};
    BOOST_REQUIRE_MESSAGE(fs::exists(cl.kubeconfig),
                          "no e2e cluster at " << state << " (tests/cluster/up.sh did not run)");
    return cl;
  }();
  return c;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 100000;
  return prefix + "-" + std::to_string(::getpid() % 100000) + "-" + std::to_string(salt) + "-" +
         std::to_string(counter++);
}

Background::Background(const std::vector<std::string>& argv, const fs::path& log) : log_(log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  BOOST_REQUIRE(pid_ >= 0);
  if (pid_ == 0) {                            // only async-signal-safe calls until exec: the test process has threads
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);       // fires when the forking thread ends: tests run on one thread
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

Background::~Background() { stop(SIGTERM); }

int Background::stop(int sig) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, sig);
  int status = 0;
  // 200 x 100 ms: 20 s for a clean exit before SIGKILL.
  for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (::waitpid(pid_, &status, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return status;
}

bool Background::exited() {
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

std::string Background::log() const { return read_file(log_); }

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
  ::close(fd);
  BOOST_REQUIRE(ok);
  return ntohs(sa.sin_port);
}

}  // namespace nodeboot::test
