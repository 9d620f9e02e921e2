#include "nodeboot/kube/auth.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/file.hpp"

namespace nodeboot::kube {
namespace {

namespace fs = std::filesystem;

// client-go's cachingTokenSource re-reads a token file at most once a minute: rotated
// service-account tokens are picked up without a file read per request.
constexpr auto kTokenFilePeriod = std::chrono::minutes(1);

// RFC 3339 (what metav1.Time serialises to): 2006-01-02T15:04:05Z, optional fraction and offset.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto i = static_cast<std::size_t>(consumed);
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    }
  long offset = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int h = 0, m = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &h, &m) != 2) return std::nullopt;
    offset = (s[i] == '+' ? 1 : -1) * (h * 3600L + m * 60L);
  } else if (i >= s.size() || (s[i] != 'Z' && s[i] != 'z')) {
    return std::nullopt;
  }
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  // system_clock counts nanoseconds in 64 bits, which ends in 2262: "far future" is enough.
  constexpr std::time_t kYear2200 = 7258118400;
  return std::chrono::system_clock::from_time_t(std::min(t - offset, kYear2200));
}

struct Spawned {
  int exit_code = -1;
  std::string out;
};

// stdout captured, stderr passed through (the plugin talks to the user, as with kubectl),
// stdin passed through only in interactive mode.
Result<Spawned> spawn_plugin(const std::string& command, const std::vector<std::string>& args,
                             const std::vector<std::string>& env, bool interactive, int& spawn_errno) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return fail(ErrorKind::io, std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  if (!interactive) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(command.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  // posix_spawnp searches PATH only for names without a '/', as exec.Command does.
  spawn_errno = posix_spawnp(&pid, command.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  if (spawn_errno != 0) {
    close(out_pipe[0]);
    return fail(ErrorKind::io, std::strerror(spawn_errno));
  }
  Spawned s;
  char buf[4096];
  for (ssize_t n; (n = read(out_pipe[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    s.out.append(buf, static_cast<std::size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  s.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return s;
}

}  // namespace

Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const RestConfig& config) {
  const std::string who = "exec plugin for user \"" + config.user_name + "\" in " + config.source.string();
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1")
    return fail(ErrorKind::config, who + ": users[" + config.user_name + "].exec.apiVersion \"" + exec.api_version +
                                       "\" is not client.authentication.k8s.io/v1 or v1beta1");
  std::string mode = exec.interactive_mode;
  if (mode.empty()) {
    if (exec.api_version == "client.authentication.k8s.io/v1")
      return fail(ErrorKind::config, who + ": users[" + config.user_name +
                                         "].exec.interactiveMode must be set (Never, IfAvailable or Always) for v1");
    mode = "IfAvailable";
  }
  // client-go: interactive when the mode allows it and stdin is a terminal.
  const bool tty = isatty(0) == 1;
  if (mode == "Always" && !tty)
    return fail(ErrorKind::config, who + ": interactiveMode is Always but standard input is not a terminal");
  const bool interactive = mode != "Never" && tty;

  nlohmann::json info = {
      {"apiVersion", exec.api_version}, {"kind", "ExecCredential"}, {"spec", {{"interactive", interactive}}}};
  if (exec.provide_cluster_info) {
    nlohmann::json cluster = {{"server", config.server}};
    if (!config.tls_server_name.empty()) cluster["tls-server-name"] = config.tls_server_name;
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    if (!config.ca_pem.empty()) cluster["certificate-authority-data"] = base64_encode(config.ca_pem);
    if (!config.proxy_url.empty()) cluster["proxy-url"] = config.proxy_url;
    if (config.disable_compression) cluster["disable-compression"] = true;
    if (!exec.cluster_config.empty()) cluster["config"] = nlohmann::json::parse(exec.cluster_config);
    info["spec"]["cluster"] = cluster;
  }

  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    std::string_view name = kv.substr(0, kv.find('='));
    bool overridden = name == "KUBERNETES_EXEC_INFO";
    for (const auto& [k, v] : exec.env) overridden = overridden || k == name;
    if (!overridden) env.emplace_back(kv);
  }
  for (const auto& [k, v] : exec.env) env.push_back(std::string(k).append("=").append(v));
  env.push_back("KUBERNETES_EXEC_INFO=" + info.dump());

  std::string command = exec.command;
  if (command.find('/') != std::string::npos && fs::path(command).is_relative())
    command = (exec.base_dir / command).lexically_normal().string();
  int spawn_errno = 0;
  auto ran = spawn_plugin(command, exec.args, env, interactive, spawn_errno);
  if (!ran) {
    if (spawn_errno == ENOENT) {
      std::string msg = who + ": executable " + command + " not found";
      if (!exec.install_hint.empty())
        msg += "; it looks like you are trying to use a client-go credential plugin that is not installed: " +
               exec.install_hint;
      return fail(ErrorKind::config, msg);
    }
    return fail(ErrorKind::config, who + ": cannot run " + command + ": " + ran.error().message);
  }
  if (ran->exit_code != 0)
    return fail(ErrorKind::config, who + ": " + command + " failed with exit code " + std::to_string(ran->exit_code));

  // Never quote the output: it may hold a token.
  auto doc = nlohmann::json::parse(ran->out, nullptr, false);
  if (!doc.is_object() || doc.value("kind", "") != "ExecCredential")
    return fail(ErrorKind::config, who + ": " + command + " did not print an ExecCredential object as JSON");
  const std::string got_version = doc["apiVersion"].is_string() ? doc["apiVersion"].get<std::string>() : "";
  if (got_version != exec.api_version)
    return fail(ErrorKind::config, who + ": the plugin is configured for " + exec.api_version +
                                       " but printed apiVersion \"" + got_version + "\"");
  const auto& status = doc["status"];
  if (!status.is_object()) return fail(ErrorKind::config, who + ": the ExecCredential has no status");
  ExecCredential cred;
  auto field = [&](const char* key) -> std::string {
    auto it = status.find(key);
    return it != status.end() && it->is_string() ? it->get<std::string>() : "";
  };
  cred.token = Secret(field("token"));
  cred.client_cert_pem = field("clientCertificateData");
  cred.client_key_pem = Secret(field("clientKeyData"));
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty())
    return fail(ErrorKind::config, who + ": status.clientCertificateData and status.clientKeyData must come together");
  if (cred.token.empty() && cred.client_cert_pem.empty())
    return fail(ErrorKind::config, who + ": status has neither token nor clientCertificateData");
  if (std::string exp = field("expirationTimestamp"); !exp.empty()) {
    cred.expires = parse_rfc3339(exp);
    if (!cred.expires)
      return fail(ErrorKind::config, who + ": status.expirationTimestamp \"" + exp + "\" is not an RFC 3339 time");
  }
  return cred;
}

Authenticator::Authenticator(const RestConfig& config) : config_(config) {}

bool Authenticator::refreshable() const noexcept { return config_.exec.has_value() || !config_.token_file.empty(); }

Result<Credentials> Authenticator::current(bool refresh) {
  Credentials c;
  c.client_cert_pem = config_.client_cert_pem;
  c.client_key_pem = config_.client_key_pem;
  c.basic_user = config_.username;
  c.basic_password = config_.password;
  c.bearer_token = config_.bearer_token;
  std::lock_guard lock(mu_);
  if (!config_.token_file.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (refresh || !file_token_ || now - file_read_ >= kTokenFilePeriod) {
      auto t = read_token_file(config_.token_file);
      // client-go keeps serving the last good token when a re-read fails.
      if (t) {
        file_token_ = std::move(*t);
        file_read_ = now;
      } else if (!file_token_ && config_.bearer_token.empty()) {
        return std::unexpected(t.error());
      }
    }
    if (file_token_) c.bearer_token = *file_token_;
  }
  if (config_.exec) {
    const bool expired = exec_ && exec_->expires && std::chrono::system_clock::now() >= *exec_->expires;
    if (refresh || !exec_ || expired) {
      auto cred = run_exec_plugin(*config_.exec, config_);
      if (!cred) return std::unexpected(cred.error());
      exec_ = std::move(*cred);
    }
    if (!exec_->token.empty()) c.bearer_token = exec_->token;
    if (!exec_->client_cert_pem.empty()) {
      c.client_cert_pem = exec_->client_cert_pem;
      c.client_key_pem = exec_->client_key_pem;
    }
  }
  return c;
}

}  // namespace nodeboot::kube
